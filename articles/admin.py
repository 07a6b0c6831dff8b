from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from articles.models import Article


def is_autocomplete(request):
    """A request to the admin's ``autocomplete/`` view (select2 asking for articles)."""
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "autocomplete"


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "status",
        "published_at",
        "author",
        "approved_comments",
        "pending_comments",
        "comments_open",
    ]
    list_filter = ["status", "published_at", "comments_open"]
    search_fields = ["title", "summary", "body"]
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ["title"]}
    list_select_related = ["author"]
    raw_id_fields = ["author"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "author", "summary", "body"]}),
        (_("Publishing"), {"fields": ["status", "published_at", "comments_open"]}),
        (_("Dates"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_search_fields(self, request):
        # The comment queue's "By article" autocomplete matches titles, not bodies.
        if is_autocomplete(request):
            return ["title"]
        return super().get_search_fields(request)

    def get_queryset(self, request):
        if is_autocomplete(request):
            # Ids and titles only: the autocomplete shows titles, not comment counts.
            return super().get_queryset(request).only("pk", "title", "published_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                approved_count=Count("comments", filter=Q(comments__status="approved")),
                pending_count=Count("comments", filter=Q(comments__status="pending")),
            )
        )

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("author", request.user.pk)
        return initial

    @admin.display(description=_("approved"), ordering="approved_count")
    def approved_comments(self, obj):
        return obj.approved_count

    @admin.display(description=_("pending"), ordering="pending_count")
    def pending_comments(self, obj):
        if not obj.pending_count:
            return 0
        url = reverse("admin:comments_comment_changelist")
        return format_html(
            '<a href="{}?article__id__exact={}&amp;status=pending">{} pending</a>',
            url,
            obj.pk,
            obj.pending_count,
        )
