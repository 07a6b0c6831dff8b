"""Render a thread from the templates a site can override (Jinja2, docs/theming.md).

``comments/thread.html`` gets the page's comments as a flat list in display order
(``tree.build_thread``), each item saying how many open comments end before it and
whether it opens a reply list, so nesting needs no recursion and a chain of any length
renders. ``comments/comment.html`` renders one comment with the comment, its depth
and what the reader may do with it (``item.html``). The markup is a contract (themes,
tests and comments.js rely on it):

    <ol class="comment-list">
      <li id="comment-<pk>" class="comment depth-<d>"> … <ol class="children"> … </ol></li>
    </ol>

The whole thread is one template render: where thread.html prints ``{{ item.html }}``
in its ``{% for item in items %}``, it is compiled with comment.html in that place
(``inline_comments``), so each comment costs its markup and not a render of its own.
Everything the same for the whole page (URL prefixes, the reply count labels, the
templates' globals) is prepared once per render, the templates' ``_("…")`` once per
language (``site_config.jinja2``) and the times' text once per minute
(``CommentTimes``). Why Jinja2 and these shortcuts, with the figures:
docs/performance.md.

``comments/featured.html`` renders the article's editors' picks above the thread
(``render_featured``), and ``person_badges`` is the one rule for the "Author" and
"Staff" badges both templates show.

Each comment also gets its navigation (its parent's author, its thread's first comment,
the next thread) and each comment with a reply list its toggle's labels, from the same
pass over the comments, without a query (docs/readers.md, "Finding your way in a thread").
"""

from dataclasses import dataclass
from datetime import UTC, timedelta

from django.template import engines
from django.urls import reverse
from django.utils import dateformat, formats, timezone
from django.utils.translation import ngettext
from jinja2 import meta, nodes
from markupsafe import Markup

from comments import reactions
from comments.models import RemovalReason
from comments.text import http_url
from comments.tree import AWAITING

ENGINE = "jinja2"  # the name of the Jinja2 engine in TEMPLATES
THREAD_TEMPLATE = "comments/thread.html"
COMMENT_TEMPLATE = "comments/comment.html"
FEATURED_TEMPLATE = "comments/featured.html"
EXCERPT_CHARS = 300  # an editors' pick is quoted up to this length, then links on

# One-time notices shown to a reader at their own comment (``threads.Viewer.notices``).
NOTICE_UPDATED = "updated"  # their edit was saved and the comment keeps its status
NOTICE_HELD = "held"  # their edit went to moderation (held; to them, spam looks held too)

# What comments/comment.html receives (docs/theming.md), in the order of Item.values.
CONTEXT = (
    "comment",
    "depth",
    "author_url",
    "permalink",
    "created_iso",
    "created_text",
    "reply_count_label",
    "can_reply",
    "reply_url",
    "can_edit",
    "edit_url",
    "can_withdraw",
    "withdraw_url",
    "can_report",
    "report_url",
    "has_reported",
    "is_own_pending",
    "notice",
    "is_featured",
    "by_author",
    "by_staff",
    "profile_url",
    "can_react",
    "react_url",
    "reaction_label",
    "reaction_count",
    "reaction_pressed",
    "parent_author",
    "root_id",
    "next_thread_url",
)


@dataclass(slots=True)
class Item:
    """One comment's place in ``comments/thread.html``."""

    comment: object  # the tree.Node
    depth: int
    opens: bool = False  # the first reply of the comment before it: opens its reply list
    ends: int = 0  # open comments that end before it (their </li>, with their reply lists)
    is_own_pending: bool = False
    # What comments/comment.html receives for it: a value per name of ``Page.names``
    # (CONTEXT, then any other name the template reads, undefined).
    values: tuple = ()
    page: "Page" = None
    # The toggle of its reply list ("Hide 3 replies", "Show 3 replies"): set when the
    # next item opens that list, empty when it has none (no replies, or at the depth cap).
    hide_label: str = ""
    show_label: str = ""

    @property
    def html(self):
        """comments/comment.html rendered for it (safe HTML)."""
        return self.page.render_comment(self.values)


class _ReplyCountLabels(dict):
    def __missing__(self, count):
        label = self[count] = ngettext("%(count)d reply", "%(count)d replies", count) % {
            "count": count
        }
        return label


