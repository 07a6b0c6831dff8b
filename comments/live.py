"""Live updates without websockets: an article page polls a tiny version endpoint and,
when something new is approved, fetches the new comments as HTML (comments/live.js).

Both answers are public and the same for every reader (no session, no cookie, nothing
personal), so an HTTP cache in front may keep them for a few seconds: 2,000 readers
polling an article every 15 seconds cost the server at most one query per
``FRESH_SECONDS`` behind such a cache, and one indexed query per poll without one.
"""

import datetime
import json
import re
import time

from django.core import signals
from django.db import connections
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from articles.models import Article, _aware
from comments import reactions
from comments.conf import conf
from comments.models import Comment
from comments.rendering import render_thread
from comments.threads import NODE_FIELDS
from comments.tree import Node

FRESH_SECONDS = 5  # how long an HTTP cache may keep an answer (Cache-Control max-age)
MEMO_SECONDS = 1  # how long a worker reuses an article's state without asking the database
MEMO_MAX = 10_000  # articles a worker remembers (then it starts afresh)
MAX_NEW = 50  # new comments in one fragment; more: the reader reloads the page


def discussion_state(pk):
    """``(version, approved count, newest approved comment's time or None)`` of the
    public article ``pk``, or None (unknown or not public).

    Asked by every open article page every few seconds, so it is one statement written
    out (as ``Article.objects.public_version``): the article by its primary key, the
    count and the newest time from the comments' (article, status, …) and (article,
    created_at) indexes. Through the ORM, an annotated aggregate groups by every column
    of the article and its building costs more than running it. ``published()``'s rule,
    which a test holds it to.
    """
    connection = connections[Article.objects.db]
    quote = connection.ops.quote_name
    article, comment = Article._meta, Comment._meta

    def column(meta, name):
        return quote(meta.get_field(name).column)

    comments = quote(comment.db_table)
    of_article = (
        f"{comments}.{column(comment, 'article')} = a.{column(article, 'id')} "
        f"AND {comments}.{column(comment, 'status')} = %s"
    )
    sql = (
        f"SELECT a.{column(article, 'comments_version')}, "
        f"(SELECT COUNT(*) FROM {comments} WHERE {of_article}), "
        f"(SELECT MAX({comments}.{column(comment, 'created_at')}) FROM {comments} "
        f"WHERE {of_article}) "
        f"FROM {quote(article.db_table)} a WHERE a.{column(article, 'id')} = %s "
        f"AND a.{column(article, 'status')} = %s AND a.{column(article, 'published_at')} <= %s"
    )
    approved = Comment.Status.APPROVED
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [approved, approved, pk, Article.Status.PUBLISHED, now])
        row = cursor.fetchone()
    if row is None:
        return None
    version, count, newest = row
    return version, count, _aware(newest) if newest is not None else None


_memo = {}  # article pk: (monotonic expiry, discussion_state)
_clock = time.monotonic


def current_state(pk):
    """``discussion_state(pk)``, reused by this worker for ``MEMO_SECONDS``: a hot
    article polled by thousands of readers costs one query per second and worker, and
    a poll on a warm worker none (an answer at most a second older)."""
    now = _clock()
    entry = _memo.get(pk)
    if entry is not None and entry[0] > now:
        return entry[1]
    state = discussion_state(pk)
    if len(_memo) >= MEMO_MAX:
        _memo.clear()
    _memo[pk] = (now + MEMO_SECONDS, state)
    return state


def _public(response):
    """The same answer for every reader, whoever asks: HTTP caches may keep it a few
    seconds, and ``comments.accounts.PersonalPagesMiddleware`` leaves the session alone."""
    response["Cache-Control"] = f"public, max-age={FRESH_SECONDS}"
    response.same_for_everyone = True
    return response


@csrf_exempt  # read-only; no CSRF cookie or token read
@require_GET
def version(request, pk):
    """``{"version", "count", "newest"}`` of article ``pk``'s public discussion, with a
    strong ETag (a matching ``If-None-Match`` gets 304)."""
    state = current_state(pk)
    if state is None:
        raise Http404
    number, count, newest = state
    etag = f'"live-{pk}-{number}-{count}"'
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = JsonResponse(
            {
                "version": number,
                "count": count,
                "newest": int(newest.timestamp()) if newest else None,
            }
        )
    response["ETag"] = etag
    return _public(response)


