"""Load and render one page of an article's discussion.

Three queries whatever the thread size, all QuerySet methods of the comments
(``Comment.objects.thread_sizes()``: the size of every thread the reader can see,
which plans the pages of whole threads and gives the count; ``thread_rows()``: every
comment of the page's threads in tree order, with its poster's staff status joined
in for the badges; ``featured()``: the editors' picks above the thread, each linked
to the page that lists it); the tree is built in Python (``tree.build_thread``) and
rendered from templates (``rendering``).

The rendered fragment is cached under the article's ``CacheVersion`` key
(``articles.models``): its version is bumped by ``comments.signals`` from the model
signals on every visible change, and the key also holds ``updated_at``, whether
comments are open now, the language and the release. A write that bypasses the
signals (a ``QuerySet.update()`` in a shell) is not seen until the article changes
next. Readers with their own pending comments or reports on the page get a fresh,
personal render.
"""

import hashlib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from comments.accounts import VISIBLE_PROFILE
from comments.conf import conf
from comments.models import Comment
from comments.rendering import render_featured, render_thread
from comments.tree import Node, build_thread
from site_config import pagecache
from site_config.pagination import ForgivingPaginator

SORT_OLDEST = "oldest"
SORT_NEWEST = "newest"
SORT_REACTIONS = "reactions"  # threads whose first comment has the most reactions first
SORT_REPLIES = "replies"  # threads with the most approved replies first
SORTS = (SORT_OLDEST, SORT_NEWEST, SORT_REACTIONS, SORT_REPLIES)
PAGE_PARAM = "cpage"
SORT_PARAM = "csort"
# A page number this long is past the end of any discussion (and ``int()`` of a
# 4,000-digit string is refused by Python): it is read as "the last page".
MAX_PAGE_DIGITS = 9
NODE_FIELDS = (  # the columns of a tree.Node, in its order
    "pk",
    "parent_id",
    "level",
    "status",
    "author_name",
    "author_url",
    "body_html",
    "created_at",
    "edited_at",
    "user_id",
    "user__is_staff",  # a join, not a query per author (docs/theming.md, badges)
    "featured_at",
    "removal_reason",
    VISIBLE_PROFILE,  # the poster's profile when shown (comments.accounts): joined too
)
# The editors' picks shown above the thread (newest pick first; a theme shows fewer
# with ``picks[:3]``), and their columns (``rendering.render_featured``, less the URL).
FEATURED_SHOWN = 10
PICK_FIELDS = (
    "pk",
    "author_name",
    "author_url",
    "body",
    "body_html",
    "created_at",
    "featured_at",
    "user_id",
    "user__is_staff",
    "tree_id",
)


@dataclass
class Viewer:
    """What makes a render personal: the reader's own comments, reports and notices
    (``{comment pk: notice}``, e.g. ``rendering.NOTICE_UPDATED`` after an edit)."""

    own_ids: frozenset = frozenset()
    reported_ids: frozenset = frozenset()
    editable_ids: frozenset = frozenset()
    notices: dict = field(default_factory=dict)

    @property
    def is_personal(self):
        return bool(self.own_ids or self.reported_ids or self.notices)


@dataclass
class ThreadPage:
    comment_count: int
    html_bytes: bytes  # the rendered thread, encoded once, spliced into responses as is
    number: int = 1
    num_pages: int = 1
    sort: str = SORT_OLDEST
    page_range: list = field(default_factory=list)
    featured: str = ""  # section#featured-comments, or nothing without picks

    @property
    def html(self):
        return self.html_bytes.decode()

    @property
    def featured_html(self):
        """The editors' picks (``rendering.render_featured``: escaped parts), as safe HTML."""
        return mark_safe(self.featured)

    @property
    def size(self):
        return len(self.html_bytes)

    @property
    def has_other_pages(self):
        return self.num_pages > 1

    @property
    def query(self):
        """This page's canonical query string (without ``?``; empty for page 1, oldest)."""
        return PageParams(number=self.number, sort=self.sort).query


def normalize_sort(value):
    return value if value in SORTS else SORT_OLDEST


