from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse_lazy
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext

from articles.models import Article


class LatestArticlesFeed(Feed):
    title = settings.SITE_NAME
    link = reverse_lazy("articles:list")

    def description(self):
        # The default tagline is in the catalogue; a site's own reads as set.
        return gettext(settings.SITE_TAGLINE)

    def items(self):
        return Article.objects.published().select_related("author")[:20]

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