def new_nodes(article, since):
    """The comments of ``article`` approved after ``since`` (posted, or approved by a
    moderator, after it), oldest first, at most ``MAX_NEW``: one query."""
    rows = (
        Comment.objects.approved()
        .filter(article=article)
        .filter(Q(created_at__gt=since) | Q(moderated_at__gt=since))
        .order_by("created_at", "pk")
        .values_list(*NODE_FIELDS)[:MAX_NEW]
    )
    nodes = []
    for row in rows:
        node = Node(*row)
        node.visible = node.shown = True
        node.depth = min(node.level + 1, conf.MAX_DEPTH)
        nodes.append(node)
    return nodes


@csrf_exempt  # read-only; no CSRF cookie or token read
@require_GET
def new_comments(request, pk):
    """The comments of article ``pk`` approved after ``?since=`` (Unix seconds), each as
    the thread shows it (comments/comment.html in its ``<li id="comment-N">``), in a
    list whose items name their parent (``data-parent``); ``data-until`` is the
    ``since`` of the next request. Public like ``version``; a reaction count starts at 0.
    """
    article = Article.objects.published().filter(pk=pk).only("pk", "slug", "author_id").first()
    if article is None:
        raise Http404
    try:
        since = datetime.datetime.fromtimestamp(int(request.GET.get("since", "")), datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return _public(HttpResponse(status=400))
    until = int(timezone.now().timestamp())
    nodes = new_nodes(article, since)
    url = article.get_absolute_url()
    items = []
    for node in nodes:
        html = render_thread([node], article_url=url, article_id=article.pk)
        html = html.replace(reactions.count_marker(article.pk, node.pk), "0")
        html = html.replace(reactions.pressed_marker(article.pk, node.pk), "false")
        items.append((node, html))
    # No request in the context: nothing of the reader's (session, CSRF) may enter it.
    html = render_to_string("comments/live_new.html", {"items": items, "until": until})
    return _public(HttpResponse(html))


# --- the version endpoint before Django's handler ---------------------------------------
VERSION_PATH = re.compile(r"^/comments/live/(\d+)/$")


class VersionFastPath:
    """WSGI: answer ``GET /comments/live/<pk>/`` before Django's handler and middleware,
    with exactly what ``version`` answers (JSON, strong ETag and 304, public caching, 404
    for an article that is not public), and hand every other request to ``application``.

    A poll is the cheapest request the site serves and the most frequent one: thousands
    of open pages ask every 15 seconds. Through the whole stack it costs what the trivial
    view costs (about 1.1 ms of CPU, all of it the request cycle and middleware); here,
    a dictionary lookup on a warm worker. Nothing it does needs the middleware: no
    session, cookie, CSRF, language or personal data. The database connection follows
    Django's rules (``close_old_connections`` before and after, as the handler's signals
    do). Any failure falls back to the full stack, which answers it as usual.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        match = VERSION_PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.application(environ, start_response)
        try:
            status, headers, body = self.answer(int(match[1]), environ)
        except Exception:
            return self.application(environ, start_response)
        start_response(status, headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    @staticmethod
    def answer(pk, environ):
        # The request's signals, as Django's handler sends them: they close the database
        # connection when it is old or unusable (CONN_MAX_AGE), as after any request.
        signals.request_started.send(sender=VersionFastPath, environ=environ)
        try:
            state = current_state(pk)
        finally:
            signals.request_finished.send(sender=VersionFastPath)
        common = [
            ("Cache-Control", f"public, max-age={FRESH_SECONDS}"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if state is None:
            body = b"Not Found"
            return "404 Not Found", [("Content-Type", "text/plain"), *common], body
        number, count, newest = state
        etag = f'"live-{pk}-{number}-{count}"'
        asked = environ.get("HTTP_IF_NONE_MATCH", "")
        if etag in [tag.strip() for tag in asked.split(",")]:
            return "304 Not Modified", [("ETag", etag), *common], b""
        body = json.dumps(
            {
                "version": number,
                "count": count,
                "newest": int(newest.timestamp()) if newest else None,
            }
        ).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("ETag", etag),
            *common,
        ]
        return "200 OK", headers, body