def sort_choices():
    """``(value, label)`` of each order a reader can choose, in the reader's language."""
    return [
        (SORT_OLDEST, gettext("oldest first")),
        (SORT_NEWEST, gettext("newest first")),
        (SORT_REACTIONS, gettext("most reactions")),
        (SORT_REPLIES, gettext("most replies")),
    ]


SORT_COOKIE = "csort"  # the reader's chosen order (comments.views.choose_sort)
SORT_COOKIE_MAX_AGE = 60 * 60 * 24 * 365


def remembered_sort(request):
    """The order the reader last chose (the ``csort`` cookie), or the default."""
    return normalize_sort(request.COOKIES.get(SORT_COOKIE, ""))


@dataclass(frozen=True)
class PageParams:
    """Which comments page a reader asked for: the one reading of ``?cpage=&csort=``.

    Everything that keys a cache or builds a link goes through here, so junk in the
    URL can neither fill a cache nor reach a link.
    """

    number: int = 1
    sort: str = SORT_OLDEST
    canonical: bool = True  # False: the URL spelled it otherwise (junk, ``07``, repeats)

    @classmethod
    def from_query(cls, query):
        """Read ``request.GET`` (a QueryDict); junk becomes page 1 / the default sort."""
        pages, sorts = query.getlist(PAGE_PARAM), query.getlist(SORT_PARAM)
        number, page_ok = cls.parse_number(pages[-1]) if pages else (1, True)
        sort = sorts[-1] if sorts else SORT_OLDEST
        sort_ok = sort in SORTS
        canonical = page_ok and sort_ok and len(pages) <= 1 and len(sorts) <= 1
        return cls(number=number, sort=normalize_sort(sort), canonical=canonical)

    @staticmethod
    def parse_number(raw):
        """``(page number, spelled canonically)``."""
        if not raw.isascii() or not raw.isdigit():
            return 1, False  # "1x", "-3", " 2", "٢", "2.0": page 1
        digits = raw.lstrip("0")
        if not digits:
            return 1, False  # "0", "00"
        if len(digits) > MAX_PAGE_DIGITS:
            # Past any end: the article view redirects it to the last page at once.
            return 10**MAX_PAGE_DIGITS, digits == raw
        return int(digits), digits == raw

    @property
    def query(self):
        """The canonical query string (without ``?``): no ``cpage`` for page 1 and no
        ``csort`` for the default sort, so each page has exactly one address."""
        params = {}
        if self.number > 1:
            params[PAGE_PARAM] = self.number
        if self.sort != SORT_OLDEST:
            params[SORT_PARAM] = self.sort
        return urlencode(params)

    def url(self, path, query=None):
        """``path`` with this page's canonical parameters, and the other parameters of
        ``query`` (a QueryDict, e.g. ``request.GET``: ``replyto`` and the like) kept."""
        others = ""
        if query is not None:
            query = query.copy()
            query.pop(PAGE_PARAM, None)
            query.pop(SORT_PARAM, None)
            others = query.urlencode()
        text = "&".join(part for part in (self.query, others) if part)
        return f"{path}?{text}" if text else path


def plan_pages(thread_sizes, *, threads_per_page, comments_per_page):
    """Split the threads, in page order, into pages of whole threads.

    ``thread_sizes`` is ``[(tree_id, comments the reader sees), …]``. A page closes once
    it holds ``threads_per_page`` threads, or after the thread that brings it to
    ``comments_per_page`` comments (0: no comment budget), so a long thread is never
    split and an article whose oldest threads collected most replies does not put
    thousands of comments on its first page. Returns a list of tree-id lists (one
    empty page when there are no threads).
    """
    pages, current, comments = [], [], 0
    for tree_id, size in thread_sizes:
        current.append(tree_id)
        comments += size
        if len(current) >= threads_per_page or (
            comments_per_page and comments >= comments_per_page
        ):
            pages.append(current)
            current, comments = [], 0
    if current or not pages:
        pages.append(current)
    return pages