class _ToggleLabels(dict):
    """``(hide, show)``: a reply list's toggle labels, per number of replies."""

    def __missing__(self, count):
        values = {"count": count}
        labels = self[count] = (
            ngettext("Hide %(count)d reply", "Hide %(count)d replies", count) % values,
            ngettext("Show %(count)d reply", "Show %(count)d replies", count) % values,
        )
        return labels


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


_SECONDS = [f"{second:02d}" for second in range(60)]
_ONE_MINUTE = timedelta(minutes=1)
_MINUTE_END = timedelta(seconds=59, microseconds=999999)  # the last instant of a minute


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

    Times in UTC (as the ORM reads them) go faster still: every time of a UTC minute
    has the same local minute, offset and text, unless the zone's offset changes within
    that minute or is not whole minutes (old local mean times), which ``utc_minute``
    checks once per minute; then each time is converted on its own.
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
        self.known = {}  # (day, hour, minute, second or 0): (ISO text to the minute, text)
        self.offsets = {}  # UTC offset: its ISO text ("+01:00")
        self.by_minute = not self.whole and self.finest < 3
        # (day, hour, minute) in UTC: (ISO text to the minute, offset's ISO text, text),
        # or False where the times of that minute are converted one by one.
        self.utc_minutes = {}

    def __call__(self, value):
        if value.tzinfo is UTC and self.by_minute:
            minute = self.utc_minutes.get((value.toordinal(), value.hour, value.minute))
            if minute is None:
                minute = self.utc_minute(value)
            if minute:
                return minute[0] + _SECONDS[value.second] + minute[1], minute[2]
        return self.local(value)

    def utc_minute(self, value):
        """What the times of ``value``'s UTC minute share, or False (see the class)."""
        start = value.replace(second=0, microsecond=0)
        first, last = start.astimezone(self.zone), (start + _MINUTE_END).astimezone(self.zone)
        offset = first.utcoffset()
        shared = False
        if offset == last.utcoffset() and not offset % _ONE_MINUTE:
            iso, text = self.local(start)
            shared = (iso[:17], iso[19:], text)
        self.utc_minutes[value.toordinal(), value.hour, value.minute] = shared
        return shared

    def local(self, value):
        # Aware (as the ORM reads it); a naive time is refused, as localtime() does.
        tz = value.tzinfo
        local = value.astimezone(self.zone) if tz is not None else timezone.localtime(value)
        if self.whole:
            return local.isoformat(timespec="seconds"), dateformat.format(local, self.format)
        second = local.second
        key = (local.toordinal(), local.hour, local.minute, second if self.finest == 3 else 0)
        known = self.known.get(key)
        if known is None:
            minute = key[1] * 60 + key[2]
            text = self.text(local, (key[0], key[1], minute, minute * 60 + second))
            # The ISO text to the minute ("2026-11-23T23:56:"), and the text.
            known = self.known[key] = (local.isoformat(timespec="seconds")[:17], text)
        # The offset is not in the key: a local minute comes twice when DST ends.
        offset = local.utcoffset()
        zone = self.offsets.get(offset)
        if zone is None:
            zone = self.offsets[offset] = local.isoformat(timespec="seconds")[19:]
        return known[0] + _SECONDS[second] + zone, known[1]

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
    """``render(context)`` of a Jinja2 ``template``, for a ``context`` that already
    holds the template's globals (``template.globals``). ``Template.render`` merges
    them into a new dict on every call; this is Jinja2's documented low-level API
    (``new_context``, ``root_render_func``), with the same output."""
    root, new_context = template.root_render_func, template.new_context

    def render(context):
        try:
            return Markup("".join(root(new_context(context, shared=True))))
        except Exception:
            return template.environment.handle_exception()  # template lines in the traceback

    return render


# Nodes that make a comment template unfit to be compiled into another: they depend on
# being their own template (blocks) or pass the template's context on (includes).
_OWN_TEMPLATE_NODES = (nodes.Extends, nodes.Block, nodes.Include, nodes.Import, nodes.FromImport)
# Names that mean something else inside another template's loop: ``self``, and
# ``loop`` read outside the comment template's own loops.
_OWN_TEMPLATE_NAMES = {"self", "loop"}


