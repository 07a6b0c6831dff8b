"""Render a thread from the templates a site can override (Jinja2, docs/theming.md).

``comments/thread.html`` gets the page's comments as a flat list in display order
(``tree.build_thread``), each item saying how many open comments end before it and
whether it opens a reply list, so nesting needs no recursion and a chain of any length
renders. ``comments/comment.html`` is rendered once per comment with the comment, its
depth and what the reader may do with it. The markup is a contract (themes, tests and
comments.js rely on it):

    <ol class="comment-list">
      <li id="comment-<pk>" class="comment depth-<d>"> … <ol class="children"> … </ol></li>
    </ol>

Everything the same for the whole page (URL prefixes, the reply count labels, the
templates' globals) is prepared once per render, the templates' ``_("…")`` once per
language (``site_config.jinja2``) and the times' text once per minute
(``CommentTimes``). Why Jinja2 and these shortcuts, with the figures:
docs/performance.md.
"""

from dataclasses import dataclass

from django.template import engines
from django.urls import reverse
from django.utils import dateformat, formats, timezone
from django.utils.translation import ngettext
from markupsafe import Markup

from comments.text import http_url
from comments.tree import AWAITING

ENGINE = "jinja2"  # the name of the Jinja2 engine in TEMPLATES
THREAD_TEMPLATE = "comments/thread.html"
COMMENT_TEMPLATE = "comments/comment.html"

# One-time notices shown to a reader at their own comment (``threads.Viewer.notices``).
NOTICE_UPDATED = "updated"  # their edit was saved and the comment keeps its status
NOTICE_HELD = "held"  # their edit went to moderation (held; to them, spam looks held too)


@dataclass(slots=True)
class Item:
    """One comment's place in ``comments/thread.html``."""

    comment: object  # the tree.Node
    depth: int
    html: Markup  # comments/comment.html rendered for it
    opens: bool = False  # the first reply of the comment before it: opens its reply list
    ends: int = 0  # open comments that end before it (their </li>, with their reply lists)
    is_own_pending: bool = False


class _ReplyCountLabels(dict):
    def __missing__(self, count):
        label = self[count] = ngettext("%(count)d reply", "%(count)d replies", count) % {
            "count": count
        }
        return label


def _url_parts(name):
    """``(before, after)`` the pk in the URL named ``name``, so a page's links cost an
    f-string each rather than a ``reverse()``."""
    before, after = reverse(name, kwargs={"pk": 987654321}).split("987654321")
    return before, after


# What each of Django's date format characters depends on (django.utils.dateformat),
# as an index into CommentTimes' keys: 0 the day, 1 the hour, 2 the minute of the
# day, 3 the second of the day.
_DEPENDS_ON = {
    **dict.fromkeys("bdDEFjlLmMnNoStwWyYz", 0),
    **dict.fromkeys("aAgGhH", 1),
    **dict.fromkeys("fiP", 2),
    "s": 3,
}


class CommentTimes:
    """``(isoformat, text)`` of stored times, in the current time zone and language.

    The text is ``date_format(localtime(value), "DATETIME_FORMAT")``: the locale's
    format, each piece written by Django's own ``dateformat``. But each piece is
    computed once per render for each value of what it depends on (the day for
    "F j, Y", the hour for "g a", the minute for "i"), and the whole text once per
    minute (comments posted in the same minute share it), not once per comment: a
    whole ``date_format`` call costs more than the rest of a comment's markup
    (docs/performance.md). A format with a character that depends on the instant
    itself (microseconds, the zone's name or offset, "c", "r", "U") is formatted whole
    for every value.
    """

    def __init__(self, date_format=None):
        """``date_format``: a format string instead of the locale's DATETIME_FORMAT."""
        self.zone = timezone.get_current_timezone()
        self.format = date_format or formats.get_format("DATETIME_FORMAT")
        parts = dateformat.re_formatchars.split(self.format)
        chars = parts[1::2]
        self.whole = not all(char in _DEPENDS_ON for char in chars)
        # The finest key the text depends on (the minute, or the second with "s").
        self.finest = max((_DEPENDS_ON.get(char, 0) for char in chars), default=0)
        # Literal text (escapes undone, as Django does), or (char, key index, {key: text}).
        self.pieces = [
            (part, _DEPENDS_ON[part], {}) if index % 2 else dateformat.re_escaped.sub(r"\1", part)
            for index, part in enumerate(parts)
            if part and not self.whole
        ]
        self.texts = {}  # (day, finest key): text

    def __call__(self, value):
        local = timezone.localtime(value, self.zone)
        iso = local.isoformat(timespec="seconds")
        if self.whole:
            return iso, dateformat.format(local, self.format)
        minute = local.hour * 60 + local.minute
        keys = (local.toordinal(), local.hour, minute, minute * 60 + local.second)
        text = self.texts.get((keys[0], keys[self.finest]))
        if text is None:
            text = self.texts[keys[0], keys[self.finest]] = self.text(local, keys)
        return iso, text

    def text(self, local, keys):
        text = []
        for piece in self.pieces:
            if piece.__class__ is str:
                text.append(piece)
                continue
            char, depends_on, known = piece
            part = known.get(keys[depends_on])
            if part is None:
                part = known[keys[depends_on]] = dateformat.format(local, char)
            text.append(part)
        return "".join(text)


