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

from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comments.text import http_url


def _reply_count_label(count):
    return ngettext("%(count)d reply", "%(count)d replies", count) % {"count": count}


def _author_html(node):
    name = escape(node.author_name)
    url = http_url(node.author_url)
    if url:
        return f'<a class="url" href="{escape(url)}" rel="external nofollow ugc noopener">{name}</a>'
    return name


def _comment_html(node, ctx):
    pk = node.pk
    created = timezone.localtime(node.created_at)
    parts = [
        '<article class="comment-body" aria-labelledby="comment-author-',
        str(pk),
        '"><header class="comment-meta"><span class="comment-author" id="comment-author-',
        str(pk),
        '">',
        _author_html(node),
        "</span>",
    ]
    if node.parent_name:
        parts.append(
            f' <span class="in-reply-to">{ctx["in_reply_to"]} '
            f'<a href="#comment-{node.parent_id}">{escape(node.parent_name)}</a></span>'
        )
    parts.append(
        f' <a class="comment-permalink" href="{ctx["permalink_prefix"]}{pk}/">'
        f'<time datetime="{created.isoformat()}">{dateformat.format(created, ctx["date_format"])}'
        "</time></a>"
    )
    if node.edited_at:
        parts.append(f' <span class="comment-edited">{ctx["edited"]}</span>')
    parts.append("</header>")
    if node.own and node.is_pending:
        parts.append(f'<p class="comment-awaiting-moderation" role="status">{ctx["awaiting"]}</p>')
    parts.append(f'<div class="comment-content">{node.body_html}</div>')
    parts.append('<footer class="comment-actions">')
    if not node.is_pending:
        name = escape(node.author_name)
        parts.append(
            f'<a class="comment-reply-link" href="{ctx["article_url"]}?replyto={pk}#respond" '
            f'data-comment-id="{pk}" data-author="{name}">{ctx["reply"]}'
            f'<span class="visually-hidden"> {ctx["to"]} {name}</span></a>'
        )
    if node.reply_count:
        parts.append(
            f' <span class="comment-reply-count">{_reply_count_label(node.reply_count)}</span>'
        )
    if ctx["personal"]:
        parts.append(_personal_actions_html(node, ctx))
    elif not node.is_pending:
        parts.append(_report_button_html(pk, ctx, reported=False))
    parts.append("</footer></article>")
    return "".join(parts)


def _report_button_html(pk, ctx, *, reported):
    if reported:
        return f' <button type="button" class="comment-report-button" disabled>{ctx["reported"]}</button>'
    return (
        f' <button type="submit" class="comment-report-button" form="comment-report-form" '
        f'formaction="{ctx["permalink_prefix"]}{pk}/report/">{ctx["report"]}'
        f'<span class="visually-hidden"> {ctx["comment_by"]} {escape(ctx["names"].get(pk, ""))}'
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
        "date_format": r"F j, Y \a\t g:i a",
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
        out.append(_placeholder_html(node, ctx) if node.is_placeholder else _comment_html(node, ctx))
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