def inline_comments(env, names):
    """``comments/thread.html`` compiled with ``comments/comment.html`` in place of each
    ``{{ item.html }}`` it prints directly in ``{% for item in items %}``, and the
    names the inlined template reads (``names``, then the others it reads, which it
    gets undefined as when rendered alone). ``(None, names)`` when there is no such
    place, or comment.html needs to be a template of its own (``_OWN_TEMPLATE_NODES``,
    ``_OWN_TEMPLATE_NAMES``), or the two do not compile together.

    In that place, the comment template's body runs in a scope of its own, with its
    names bound from ``item.values``; so it sees exactly what it would see rendered
    alone with the same context, and prints the same. Both files come through the
    loader, so a site's own templates are the ones combined.
    """
    comment_source, comment_file, _uptodate = env.loader.get_source(env, COMMENT_TEMPLATE)

    def comment_body():  # a fresh copy of its nodes for each place
        return env.parse(comment_source, COMMENT_TEMPLATE, comment_file).body

    comment = env.parse(comment_source, COMMENT_TEMPLATE, comment_file)
    reads = meta.find_undeclared_variables(comment)
    special = reads | {name.name for name in comment.find_all(nodes.Name) if name.name == "self"}
    if any(comment.find(kind) for kind in _OWN_TEMPLATE_NODES) or special & _OWN_TEMPLATE_NAMES:
        return None, names
    names = (*names, *sorted(reads - set(names)))
    source, filename, _uptodate = env.loader.get_source(env, THREAD_TEMPLATE)
    thread = env.parse(source, THREAD_TEMPLATE, filename)
    inlined = 0
    for loop in list(thread.find_all(nodes.For)):
        if (
            isinstance(loop.target, nodes.Name)
            and isinstance(loop.iter, nodes.Name)
            and loop.iter.name == "items"
        ):
            inlined += _inline_in(loop, loop.target.name, comment_body, names)
    if not inlined:
        return None, names
    thread.set_environment(env)
    try:
        code = env.compile(thread, THREAD_TEMPLATE, filename)
    except Exception:
        return None, names  # each is compiled on its own, and reports its own errors
    return env.template_class.from_code(env, code, env.make_globals(None)), names


def _inline_in(node, item, body, names):
    """Replace, under ``node``, each ``{{ <item>.html }}`` with ``body()`` bound to
    ``<item>.values``; return how many."""
    count = 0
    for field in node.fields:
        children = getattr(node, field)
        if not isinstance(children, list):
            continue
        replaced = []
        for child in children:
            if isinstance(child, nodes.Output):
                count += _split_output(child, item, body, names, replaced)
            else:
                if isinstance(child, nodes.Node):
                    count += _inline_in(child, item, body, names)
                replaced.append(child)
        setattr(node, field, replaced)
    return count


def _split_output(output, item, body, names, into):
    """``output``'s pieces into ``into``, each ``<item>.html`` as an inlined body."""
    count, pending = 0, []
    for piece in output.nodes:
        if (
            isinstance(piece, nodes.Getattr)
            and piece.attr == "html"
            and isinstance(piece.node, nodes.Name)
            and piece.node.name == item
        ):
            if pending:
                into.append(nodes.Output(pending, lineno=output.lineno))
                pending = []
            bind = nodes.Assign(
                nodes.Tuple([nodes.Name(name, "store") for name in names], "store"),
                nodes.Getattr(nodes.Name(item, "load"), "values", "load"),
                lineno=output.lineno,
            )
            into.append(nodes.Scope([bind, *body()], lineno=output.lineno))
            count += 1
        else:
            pending.append(piece)
    if pending:
        into.append(nodes.Output(pending, lineno=output.lineno))
    return count


class Page:
    """The templates one render of a thread uses, in the active language: thread.html,
    with comment.html inlined where it can be (compiled once per pair of loaded
    templates: in development a changed file is a new template, so a new pair), and
    comment.html alone, for ``item.html``."""

    def __init__(self, env):
        thread, comment = env.get_template(THREAD_TEMPLATE), env.get_template(COMMENT_TEMPLATE)
        known = env.__dict__.get("inlined_comments")
        if known is None or known[0] is not thread or known[1] is not comment:
            known = env.inlined_comments = (thread, comment, *inline_comments(env, CONTEXT))
        self.thread, self.comment, self.inlined, self.names = known
        self.undefined = {name: env.undefined(name=name) for name in self.names}
        # The other names comment.html reads: undefined, as when rendered alone.
        self.extra = tuple(self.undefined[name] for name in self.names[len(CONTEXT) :])
        self._render_comment = None

    def render_comment(self, values):
        """comments/comment.html alone, for ``values`` (one per ``self.names``)."""
        if self._render_comment is None:
            self._render_comment = _renderer(self.comment)
        context = dict(zip(self.names, values, strict=True))
        return self._render_comment({**self.comment.globals, **context})

    def render_thread(self, items, last_ends):
        context = {**self.thread.globals, "items": items, "last_ends": last_ends}
        if self.inlined is not None:
            template = self.inlined
            try:
                return "".join(template.root_render_func(template.new_context(context, True)))
            except Exception:
                # Rendered again below, each comment alone: the error, if it is one,
                # then names the template and line it comes from.
                pass
        return str(_renderer(self.thread)(context))


