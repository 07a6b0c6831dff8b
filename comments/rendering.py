"""Render a thread to HTML from the flat list ``tree.build_thread`` returns.

The markup is a contract (themes, tests and browser tests rely on it):

    <ol class="comment-list">
      <li id="comment-<pk>" class="comment depth-<d>"> … <ol class="children"> … </ol></li>
    </ol>

Rendered in Python with an explicit stack of open lists rather than a recursive
template: a 5,000-comment thread costs a few milliseconds and a chain of any
length cannot hit a recursion limit. Every reader-supplied value is escaped here;
bodies arrive as HTML already escaped by ``comments.text.render_comment_body``.
"""

from html import escape as _escape

from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comments.text import http_url
from comments.tree import AWAITING


def _reply_count_label(count):
    return ngettext("%(count)d reply", "%(count)d replies", count) % {"count": count}


class _DateText:
    """``created.isoformat()`` and ``F j, Y \\a\\t g:i a`` in the current time zone and language.

    The same text as ``dateformat.format``, which costs more than the rest of a
    comment's markup (it builds a formatter and translates per call): month names
    and a.m./p.m. are translated once per render here.
    """

    def __init__(self):
        self.tz = timezone.get_current_timezone()
        self.utc = timezone.get_current_timezone_name() == "UTC"
        self.months = {number: str(name) for number, name in MONTHS.items()}
        self.am, self.pm = _("a.m."), _("p.m.")

    def __call__(self, value):
        # Stored times are UTC: on a UTC site (the default) there is nothing to convert.
        local = value if self.utc and not value.utcoffset() else value.astimezone(self.tz)
        hour = local.hour
        text = (
            f"{self.months[local.month]} {local.day}, {local.year:04d} at "
            f"{hour % 12 or 12}:{local.minute:02d} {self.pm if hour > 11 else self.am}"
        )
        return local.isoformat(timespec="seconds"), text


class _ReplyCounts(dict):
    def __missing__(self, count):
        label = self[count] = _reply_count_label(count)
        return label


class _Escaped(dict):
    """Memoised ``html.escape`` (the same five characters as django.utils.html.escape,
    without the lazy-string wrapper): readers' names repeat down a thread."""

    def __missing__(self, value):
        escaped = self[value] = _escape(value)
        return escaped


def _author_html(node, name):
    url = http_url(node.author_url) if node.author_url else ""
    if url:
        href = _escape(url)
        return f'<a class="url" href="{href}" rel="external nofollow ugc noopener">{name}</a>'
    return name


def _comment_html(node, ctx):
    # One f-string per comment: this runs for every comment on the page.
    pk = node.pk
    prefix = ctx["permalink_prefix"]
    created_iso, created_text = ctx["dates"](node.created_at)
    pending = node.status in AWAITING
    name = ctx["escaped"][node.author_name]
    in_reply_to = (
        f' <span class="in-reply-to">{ctx["in_reply_to"]} '
        f'<a href="#comment-{node.parent_id}">{_escape(node.parent_name)}</a></span>'
        if node.parent_name
        else ""
    )
    edited = f' <span class="comment-edited">{ctx["edited"]}</span>' if node.edited_at else ""
    awaiting = (
        f'<p class="comment-awaiting-moderation" role="status">{ctx["awaiting"]}</p>'
        if node.own and pending
        else ""
    )
    reply = actions = ""
    if not pending:
        reply = (
            f'<a class="comment-reply-link" href="{ctx["article_url"]}?replyto={pk}#respond" '
            f'data-comment-id="{pk}" data-author="{name}">{ctx["reply"]}'
            f'<span class="visually-hidden"> {ctx["to"]} {name}</span></a>'
        )
        if not ctx["personal"]:
            actions = (
                f' <button type="submit" class="comment-report-button" form="comment-report-form" '
                f'formaction="{prefix}{pk}/report/">{ctx["report"]}'
                f'<span class="visually-hidden"> {ctx["comment_by"]} {name}</span></button>'
            )
    if ctx["personal"]:
        actions = _personal_actions_html(node, ctx)
    count = (
        f' <span class="comment-reply-count">{ctx["reply_counts"][node.reply_count]}</span>'
        if node.reply_count
        else ""
    )
    return (
        f'<article class="comment-body" aria-labelledby="comment-author-{pk}">'
        f'<header class="comment-meta"><span class="comment-author" id="comment-author-{pk}">'
        f"{_author_html(node, name)}</span>{in_reply_to}"
        f' <a class="comment-permalink" href="{prefix}{pk}/">'
        f'<time datetime="{created_iso}">{created_text}</time></a>{edited}</header>{awaiting}'
        f'<div class="comment-content">{node.body_html}</div>'
        f'<footer class="comment-actions">{reply}{count}{actions}</footer></article>'
    )


