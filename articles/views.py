from django.conf import settings
from django.http import HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import DetailView, ListView

from articles.models import Article, Section, Tag
from site_config import edge, pagecache
from site_config.pagination import ForgivingPaginator


class ArticleVisibilityMixin:
    """Public articles for everyone; staff also preview drafts and scheduled ones."""

    def get_queryset(self):
        return (
            Article.objects.visible_to(self.request.user)
            .select_related("author", "section")
            .prefetch_related("tags")
        )


class ArticleListView(ListView):
    template_name = "articles/article_list.html"
    context_object_name = "articles"
    paginator_class = ForgivingPaginator

    def get_paginate_by(self, queryset):
        return settings.ARTICLES_PER_PAGE

    def get_queryset(self):
        return Article.objects.for_lists()

    def paginate_queryset(self, queryset, page_size):
        paginator = self.get_paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get(self.page_kwarg))
        return paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The edge cache: a list shows each article's title and comment count, and
        # changes by itself when a scheduled article comes out.
        edge.add_surrogate_keys(
            self.request,
            edge.LISTS_KEY,
            *(edge.article_key(article.pk) for article in context["object_list"]),
        )
        edge.limit_edge_ttl(self.request, Article.objects.next_publication())
        return context


class ListedByView(ArticleListView):
    """The public articles of one section or tag (``by``: its model), paginated and
    shown like the home page; 404 for an unknown slug."""

    template_name = "articles/article_list_by.html"
    by = None  # Section or Tag
    article_field = None  # how an article points at it
    feed_names = None  # its RSS and Atom routes
    surrogate_key = None

    def get(self, request, *args, **kwargs):
        self.listed_by = get_object_or_404(self.by, slug=kwargs["slug"])
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return super().get_queryset().filter(**{self.article_field: self.listed_by})

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)  # the list's keys, and this one's
        edge.add_surrogate_keys(self.request, self.surrogate_key(self.listed_by.pk))
        rss, atom = self.feed_names
        return {
            **context,
            "listed_by": self.listed_by,
            "kind": self.by._meta.verbose_name,
            "feed_rss": reverse(rss, kwargs={"slug": self.listed_by.slug}),
            "feed_atom": reverse(atom, kwargs={"slug": self.listed_by.slug}),
        }


class SectionView(ListedByView):
    by = Section
    article_field = "section"
    feed_names = ("articles:section-feed", "articles:section-feed-atom")
    surrogate_key = staticmethod(edge.section_key)


class TagView(ListedByView):
    by = Tag
    article_field = "tags"
    feed_names = ("articles:tag-feed", "articles:tag-feed-atom")
    surrogate_key = staticmethod(edge.tag_key)


class ArticleDetailView(ArticleVisibilityMixin, DetailView):
    """The article page; the discussion joins it through its template
    (``{% comments_section %}``) and owns its query parameters (``?cpage=&csort=``)."""

    template_name = "articles/article_detail.html"
    context_object_name = "article"

    def get(self, request, *args, **kwargs):
        # Before any cache is asked: each query parameter other apps own has one
        # spelling, so junk in the URL can neither fill a cache nor render uncached.
        query = pagecache.read_query(request)
        if query.redirect_to is not None:
            if not query.permanent:  # a reader's remembered choice, not a wrong spelling
                return HttpResponseRedirect(query.redirect_to)
            return HttpResponsePermanentRedirect(query.redirect_to)

        def render():
            self.object = self.get_object()
            context = self.get_context_data(object=self.object, **query.context)
            response = self.render_to_response(context)
            try:
                response.render()  # {% comments_section %} renders the comments page here
            except pagecache.Redirect as redirect:  # say, a comments page past the end
                return HttpResponseRedirect(redirect.url)
            return response

        key = None
        if pagecache.is_shared_view(request):
            # One light query on a hit: the article's version, never its body.
            version = Article.objects.public_version(kwargs["slug"])
            if version is not None:
                key = version.key("page", *query.key, request.scheme, request.get_host())
                # The edge cache keeps it until a change purges it, or its comments close.
                edge.add_surrogate_keys(request, edge.article_key(version.pk))
                edge.limit_edge_ttl(request, version.closes_at)
        return pagecache.cached_page(request, key, render, timeout=settings.PAGE_CACHE_SECONDS)
