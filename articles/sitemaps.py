from django.contrib.sitemaps import Sitemap

from articles.models import Article, Section, Tag


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