def order_threads(article, sizes, sort):
    """``sizes`` (``thread_sizes``: oldest first) in the order of ``sort``. Threads move
    whole: "newest" puts the newest thread first; "reactions" the threads whose first
    comment has the most reactions (one query); "replies" the threads with the most
    approved replies (one query). Ties stay oldest first."""
    if sort == SORT_NEWEST:
        return list(reversed(sizes))
    if sort not in (SORT_REACTIONS, SORT_REPLIES):
        return sizes
    # The public first comments: their reactions, and whether they count among a
    # thread's approved comments (replies are the others).
    roots = dict(
        Comment.objects.filter(article=article, parent__isnull=True)
        .approved()
        .values_list("tree_id", "reaction_count")
    )
    if sort == SORT_REPLIES:
        return sorted(sizes, key=lambda size: -(size[2] - (size[0] in roots)))
    return sorted(sizes, key=lambda size: -roots.get(size[0], 0))


def _pages_for(article, sizes, sort):
    ordered = order_threads(article, sizes, sort)
    return plan_pages(
        [(tree_id, visible) for tree_id, visible, _approved in ordered],
        threads_per_page=conf.THREADS_PER_PAGE,
        comments_per_page=conf.PER_PAGE,
    )


def cache_key_parts(number, sort):
    """What shapes a comments page besides the article: its number and sort (normalised
    by ``PageParams``) and the settings that cut and render it. Both the thread fragment
    and the whole cached page key on these.

    Reactions never reach a key (their counts are keyed holes: ``comments.reactions``),
    so the "reactions" order carries a time bucket instead: it is recomputed at most
    every ``COMMENTS_REACTION_SORT_SECONDS``, and never older than that."""
    parts = (number, sort, conf.MAX_DEPTH, conf.THREADS_PER_PAGE, conf.PER_PAGE)
    if sort == SORT_REACTIONS:
        parts += (int(time.time() // max(conf.REACTION_SORT_SECONDS, 1)),)
    # The buttons' label is text of the thread: a short digest of it (no spaces in a key).
    label = hashlib.blake2b(conf.REACTION_LABEL.encode(), digest_size=4).hexdigest()
    # The form's part of a cached page: the form, or the sign-in links.
    return (*parts, label, conf.REQUIRE_ACCOUNT)


def _cache_key(article, number, sort):
    return article.cache_version.key("thread", *cache_key_parts(number, sort))


def cache_get(key):
    return pagecache.cache_get(key)


def cache_set(key, value):
    pagecache.cache_set(key, value, conf.CACHE_SECONDS)


class PageOutOfRange(Exception):
    """The comments page asked for does not exist; ``last`` is the last one."""

    def __init__(self, last):
        super().__init__(f"the last comments page is {last}")
        self.last = last


def render_page(article, *, page=1, sort=SORT_OLDEST, viewer=None, use_cache=True, exact=False):
    """The reader's comments page number ``page``; past the end, the last page (or,
    with ``exact``, ``PageOutOfRange``).

    Cached under the number of the page rendered, never under what was asked for, so
    only pages that exist take room in the cache.
    """
    viewer = viewer or Viewer()
    sort = normalize_sort(sort)
    personal = viewer.is_personal
    requested = page if isinstance(page, int) else PageParams.parse_number(str(page))[0]
    use_cache = use_cache and not personal
    if use_cache:
        cached = cache_get(_cache_key(article, requested, sort))
        if cached is not None:
            return cached

    sizes = Comment.objects.thread_sizes(article, own_ids=viewer.own_ids)
    comment_count = sum(approved for _tree_id, _visible, approved in sizes)
    # One item per page: the page's tree ids.
    paginator = ForgivingPaginator(_pages_for(article, sizes, sort), 1)
    page_obj = paginator.get_page(requested)
    if exact and page_obj.number != requested:
        raise PageOutOfRange(page_obj.number)
    tree_ids = page_obj.object_list[0]
    rows = Comment.objects.thread_rows(tree_ids, NODE_FIELDS, newest_first=sort == SORT_NEWEST)
    nodes = [Node(*row) for row in rows]
    if sort in (SORT_REACTIONS, SORT_REPLIES):
        nodes = in_page_order(nodes, tree_ids)
    shown = build_thread(nodes, max_depth=conf.MAX_DEPTH, own_ids=viewer.own_ids)
    article_url = article.get_absolute_url()
    html = render_thread(
        shown,
        article_url=article_url,
        article_id=article.pk,
        author_id=article.author_id,
        page_query=PageParams(number=page_obj.number, sort=sort).query,
        # Where the last thread's "next thread" link goes: the next comments page.
        next_page_url=(
            f"{PageParams(number=page_obj.number + 1, sort=sort).url(article_url)}#comments"
            if page_obj.has_next()
            else ""
        ),
        personal=personal,
        editable_ids=viewer.editable_ids,
        reported_ids=viewer.reported_ids,
        notices=viewer.notices,
    )
    result = ThreadPage(
        comment_count=comment_count,
        html_bytes=html.encode(),
        number=page_obj.number,
        num_pages=paginator.num_pages,
        sort=sort,
        page_range=[
            n if isinstance(n, int) else str(n)
            for n in paginator.get_elided_page_range(page_obj.number, on_each_side=2)
        ],
        featured=render_featured(
            featured_rows(article, paginator, page_obj.number, sort, article_url),
            author_id=article.author_id,
        ),
    )
    if use_cache:
        cache_set(_cache_key(article, page_obj.number, sort), result)
    return result


def in_page_order(nodes, tree_ids):
    """``nodes`` of the threads ``tree_ids`` (read oldest thread first, each in tree
    order) with the threads in the order of ``tree_ids``. Each thread begins with its
    first comment (``parent_id`` None), so the threads need no tree id to be told apart."""
    threads = []
    for node in nodes:
        if node.parent_id is None:
            threads.append([])
        threads[-1].append(node)
    if len(threads) != len(tree_ids):  # a thread deleted between the two queries
        return nodes
    by_tree = dict(zip(sorted(tree_ids), threads, strict=True))
    return [node for tree_id in tree_ids for node in by_tree[tree_id]]


def featured_rows(article, paginator, current, sort, article_url):
    """``PICK_FIELDS`` of the article's editors' picks (one query), each with the link
    to its place: ``#comment-<pk>`` on the page shown (``current`` of ``paginator``, a
    page per item, each a list of tree ids), the page that lists it otherwise."""
    rows = list(
        Comment.objects.filter(article=article)
        .featured()
        .order_by("-featured_at", "-pk")
        .values_list(*PICK_FIELDS)[:FEATURED_SHOWN]
    )
    if not rows:
        return rows
    page_of = {
        tree_id: number
        for number, tree_ids in enumerate(paginator.object_list, start=1)
        for tree_id in tree_ids
    }
    picks = []
    for *columns, tree_id in rows:
        number = page_of.get(tree_id, 1)
        url = comment_place(
            columns[0], number=number, sort=sort, article_url=article_url, current=current
        )
        picks.append((*columns, url))
    return picks


def comment_place(pk, *, number, sort, article_url, current=None):
    """The address of comment ``pk`` on comments page ``number``: its anchor alone on
    the page ``current`` (no reload), else the article's page that lists it."""
    if number == current:
        return f"#comment-{pk}"
    return f"{PageParams(number=number, sort=sort).url(article_url)}#comment-{pk}"


def page_of_comment(comment, *, sort=SORT_OLDEST, own_ids=()):
    """The comments page (1-based) on which ``comment``'s thread is listed for the public,
    or for the reader whose own comments are ``own_ids`` (their held ones count too)."""
    sizes = Comment.objects.thread_sizes(comment.article, own_ids=own_ids)
    for number, tree_ids in enumerate(_pages_for(comment.article, sizes, sort), start=1):
        if comment.tree_id in tree_ids:
            return number
    return 1


def comment_url(comment, *, sort=SORT_OLDEST, own_ids=()):
    """``comment`` in its place: the article on the comments page that lists it (for the
    public, or for the reader whose own comments are ``own_ids``), at its anchor."""
    number = page_of_comment(comment, sort=sort, own_ids=own_ids)
    return comment_place(
        comment.pk, number=number, sort=sort, article_url=comment.article.get_absolute_url()
    )


def editable_until(comment):
    return comment.created_at + timedelta(minutes=conf.EDIT_MINUTES)
