"""Render a thread to HTML from the flat list ``tree.build_thread`` returns.

The markup is a contract (themes, tests and browser tests rely on it):

    <ol class="comment-list">
      <li id="comment-<pk>" class="comment depth-<d>"> … <ol class="children"> … </ol></li>
    </ol>

Rendered in Python with an explicit stack of open lists rather than a recursive
template: a 5,000-comment thread costs a few milliseconds and a chain of any
length cannot hit a recursion limit. Every reader-supplied value is escaped here;
bodies arrive as HTML already escaped by ``comments.text.render_comment_body``.

This runs for every comment on a page, so everything that is the same for the
whole page (translated labels, URL prefixes, month names) is prepared once in
``ThreadRenderer.__init__`` and each comment costs one f-string.
"""

from datetime import UTC, datetime
from html import escape as _escape

from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comments.text import http_url
from comments.tree import AWAITING

# One-time notices shown to a reader at their own comment (``threads.Viewer.notices``).
NOTICE_UPDATED = "updated"  # their edit was saved and the comment keeps its status
NOTICE_HELD = "held"  # their edit went to moderation (held; to them, spam looks held too)


def _reply_count_label(count):
    return ngettext("%(count)d reply", "%(count)d replies", count) % {"count": count}


def _is_utc_text(value):
    """SQLite's stored ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (always UTC) or PostgreSQL's
    text of a timestamptz in a UTC session (``…+00``)."""
    return len(value) in (19, 26) or value.endswith("+00")


class _DateText:
    """``(isoformat, "F j, Y \\a\\t g:i a")`` of a stored time, in the current time zone
    and language.

    The same text as ``dateformat.format``, which costs more than the rest of a
    comment's markup (it builds a formatter and translates per call): month names
    and a.m./p.m. are translated once per render here. Values are datetimes or the
    database's UTC text of one, which on a UTC site (the default) is sliced into both
    texts without being parsed; any other text is parsed.
    """

    def __init__(self):
        self.tz = timezone.get_current_timezone()
        self.utc = timezone.get_current_timezone_name() == "UTC"
        am, pm = _("a.m."), _("p.m.")
        self.months = {f"{number:02d}": str(name) for number, name in MONTHS.items()}
        self.days = {f"{day:02d}": str(day) for day in range(1, 32)}
        # "13" -> ("1", "p.m."): the 12-hour clock and its suffix, by stored hour.
        self.texts = {}
        self.hours = {
            f"{hour:02d}": (str(hour % 12 or 12), pm if hour > 11 else am) for hour in range(24)
        }

    def __call__(self, value):
        if isinstance(value, str):
            if self.utc and value[10:11] == " " and value[13:14] == ":" and _is_utc_text(value):
                minute = value[:16]  # comments posted in the same minute share the text
                text = self.texts.get(minute)
                if text is None:
                    hour, suffix = self.hours[value[11:13]]
                    text = self.texts[minute] = (
                        f"{self.months[value[5:7]]} {self.days[value[8:10]]}, {value[:4]} at "
                        f"{hour}:{value[14:16]} {suffix}"
                    )
                return f"{value[:10]}T{value[11:19]}+00:00", text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # stored times are UTC
        # On a UTC site there is nothing to convert.
        local = value if self.utc and not value.utcoffset() else value.astimezone(self.tz)
        hour, suffix = self.hours[f"{local.hour:02d}"]
        return (
            local.isoformat(timespec="seconds"),
            f"{self.months[f'{local.month:02d}']} {local.day}, {local.year:04d} at "
            f"{hour}:{local.minute:02d} {suffix}",
        )


class _ReplyCounts(dict):
    def __missing__(self, count):
        label = self[count] = (
            f' <span class="comment-reply-count">{_reply_count_label(count)}</span>'
        )
        return label


class _Escaped(dict):
    """Memoised ``html.escape`` (the same five characters as django.utils.html.escape,
    without the lazy-string wrapper): readers' names repeat down a thread."""

    def __missing__(self, value):
        escaped = self[value] = _escape(value)
        return escaped


