from dataclasses import replace

from django.conf import settings
from django.http import HttpResponsePermanentRedirect, HttpResponseRedirect
from django.views.generic import DetailView, ListView

from articles.models import Article
from comments.pagecache import cached_page
from comments.threads import PageOutOfRange, PageParams
from site_config.pagination import ForgivingPaginator


class ArticleVisibilityMixin:
    """Public articles for everyone; staff also preview drafts and scheduled ones."""

    def get_queryset(self):
        return Article.objects.visible_to(self.request.user).select_related("author")


class ArticleListView(ListView):
    template_name = "articles/article_list.html"
    context_object_name = "articles"
    paginator_class = ForgivingPaginator

    def get_paginate_by(self, queryset):
        return settings.ARTICLES_PER_PAGE

    def get_queryset(self):
        return Article.objects.published().select_related("author").with_comment_count()

    def paginate_queryset(self, queryset, page_size):
        paginator = self.get_paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get(self.page_kwarg))
        return paginator, page, page.object_list, page.has_other_pages()


class ArticleDetailView(ArticleVisibilityMixin, DetailView):
    template_name = "articles/article_detail.html"
    context_object_name = "article"

    def get(self, request, *args, **kwargs):
        # Before any cache is asked: each comments page has one address, so junk in
        # ?cpage= or ?csort= can neither fill a cache nor render uncached.
        params = PageParams.from_query(request.GET)
        if not params.canonical:
            return HttpResponsePermanentRedirect(params.url(request.path, request.GET))

        def render():
            self.object = self.get_object()
            context = self.get_context_data(object=self.object, comment_page_params=params)
            response = self.render_to_response(context)
            try:
                response.render()  # {% comments_section %} renders the comments page here
            except PageOutOfRange as out_of_range:
                last = replace(params, number=out_of_range.last)
                return HttpResponseRedirect(last.url(request.path, request.GET))
            return response

        return cached_page(request, kwargs["slug"], render)
