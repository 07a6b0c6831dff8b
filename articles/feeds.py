from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse_lazy
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext

from articles.models import Article, Section, Tag
from site_config import edge


class LatestArticlesFeed(Feed):
    title = settings.SITE_NAME
    link = reverse_lazy("articles:list")

    def description(self):
        # The default tagline is in the catalogue; a site's own reads as set.
        return gettext(settings.SITE_TAGLINE)

    def items(self):
        return Article.objects.published().select_related("author")[:20]

    def get_feed(self, obj, request):
        if obj is None:  # the site's feed: every list, and each article (a renamed author)
            listed = self.items().values_list("pk", flat=True)
            edge.add_surrogate_keys(request, edge.LISTS_KEY, *map(edge.article_key, listed))
        # Feeds change by themselves when a scheduled article comes out.
        edge.limit_edge_ttl(request, Article.objects.next_publication())
        return super().get_feed(obj, request)

    def item_title(self, item):
        return item.title

    def item_description(self, item):
        return item.summary or item.body_html

    def item_pubdate(self, item):
        return item.published_at

    def item_updateddate(self, item):
        return item.updated_at

    def item_author_name(self, item):
        return item.author_display_name


class LatestArticlesAtomFeed(LatestArticlesFeed):
    feed_type = Atom1Feed

    def subtitle(self):
        return self.description()


class ListedByFeed(LatestArticlesFeed):
    """The latest public articles of one section or tag (``by``), 404 for an unknown slug."""

    by = None  # Section or Tag
    article_field = None  # how an article points at it
    surrogate_key = None

    def get_object(self, request, slug):
        return get_object_or_404(self.by, slug=slug)

    def get_feed(self, obj, request):
        # ``obj`` was fetched for this request, so it can carry the items to the feed.
        obj.feed_items = list(
            Article.objects.published()
            .filter(**{self.article_field: obj})
            .select_related("author")[:20]
        )
        edge.add_surrogate_keys(
            request,
            edge.LISTS_KEY,
            self.surrogate_key(obj.pk),
            *(edge.article_key(article.pk) for article in obj.feed_items),
        )
        return super().get_feed(obj, request)

    def title(self, obj):
        return f"{obj.name} · {settings.SITE_NAME}"

    def link(self, obj):
        return obj.get_absolute_url()

    def description(self, obj):
        return getattr(obj, "description", "") or gettext(settings.SITE_TAGLINE)

    def items(self, obj):
        return obj.feed_items


class SectionFeed(ListedByFeed):
    by = Section
    article_field = "section"
    surrogate_key = staticmethod(edge.section_key)


class SectionAtomFeed(SectionFeed):
    feed_type = Atom1Feed

    def subtitle(self, obj):
        return self.description(obj)


class TagFeed(ListedByFeed):
    by = Tag
    article_field = "tags"
    surrogate_key = staticmethod(edge.tag_key)


class TagAtomFeed(TagFeed):
    feed_type = Atom1Feed

    def subtitle(self, obj):
        return self.description(obj)