def _renderer(template):
    """``render(context)`` of a Jinja2 ``template`` whose globals are merged once per
    page. ``Template.render`` merges them again on every call, which for a small
    template rendered once per comment is a quarter of its cost."""
    base = dict(template.globals)
    root, new_context = template.root_render_func, template.new_context

    def render(context):
        try:
            return Markup("".join(root(new_context({**base, **context}, shared=True))))
        except Exception:
            return template.environment.handle_exception()  # template lines in the traceback

    return render


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
    """HTML of ``<ol class="comment-list">`` for the shown nodes (display order).

    ``personal``: the reader has comments, reports or notices of their own on the page
    (their permissions then come from ``editable_ids``, ``reported_ids`` and
    ``notices``); otherwise every comment gets the public links.
    """
    # The active language's templates, their _("…") translated once (site_config.jinja2).
    env = engines[ENGINE].env.localized()
    render_comment = _renderer(env.get_template(COMMENT_TEMPLATE))
    editable_ids, reported_ids = set(editable_ids), set(reported_ids)
    notices = notices or {}
    permalink = _url_parts("comments:permalink")[0]
    edit, withdraw, report = (
        _url_parts(f"comments:{name}") for name in ("edit", "withdraw", "report")
    )
    # ``page_query`` keeps the comments page and sort, so the reply form (without
    # JavaScript) opens on the page that shows the comment answered.
    reply_prefix = (
        f"{article_url}?{page_query}&replyto=" if page_query else f"{article_url}?replyto="
    )
    reply_counts = _ReplyCountLabels()
    times = CommentTimes()
    items = []
    open_depth = 0  # depth of the innermost <li> still open
    for node in shown:
        pk, depth, own = node.pk, node.depth, node.own
        is_own_pending = own and node.status in AWAITING
        if not node.visible:  # shown, not visible: a placeholder keeping its replies
            context = {"comment": node, "depth": depth}
        else:
            created_iso, created_text = times(node.created_at)
            public = not is_own_pending  # visible, not held: it can be answered
            reported = public and not own and pk in reported_ids
            context = {
                "comment": node,
                "depth": depth,
                "author_url": http_url(node.author_url) if node.author_url else "",
                "permalink": f"{permalink}{pk}/",
                "created_iso": created_iso,
                "created_text": created_text,
                "reply_count_label": reply_counts[node.reply_count] if node.reply_count else "",
                "can_reply": public,
                "can_edit": own and pk in editable_ids,
                "can_withdraw": own,
                "can_report": public and not own and not reported,
                "has_reported": reported,
                "is_own_pending": is_own_pending,
                "notice": notices.get(pk) if own else None,
            }
            # Each link only where the reader may follow it.
            if public:
                context["reply_url"] = f"{reply_prefix}{pk}#respond"
            if context["can_report"]:
                context["report_url"] = f"{report[0]}{pk}{report[1]}"
            if own:
                context["withdraw_url"] = f"{withdraw[0]}{pk}{withdraw[1]}"
            if context["can_edit"]:
                context["edit_url"] = f"{edit[0]}{pk}{edit[1]}"
        opens = bool(open_depth) and depth > open_depth
        items.append(
            Item(
                comment=node,
                depth=depth,
                html=render_comment(context),
                opens=opens,
                ends=0 if opens or not open_depth else open_depth - depth + 1,
                is_own_pending=is_own_pending,
            )
        )
        open_depth = depth
    render_list = _renderer(env.get_template(THREAD_TEMPLATE))
    return str(render_list({"items": items, "last_ends": open_depth}))
