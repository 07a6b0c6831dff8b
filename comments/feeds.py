from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from articles.models import Article
from comments import follows
from comments.models import Comment
from site_config import edge

FEED_SIZE = 30


class LatestCommentsFeed(Feed):
    """The latest approved comments site-wide. Never includes emails or IPs."""

    def title(self):
        return _("%(site)s: latest comments") % {"site": settings.SITE_NAME}

    def link(self):
        return reverse("articles:list")

    def description(self):
        return _("The latest reader comments on %(site)s.") % {"site": settings.SITE_NAME}

    def items(self):
        return (
            Comment.objects.approved()
            .filter(article__in=Article.objects.published())
            .select_related("article")
            .order_by("-created_at")[:FEED_SIZE]
        )

    def item_title(self, item):
        return _("%(name)s on “%(title)s”") % {
            "name": item.author_name,
            "title": item.article.title,
        }

    def item_description(self, item):
        return item.body_html

    def item_link(self, item):
        return item.get_absolute_url()

    def item_pubdate(self, item):
        return item.created_at

    def item_author_name(self, item):
        return item.author_name

    def get_feed(self, obj, request):
        # The edge cache: any discussion change, and this article's own changes.
        edge.add_surrogate_keys(request, edge.COMMENTS_KEY)
        if isinstance(obj, Article):
            edge.add_surrogate_keys(request, edge.article_key(obj.pk))
        edge.limit_edge_ttl(request, Article.objects.next_publication())
        return super().get_feed(obj, request)


class ArticleCommentsFeed(LatestCommentsFeed):
    """Approved comments of one article, newest first."""

    def get_object(self, request, slug):
        return get_object_or_404(Article.objects.published(), slug=slug)

    def title(self, obj):
        return _("Comments on “%(title)s”") % {"title": obj.title}

    def link(self, obj):
        return obj.get_absolute_url()

    def description(self, obj):
        return _("Reader comments on “%(title)s”.") % {"title": obj.title}

    def items(self, obj):
        return (
            Comment.objects.approved()
            .filter(article=obj)
            .select_related("article")
            .order_by("-created_at")[:FEED_SIZE]
        )


class RepliesFeed(LatestCommentsFeed):
    """A signed-in reader's replies (Atom) at a secret address (``comments.follows``):
    replies by others to their comments, newest first. Renewing the secret revokes the
    old address (404)."""

    feed_type = Atom1Feed

    def __call__(self, request, *args, **kwargs):
        response = super().__call__(request, *args, **kwargs)
        # Personal: never stored by a shared cache, never indexed.
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex"
        return response

    def get_object(self, request, key):
        user = follows.feed_owner(key)
        if user is None:
            raise Http404(_("This feed address is not valid."))
        return user

    def title(self, obj):
        return _("%(site)s: replies to your comments") % {"site": settings.SITE_NAME}

    def link(self, obj):
        return reverse("articles:list")

    def subtitle(self, obj):
        return _("Replies to your comments on %(site)s.") % {"site": settings.SITE_NAME}

    def items(self, obj):
        return follows.replies_to(obj)[:FEED_SIZE]

    def item_title(self, item):
        return _("%(name)s replied on “%(title)s”") % {
            "name": item.author_name,
            "title": item.article.title,
        }
