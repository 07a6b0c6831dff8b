from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from articles.models import Article, Section, Tag, site_discussion_default

# The fields a moderator with ``articles.change_discussion`` may change on an article
# they may not otherwise edit.
DISCUSSION_FIELDS = [
    "comments_open",
    "comments_close_at",
    "comments_premoderated",
    "comments_allow_links",
]
# Each per-article yes/no whose empty value means the site's setting, and what it does.
SITE_DEFAULTS = {
    "comments_premoderated": "COMMENTS_PREMODERATE_ALL",
    "comments_allow_links": "COMMENTS_ALLOW_LINKS",
}
HELP_TEXTS = {
    "comments_premoderated": _(
        "Yes: every comment waits for a moderator (staff comments excepted). "
        "“Site default” follows the site's setting, COMMENTS_PREMODERATE_ALL."
    ),
    "comments_allow_links": _(
        "No: a comment with a web address is refused with a message, its text kept. "
        "“Site default” follows the site's setting, COMMENTS_ALLOW_LINKS."
    ),
}


class SiteDefaultSelect(forms.NullBooleanSelect):
    """A yes/no whose empty choice names what it means now: "Site default (No)"."""

    def __init__(self, *, default, attrs=None):
        super().__init__(attrs)
        yes, no = gettext("Yes"), gettext("No")
        site_default = pgettext("a yes/no choice", "Site default (%(value)s)") % {
            "value": yes if default else no
        }
        self.choices = [("unknown", site_default), ("true", yes), ("false", no)]


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
        "section",
        "approved_comments",
        "pending_comments",
        "comments_open",
    ]
    list_filter = ["status", "section", "published_at", "comments_open", "comments_premoderated"]
    search_fields = ["title", "summary", "body"]
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ["title"]}
    list_select_related = ["author", "section"]
    raw_id_fields = ["author"]
    autocomplete_fields = ["tags"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "author", "summary", "body"]}),
        (_("Publishing"), {"fields": ["status", "published_at", "section", "tags"]}),
        (
            _("Discussion"),
            {
                "fields": DISCUSSION_FIELDS,
                "description": _("Readers are told these settings above the comment form."),
            },
        ),
        (_("Dates"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    # --- who may change what ------------------------------------------------------
    # ``articles.change_discussion`` (the Moderators group) opens an article's page with
    # only the discussion fields editable: every other field is read-only, so it is not
    # on the form and a posted value for it is ignored.
    def may_change_discussion_only(self, request):
        return not super().has_change_permission(request) and request.user.has_perm(
            "articles.change_discussion"
        )

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self.may_change_discussion_only(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self.may_change_discussion_only(
            request
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if not self.may_change_discussion_only(request):
            return readonly
        others = [
            name
            for _title, options in self.fieldsets
            for name in options["fields"]
            if name not in DISCUSSION_FIELDS and name not in readonly
        ]
        return [*readonly, *others]

    def get_prepopulated_fields(self, request, obj=None):
        if self.may_change_discussion_only(request):
            return {}  # the slug is read-only: nothing to fill in
        return super().get_prepopulated_fields(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.may_change_discussion_only(request):
            # What this moderator came to change comes first.
            discussion = [
                fieldset for fieldset in fieldsets if fieldset[1]["fields"] is DISCUSSION_FIELDS
            ]
            return discussion + [fieldset for fieldset in fieldsets if fieldset not in discussion]
        return fieldsets

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in SITE_DEFAULTS:
            # Read now, so the label says what the site's setting is today.
            default = site_discussion_default(SITE_DEFAULTS[db_field.name])
            kwargs["widget"] = SiteDefaultSelect(default=default)
            kwargs["help_text"] = HELP_TEXTS[db_field.name]
        return super().formfield_for_dbfield(db_field, request, **kwargs)

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


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "published_articles", "all_articles"]
    list_editable = ["position"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["position", "name"]  # the counts' GROUP BY drops Meta.ordering

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                article_count=Count("articles", distinct=True),
                published_count=Count(
                    "articles",
                    filter=Q(articles__in=Article.objects.published()),
                    distinct=True,
                ),
            )
        )

    @admin.display(description=_("public articles"), ordering="published_count")
    def published_articles(self, obj):
        return obj.published_count

    @admin.display(description=_("all articles"), ordering="article_count")
    def all_articles(self, obj):
        url = reverse("admin:articles_article_changelist")
        return format_html(
            '<a href="{}?section__id__exact={}">{}</a>', url, obj.pk, obj.article_count
        )


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "all_articles"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["name"]  # the counts' GROUP BY drops Meta.ordering

    def get_queryset(self, request):
        if is_autocomplete(request):
            return super().get_queryset(request)  # the article form's tag picker: names only
        return super().get_queryset(request).annotate(article_count=Count("articles"))

    @admin.display(description=_("articles"), ordering="article_count")
    def all_articles(self, obj):
        url = reverse("admin:articles_article_changelist")
        return format_html('<a href="{}?tags__id__exact={}">{}</a>', url, obj.pk, obj.article_count)