def _report_button_html(pk, ctx, *, reported):
    if reported:
        return (
            f' <button type="button" class="comment-report-button" disabled>{ctx["reported"]}'
            "</button>"
        )
    return (
        f' <button type="submit" class="comment-report-button" form="comment-report-form" '
        f'formaction="{ctx["permalink_prefix"]}{pk}/report/">{ctx["report"]}'
        f'<span class="visually-hidden"> {ctx["comment_by"]} {_escape(ctx["names"].get(pk, ""))}'
        "</span></button>"
    )


def _personal_actions_html(node, ctx):
    pk = node.pk
    html = []
    if node.own:
        if pk in ctx["editable_ids"]:
            html.append(
                f' <a class="comment-edit-link" href="{ctx["permalink_prefix"]}{pk}/edit/">'
                f"{ctx['edit']}</a>"
            )
        html.append(
            f' <a class="comment-withdraw-link" href="{ctx["permalink_prefix"]}{pk}/withdraw/">'
            f"{ctx['withdraw']}</a>"
        )
    elif not node.is_pending:
        html.append(_report_button_html(pk, ctx, reported=pk in ctx["reported_ids"]))
    return "".join(html)


def _placeholder_html(node, ctx):
    return f'<div class="comment-body"><p class="comment-removed">{ctx["removed"]}</p></div>'


def render_thread(shown, *, article_url, personal=False, editable_ids=(), reported_ids=()):
    """HTML of ``<ol class="comment-list">`` for the shown nodes (display order)."""
    ctx = {
        "article_url": escape(article_url),
        "permalink_prefix": reverse("comments:permalink", kwargs={"pk": 0})[:-2],
        "dates": _DateText(),
        "reply_counts": _ReplyCounts(),
        "escaped": _Escaped(),
        "personal": personal,
        "editable_ids": set(editable_ids),
        "reported_ids": set(reported_ids),
        "names": {node.pk: node.author_name for node in shown if node.visible},
        "reply": _("Reply"),
        "to": _("to"),
        "report": _("Report"),
        "reported": _("Reported"),
        "comment_by": _("comment by"),
        "edit": _("Edit"),
        "withdraw": _("Withdraw"),
        "edited": _("edited"),
        "awaiting": _("Your comment is awaiting moderation."),
        "removed": _("This comment was removed."),
        "in_reply_to": _("in reply to"),
        "hide_replies": _("Hide replies"),
    }
    out = ['<ol class="comment-list">']
    open_depth = 0  # depth of the innermost <li> still open
    last_pk = None
    for node in shown:
        depth = node.depth
        if depth > open_depth:
            # One level deeper than the open <li>: open its list of replies.
            if open_depth:
                out.append(f'<ol class="children" id="replies-{last_pk}">')
        else:
            out.append("</li>")
            for _level in range(open_depth - depth):
                out.append("</ol></li>")
        classes = f"comment depth-{depth}"
        if node.is_placeholder:
            classes = f"comment placeholder depth-{depth}"
        elif node.own and node.is_pending:
            classes += " pending"
        out.append(f'<li id="comment-{node.pk}" class="{classes}">')
        out.append(
            _placeholder_html(node, ctx) if node.is_placeholder else _comment_html(node, ctx)
        )
        if depth == 1 and node.reply_count:
            out.append(
                f'<button type="button" class="thread-toggle" aria-expanded="true" '
                f'aria-controls="replies-{node.pk}" data-hidden-count="{node.reply_count}" hidden>'
                f"{ctx['hide_replies']}</button>"
            )
        open_depth = depth
        last_pk = node.pk
    if open_depth:
        out.append("</li>")
        for _level in range(open_depth - 1):
            out.append("</ol></li>")
    out.append("</ol>")
    return "".join(out)