def person_badges(user_id, is_staff, author_id):
    """``(by_author, by_staff)`` of a comment posted from the account ``user_id``
    (``is_staff``: its staff status now): by the article's author (``author_id``), or
    else by staff. The author's badge says enough: an author is not also "Staff"."""
    if user_id is not None and user_id == author_id:
        return True, False
    return False, bool(is_staff)


def removal_label(code):
    """A moderator's removal reason (``RemovalReason``) in the active language, as the
    placeholder says it ("off-topic"); "" for a code no longer known."""
    return str(RemovalReason(code).label) if code in RemovalReason.values else ""


def render_thread(
    shown,
    *,
    article_url,
    article_id=0,
    author_id=None,
    personal=False,
    editable_ids=(),
    reported_ids=(),
    notices=None,
    page_query="",
    next_page_url="",
):
    """HTML of ``<ol class="comment-list">`` for the shown nodes (display order).

    ``personal``: the reader has comments, reports or notices of their own on the page
    (their permissions then come from ``editable_ids``, ``reported_ids`` and
    ``notices``); otherwise every comment gets the public links. ``author_id``: the
    article's author, whose comments carry the "Author" badge. ``article_id`` scopes
    the reaction counts' keyed holes (``comments.reactions``): the thread shows where
    each count and pressed state go, never their values, so reactions never change it.
    ``next_page_url``: the next comments page, where the "next thread" link of the page's
    last thread goes ("" on the last page: no link).
    """
    # The active language's templates, their _("…") translated once (site_config.jinja2).
    page = Page(engines[ENGINE].env.localized())
    extra = page.extra
    # What a comment's template gets undefined (a placeholder gets comment and depth
    # only; each link only where the reader may follow it).
    undefined = page.undefined
    no_edit, no_withdraw = undefined["edit_url"], undefined["withdraw_url"]
    placeholder = tuple(undefined[name] for name in CONTEXT[2:]) + extra
    editable_ids, reported_ids = set(editable_ids), set(reported_ids)
    notices = notices or {}
    permalink = _url_parts("comments:permalink")[0]
    edit, withdraw, report, react, profile = (
        _url_parts(f"comments:{name}")
        for name in ("edit", "withdraw", "report", "react", "profile")
    )
    reaction_label = reactions.label()
    # The keyed holes' markers around the pk, as the URLs above: an f-string each.
    count_hole = reactions.count_marker(article_id, 987654321).split("987654321")
    pressed_hole = reactions.pressed_marker(article_id, 987654321).split("987654321")
    # ``page_query`` keeps the comments page and sort, so the reply form (without
    # JavaScript) opens on the page that shows the comment answered.
    reply_prefix = (
        f"{article_url}?{page_query}&replyto=" if page_query else f"{article_url}?replyto="
    )
    reply_counts = _ReplyCountLabels()
    reply_counts[0] = ""
    toggle_labels = _ToggleLabels()
    # Hacker News's links (docs/theming.md): a reply's parent, named by its author, and
    # its thread's first comment; on every comment the next thread: the next first
    # comment on this page, after the page's last thread ``next_page_url`` (the next
    # comments page, or "" after the last). All from this one pass, no query.
    roots = [node.pk for node in shown if node.parent_id is None]
    next_threads = {pk: f"#comment-{after}" for pk, after in zip(roots, roots[1:], strict=False)}
    names = {}  # pk: author name ("" for a placeholder) of the comments so far
    root_id, next_thread = None, next_page_url
    times = CommentTimes()
    no_badges = (False, False)
    items = []
    open_depth = 0  # depth of the innermost <li> still open
    for node in shown:
        pk, depth, own = node.pk, node.depth, node.own
        is_own_pending = own and node.status in AWAITING
        parent_id = node.parent_id
        if parent_id is None:
            root_id, next_thread = pk, next_threads.get(pk, next_page_url)
        names[pk] = node.author_name
        if not node.visible:  # shown, not visible: a placeholder keeping its replies
            if node.removal_reason and node.status == "removed":
                node.removal_label = removal_label(node.removal_reason)
            values = (node, depth, *placeholder)
        else:
            created_iso, created_text = times(node.created_at)
            answerable = not is_own_pending  # visible, not held
            reported = not own and pk in reported_ids
            can_report = not own and not reported
            can_edit = own and pk in editable_ids
            user_id = node.user_id
            by_author, by_staff = (
                no_badges if user_id is None else person_badges(user_id, node.by_staff, author_id)
            )
            values = (
                node,
                depth,
                http_url(node.author_url) if node.author_url else "",
                f"{permalink}{pk}/",
                created_iso,
                created_text,
                reply_counts[node.reply_count],
                answerable,  # can_reply
                f"{reply_prefix}{pk}#respond" if answerable else undefined["reply_url"],
                can_edit,
                f"{edit[0]}{pk}{edit[1]}" if can_edit else no_edit,
                own,  # can_withdraw
                f"{withdraw[0]}{pk}{withdraw[1]}" if own else no_withdraw,
                can_report,
                f"{report[0]}{pk}{report[1]}" if can_report else undefined["report_url"],
                reported,  # has_reported
                is_own_pending,
                notices.get(pk) if own else None,
                node.featured_at is not None and answerable,  # is_featured: public
                by_author,
                by_staff,
                f"{profile[0]}{node.profile_id}{profile[1]}" if node.profile_id else "",
                answerable and not own,  # can_react: public, someone else's
                f"{react[0]}{pk}{react[1]}",
                reaction_label,
                Markup(f"{count_hole[0]}{pk}{count_hole[1]}"),
                Markup(f"{pressed_hole[0]}{pk}{pressed_hole[1]}"),
                names.get(parent_id, "") if parent_id else "",  # parent_author
                root_id if parent_id else None,  # root_id: replies only
                next_thread,  # next_thread_url
            ) + extra
        opens = bool(open_depth) and depth > open_depth
        ends = 0 if opens or not open_depth else open_depth - depth + 1
        if opens:  # the comment before has a reply list: its toggle
            above = items[-1]
            above.hide_label, above.show_label = toggle_labels[above.comment.reply_count]
        items.append(Item(node, depth, opens, ends, is_own_pending, values, page))
        open_depth = depth
    return page.render_thread(items, open_depth)


