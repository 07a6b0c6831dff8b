"""How the comments app joins the article pages, without the articles app importing it.

Registered by ``CommentsConfig.ready``:

- the comments page and sort (``?cpage=&csort=``) are query parameters of the article
  page that this app owns (``site_config.pagecache.register_query``): a spelling other
  than the canonical one is redirected before any cache is asked, and the normalised
  values (with the settings that shape a comments page) key the cached page;
- a reader's remembered sort (the ``csort`` cookie, set when they pick one) sends a
  bare article URL to ``?csort=<choice>`` (302) before any cache is asked, so the
  cookie leaves the reader on the shared page of that sort;
- the comment form's signed timestamp is a hole of the page shared by anonymous readers
  (``register_hole``): each reader gets a fresh one; the reaction counts and pressed
  states are keyed holes (``comments.reactions``);
- article lists carry ``comment_count`` (``articles.models.annotate_lists``).

The discussion itself joins the page through the ``{% comments_section %}`` tag and the
comment feeds through this app's URLs.
"""

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from articles.models import annotate_lists
from articles.signals import demo_seeded
from comments import reactions
from comments.forms import sign_timestamp
from comments.models import Comment
from comments.threads import (
    PAGE_PARAM,
    SORT_COOKIE,
    SORT_OLDEST,
    SORT_PARAM,
    PageParams,
    cache_key_parts,
    remembered_sort,
)
from site_config.pagecache import QueryPart, register_hole, register_query

TIMESTAMP_HOLE = "comment-timestamp"


def read_comment_page(request):
    """The comments page the article URL asks for (a ``QueryPart``)."""
    params = PageParams.from_query(request.GET)
    if not params.canonical:
        return QueryPart(redirect_to=params.url(request.path, request.GET))
    if not request.GET:
        remembered = remembered_sort(request)
        if remembered != SORT_OLDEST:  # the bare URL, for a reader who chose another order
            choice = PageParams(sort=remembered)
            return QueryPart(redirect_to=choice.url(request.path), permanent=False)
    return QueryPart(
        key=cache_key_parts(params.number, params.sort),
        context={"comment_page_params": params},
    )


def comment_count():
    """Approved comments of each listed article, counted in the list query itself.

    A correlated subquery is computed only for the rows a page returns, so the cost
    stays flat however many comments the site holds.
    """
    approved = (
        Comment.objects.approved()
        .filter(article=OuterRef("pk"))
        .order_by()
        .values("article")
        .annotate(n=Count("*"))  # not a column: PostgreSQL counts from the index alone
        .values("n")
    )
    return Coalesce(Subquery(approved), 0)


def seed_demo_discussions(sender, **kwargs):
    """``manage.py seed_demo``'s part for comments: the demo discussions."""
    from comments.demo import seed_discussions

    return seed_discussions()


def register():
    demo_seeded.connect(seed_demo_discussions, dispatch_uid="comments-demo-discussions")
    register_query({PAGE_PARAM, SORT_PARAM}, read_comment_page, cookies={SORT_COOKIE})
    # The time the form was rendered: the same for every reader at one moment.
    register_hole(TIMESTAMP_HOLE, lambda request: sign_timestamp(), per_reader=False)
    reactions.register()
    annotate_lists("comment_count", comment_count)