class ThreadRenderer:
    """One page's thread: the page-wide parts prepared once, then a string per comment."""

    def __init__(
        self,
        *,
        article_url,
        personal=False,
        editable_ids=(),
        reported_ids=(),
        names=None,
        notices=None,
        page_query="",
    ):
        self.article_url = escape(article_url)
        self.prefix = reverse("comments:permalink", kwargs={"pk": 0})[:-2]
        self.personal = personal
        self.editable_ids = set(editable_ids)
        self.reported_ids = set(reported_ids)
        self.names = names or {}
        self.notices = notices or {}
        self.dates = _DateText()
        self.reply_counts = _ReplyCounts()
        self.escaped = _Escaped()
        # The constant parts of the reply link and report button, around pk and name.
        # ``page_query`` keeps the comments page and sort, so the reply form (without
        # JavaScript) opens on the page that shows the comment answered.
        page_params = f"{escape(page_query)}&amp;" if page_query else ""
        self.reply_link = (
            f'<a class="comment-reply-link" href="{self.article_url}?{page_params}replyto='
        )
        self.reply_to = f'{_("Reply")}<span class="visually-hidden"> {_("to")} '
        # A link to the report page (GET, which stores nothing): works without JavaScript.
        self.report_link = ' <a class="comment-report-button" rel="nofollow" href="'
        self.report_by = f'{_("Report")}<span class="visually-hidden"> {_("comment by")} '
        self.reported = _("Reported")
        self.edit = _("Edit")
        self.withdraw = _("Withdraw")
        self.edited = f' <span class="comment-edited">{_("edited")}</span>'
        self.awaiting = (
            '<p class="comment-awaiting-moderation" role="status">'
            f"{_('Your comment is awaiting moderation.')}</p>"
        )
        self.notice_texts = {
            NOTICE_UPDATED: _("Your comment was updated."),
            NOTICE_HELD: _("Your edit is awaiting moderation."),
        }
        self.placeholder = (
            f'<div class="comment-body"><p class="comment-removed">{_("This comment was removed.")}'
            "</p></div>"
        )
        # Back in the queue (readers' reports sent it there): not gone for good.
        self.placeholder_pending = (
            '<div class="comment-body"><p class="comment-awaiting-review">'
            f"{_('This comment is awaiting review.')}</p></div>"
        )
        self.in_reply_to = _("in reply to")
        # The toggle's two labels; the "N replies" beside it already gives the count.
        self.hide_replies = escape(_("Hide replies"))
        self.show_replies = escape(_("Show replies"))

    # --- one comment ------------------------------------------------------------
    def author_html(self, node, name):
        url = http_url(node.author_url) if node.author_url else ""
        if url:
            href = _escape(url)
            return f'<a class="url" href="{href}" rel="external nofollow ugc noopener">{name}</a>'
        return name

    def comment_html(self, node):
        pk = str(node.pk)
        prefix = self.prefix
        created_iso, created_text = self.dates(node.created_at)
        pending = node.status in AWAITING
        name = self.escaped[node.author_name]
        in_reply_to = (
            f' <span class="in-reply-to">{self.in_reply_to} '
            f'<a href="#comment-{node.parent_id}">{_escape(node.parent_name)}</a></span>'
            if node.parent_name
            else ""
        )
        reply = actions = ""
        if not pending:
            reply = (
                f"{self.reply_link}{pk}#respond"
                f'" data-comment-id="{pk}" data-author="{name}">{self.reply_to}{name}</span></a>'
            )
            if not self.personal:
                actions = (
                    f'{self.report_link}{prefix}{pk}/report/">{self.report_by}{name}</span></a>'
                )
        if self.personal:
            actions = self.personal_actions_html(node)
        return (
            f'<article class="comment-body" aria-labelledby="comment-author-{pk}">'
            f'<header class="comment-meta"><span class="comment-author" id="comment-author-{pk}">'
            f"{self.author_html(node, name) if node.author_url else name}</span>{in_reply_to}"
            f' <a class="comment-permalink" href="{prefix}{pk}/">'
            f'<time datetime="{created_iso}">{created_text}</time></a>'
            f"{self.edited if node.edited_at else ''}</header>"
            f"{self.status_html(node, pending) if node.own else ''}"
            f'<div class="comment-content">{node.body_html}</div>'
            f'<footer class="comment-actions">{reply}'
            f"{self.reply_counts[node.reply_count] if node.reply_count else ''}{actions}"
            "</footer></article>"
        )

    def status_html(self, node, pending):
        """What the reader is told at their own comment: awaiting moderation, and a
        one-time notice (after an edit); a held edit's notice says both."""
        notice = self.notices.get(node.pk)
        if notice is None:
            return self.awaiting if pending else ""
        held = notice == NOTICE_HELD
        html = (
            f'<p class="comment-notice{" comment-awaiting-moderation" if held else ""}" '
            f'id="comment-notice-{node.pk}" role="status">{self.notice_texts[notice]}</p>'
        )
        return html if held or not pending else html + self.awaiting

    def report_button_html(self, pk, name, *, reported=False):
        if reported:
            return (
                f' <button type="button" class="comment-report-button" disabled>{self.reported}'
                "</button>"
            )
        return f'{self.report_link}{self.prefix}{pk}/report/">{self.report_by}{name}</span></a>'

    def personal_actions_html(self, node):
        pk = node.pk
        if node.own:
            html = []
            if pk in self.editable_ids:
                html.append(
                    f' <a class="comment-edit-link" href="{self.prefix}{pk}/edit/">{self.edit}</a>'
                )
            html.append(
                f' <a class="comment-withdraw-link" href="{self.prefix}{pk}/withdraw/">'
                f"{self.withdraw}</a>"
            )
            return "".join(html)
        if node.status in AWAITING:
            return ""
        return self.report_button_html(
            pk, _escape(self.names.get(pk, "")), reported=pk in self.reported_ids
        )

    # --- the list ---------------------------------------------------------------
    def render(self, shown):
        """HTML of ``<ol class="comment-list">`` for the shown nodes (display order)."""
        comment_html = self.comment_html
        placeholder = self.placeholder
        placeholder_pending = self.placeholder_pending
        hide_replies = self.hide_replies
        show_replies = self.show_replies
        out = ['<ol class="comment-list">']
        append = out.append
        open_depth = 0  # depth of the innermost <li> still open
        last_pk = None
        for node in shown:
            depth = node.depth
            if depth > open_depth:
                # One level deeper than the open <li>: open its list of replies.
                if open_depth:
                    append(f'<ol class="children" id="replies-{last_pk}">')
            elif depth == open_depth:
                append("</li>")
            else:
                append("</li>" + "</ol></li>" * (open_depth - depth))
            pk = node.pk
            if not node.visible:  # shown, not visible: a placeholder keeping its replies
                append(f'<li id="comment-{pk}" class="comment placeholder depth-{depth}">')
                append(placeholder_pending if node.status == "pending" else placeholder)
            else:
                pending = " pending" if node.own and node.status in AWAITING else ""
                append(f'<li id="comment-{pk}" class="comment depth-{depth}{pending}">')
                append(comment_html(node))
            if depth == 1 and node.reply_count:
                append(
                    f'<button type="button" class="thread-toggle" aria-expanded="true" '
                    f'aria-controls="replies-{pk}" data-hidden-count="{node.reply_count}" '
                    f'data-show-label="{show_replies}" hidden>{hide_replies}</button>'
                )
            open_depth = depth
            last_pk = pk
        if open_depth:
            append("</li>" + "</ol></li>" * (open_depth - 1))
        append("</ol>")
        return "".join(out)


def render_thread(
    shown,
    *,
    article_url,
    personal=False,
    editable_ids=(),
    reported_ids=(),
    notices=None,
    page_query="",
):
    """HTML of ``<ol class="comment-list">`` for the shown nodes (display order)."""
    names = {node.pk: node.author_name for node in shown if node.visible} if personal else None
    return ThreadRenderer(
        article_url=article_url,
        personal=personal,
        editable_ids=editable_ids,
        reported_ids=reported_ids,
        names=names,
        notices=notices,
        page_query=page_query,
    ).render(shown)