@dataclass(slots=True)
class Pick:
    """One editors' pick in ``comments/featured.html`` (docs/theming.md)."""

    pk: int
    author_name: str
    author_url: str  # an http(s) address, else empty
    excerpt: str  # the text, whitespace collapsed, cut at EXCERPT_CHARS
    body_html: str
    created_iso: str
    created_text: str
    featured_at: object
    url: str  # its place in the thread: "#comment-<pk>", on another page with ?cpage=
    by_author: bool
    by_staff: bool


def excerpt(text, length=EXCERPT_CHARS):
    """``text`` on one line, cut at a word before ``length`` characters with "…"."""
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > length // 2 else cut).rstrip(" .,;:") + "…"


def render_featured(rows, *, author_id):
    """HTML of ``section#featured-comments`` for ``rows``: ``(pk, author_name,
    author_url, body, body_html, created_at, featured_at, user_id, user__is_staff,
    url)`` of each pick, in the order shown; empty without picks."""
    if not rows:
        return ""
    times = CommentTimes()
    picks = []
    for pk, name, url, body, body_html, created, featured, user_id, staff, link in rows:
        created_iso, created_text = times(created)
        by_author, by_staff = person_badges(user_id, staff, author_id)
        picks.append(
            Pick(
                pk,
                name,
                http_url(url) if url else "",
                excerpt(body),
                body_html,
                created_iso,
                created_text,
                featured,
                link,
                by_author,
                by_staff,
            )
        )
    template = engines[ENGINE].env.localized().get_template(FEATURED_TEMPLATE)
    return str(_renderer(template)({**template.globals, "picks": picks}))
