from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import sitemap

from articles.models import Article, Section, Tag
from site_config import edge


class ArticleSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8

    def items(self):
        return Article.objects.published().order_by("-published_at")

    def lastmod(self, item):
        return item.updated_at


class SectionSitemap(Sitemap):
    """Section pages with something to list (a public article)."""

    changefreq = "daily"
    priority = 0.6

    def items(self):
        return Section.objects.listed()


class TagSitemap(Sitemap):
    """Tag pages with something to list (a public article)."""

    changefreq = "weekly"
    priority = 0.4

    def items(self):
        return Tag.objects.listed()


def sitemap_view(request, **kwargs):
    """Django's sitemap view, kept by the edge cache as a list of articles (it changes
    by itself when a scheduled article comes out)."""
    edge.add_surrogate_keys(request, edge.LISTS_KEY)
    edge.limit_edge_ttl(request, Article.objects.next_publication())
    return sitemap(request, **kwargs)
