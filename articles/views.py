from django.conf import settings
from django.views.generic import DetailView, ListView

from articles.models import Article
from comments.pagecache import cached_page
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
        def render():
            self.object = self.get_object()
            return self.render_to_response(self.get_context_data(object=self.object))

        return cached_page(request, kwargs["slug"], render)
