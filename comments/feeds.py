from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse

from articles.models import Article
from comments.models import Comment

FEED_SIZE = 30


class LatestCommentsFeed(Feed):
    """The latest approved comments site-wide. Never includes emails or IPs."""

    def title(self):
        return f"{settings.SITE_NAME}: latest comments"

    def link(self):
        return reverse("articles:list")

    def description(self):
        return f"The latest reader comments on {settings.SITE_NAME}."

    def items(self):
        return (
            Comment.objects.approved()
            .filter(article__in=Article.objects.published())
            .select_related("article")
            .order_by("-created_at")[:FEED_SIZE]
        )

    def item_title(self, item):
        return f"{item.author_name} on “{item.article.title}”"

    def item_description(self, item):
        return item.body_html

    def item_link(self, item):
        return item.get_absolute_url()

    def item_pubdate(self, item):
        return item.created_at

    def item_author_name(self, item):
        return item.author_name


class ArticleCommentsFeed(LatestCommentsFeed):
    """Approved comments of one article, newest first."""

    def get_object(self, request, slug):
        return get_object_or_404(Article.objects.published(), slug=slug)

    def title(self, obj):
        return f"Comments on “{obj.title}”"

    def link(self, obj):
        return obj.get_absolute_url()

    def description(self, obj):
        return f"Reader comments on “{obj.title}”."

    def items(self, obj):
        return (
            Comment.objects.approved()
            .filter(article=obj)
            .select_related("article")
            .order_by("-created_at")[:FEED_SIZE]
        )
