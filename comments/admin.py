"""The moderation desk: the comment changelist is the moderation queue.

Every status change goes through ``comments.moderation`` (bulk actions and the
buttons on the change page alike), so each one records who and when and leaves
an admin ``LogEntry`` for the History page. Nothing here deletes comments in bulk.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import get_template
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy, pgettext_lazy

from articles.models import Article
from comments import commenters, moderation, priority, treewrites, wordlists
from comments.admin_appeals import (
    AppealFilter,
    RemovalForm,
    appeal_mark,
    appeal_panel,
    remove_comment_with_reason,
    remove_selected_with_reason,
)
from comments.admin_commenters import AuthorSanctionActions
from comments.models import Comment, CommentReport, Follow

Status = Comment.Status
REPORTS_SHOWN = 200  # on a comment's page, newest first

# (action name, moderation function, target status, button label, past-tense message;
# the message's plural form is chosen by its "count" when formatted)
MODERATION_ACTIONS = {
    "approve": (
        moderation.approve,
        Status.APPROVED,
        _("Approve"),
        ngettext_lazy(
            "%(count)d comment was approved.", "%(count)d comments were approved.", "count"
        ),
    ),
    "spam": (
        moderation.mark_spam,
        Status.SPAM,
        _("Mark as spam"),
        ngettext_lazy(
            "%(count)d comment was marked as spam.",
            "%(count)d comments were marked as spam.",
            "count",
        ),
    ),
    "remove": (
        moderation.remove,
        Status.REMOVED,
        _("Remove"),
        ngettext_lazy(
            "%(count)d comment was removed.", "%(count)d comments were removed.", "count"
        ),
    ),
    "restore": (
        moderation.restore,
        Status.PENDING,
        _("Restore to pending"),
        ngettext_lazy(
            "%(count)d comment was restored to the queue.",
            "%(count)d comments were restored to the queue.",
            "count",
        ),
    ),
}


FEATURE, UNFEATURE = "feature", "unfeature"  # the values of the change page's _feature


def feature_button(comment):
    """The change page's button: Unfeature for an editors' pick (whatever its status),
    Feature for an approved comment, none otherwise."""
    if comment.featured_at is not None:
        value, label = UNFEATURE, _("Unfeature")
    elif comment.is_public:
        value, label = FEATURE, _("Feature as editors' pick")
    else:
        return None
    return {
        "url": reverse("admin:comments_comment_feature", args=[comment.pk]),
        "value": value,
        "label": label,
        "featured": comment.featured_at is not None,
    }


# The keyboard (comments/admin-keys.js) on a comment's page: approving and marking spam
# click the "… and open next pending" button; "r" clicks Remove in #comment-remove-form
# (which asks for the reason) and "f" #feature-button.
NEXT_BUTTON_KEYS = {"approve": "a", "spam": "s"}
QUEUE_STEPS = ("next", "previous", "next-pending")


def render_partial(name, **context):
    """One of the desk's small templates, ``admin/comments/comment/_<name>.html`` (its
    markup, overridable like any admin template). Loaded once by Django's cached
    loader, so a changelist of 100 rows costs a dictionary lookup and a render per cell."""
    return get_template(f"admin/comments/comment/_{name}.html").render(context)


def comment_admin_url(pk):
    return reverse("admin:comments_comment_change", args=[pk])


def preview_url(comment):
    """The staff preview of ``comment``'s thread, scrolled to the comment."""
    return reverse("admin:comments_comment_preview", args=[comment.pk]) + f"#comment-{comment.pk}"


def may_preview(request):
    """Whether the request's user may open the preview: the admin's own rule (active
    staff, see ``AdminSite.has_permission``) and permission to view comments."""
    return admin.site.has_permission(request) and admin.site.get_model_admin(
        Comment
    ).has_view_permission(request)


def article_autocomplete(admin_site):
    """The admin's autocomplete widget for ``Comment.article`` (select2, asking the
    admin's ``autocomplete/`` view, which searches ``ArticleAdmin``)."""
    return AutocompleteSelect(Comment._meta.get_field("article"), admin_site)


def reason_label(reason):
    if not reason:
        return _("no reason given")
    return CommentReport.Reason(reason).label


def reports_summary(counts):
    """The queue's summary of a comment's reports, e.g. "3 reports, 1 counted: Spam ×2,
    Illegal content", from ``{reason: (reports, counted)}``."""
    total = sum(reports for reports, _counted in counts.values())
    counted = sum(counted for _reports, counted in counts.values())
    heading = ngettext("%(count)d report", "%(count)d reports", total) % {"count": total}
    if counted != total:
        heading += _(", %(counted)d counted") % {"counted": counted}
    reasons = ", ".join(
        str(reason_label(reason)) + (f" ×{reports}" if reports > 1 else "")
        for reason, (reports, _counted) in sorted(
            counts.items(), key=lambda item: (-item[1][0], item[0])
        )
    )
    return f"{heading}: {reasons}"


class QueueChangeList(ChangeList):
    """The queue's page of comments, each reported one with its reports' reasons
    (one grouped query for the whole page, none per row).

    The pending view (the default) is in priority order, highest first, each row with
    its priority and the reasons for it (``comments.priority``), unless a column
    header asks for another order; the other views stay newest first.
    """

    def __init__(self, request, *args, **kwargs):
        self.in_priority_order = StatusFilter.shows_pending(request)
        self.now = timezone.now()
        super().__init__(request, *args, **kwargs)

    def get_queryset(self, request, exclude_parameters=None):
        if self.in_priority_order and "priority" not in self.root_queryset.query.annotations:
            self.root_queryset = self.root_queryset.with_priority(self.now)
        return super().get_queryset(request, exclude_parameters)

    def get_ordering(self, request, queryset):
        if self.in_priority_order and not self.params.get(ORDER_VAR):
            return list(priority.QUEUE_ORDER)
        return super().get_ordering(request, queryset)

    def get_ordering_field_columns(self):
        if self.in_priority_order and ORDER_VAR not in self.params:
            return {
                index: "desc"
                for index, name in enumerate(self.list_display)
                if name == "priority_summary"
            }
        return super().get_ordering_field_columns()

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)  # fills the queryset's cache; the page reuses it
        reported = [comment.pk for comment in rows if comment.report_count]
        summaries = CommentReport.objects.summaries_by_comment(reported) if reported else {}
        word_lists = wordlists.current()  # once for the page: one cache read
        for comment in rows:
            counts = summaries.get(comment.pk)
            comment.reports_summary = reports_summary(counts) if counts else None
            comment.marked_excerpt = wordlists.excerpt(comment.body, lists=word_lists)
        if self.in_priority_order:
            for comment in rows:
                comment.priority_reasons = priority.reasons(comment, self.now)


# --- filters -----------------------------------------------------------------------
class StatusFilter(admin.SimpleListFilter):
    """The queue by default: pending comments; one click for the others or all."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"
    REPORTED = "reported"

    def lookups(self, request, model_admin):
        return [
            *Status.choices,
            (self.REPORTED, _("Reported by readers")),
        ]

    def value(self):
        return super().value() or Status.PENDING

    @classmethod
    def shows_pending(cls, request):
        """Whether ``request`` opens the pending view (the queue, and the default)."""
        return (request.GET.get(cls.parameter_name) or Status.PENDING) == Status.PENDING

    def choices(self, changelist):
        value = self.value()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }
        yield {
            "selected": value == self.ALL,
            "query_string": changelist.get_query_string({self.parameter_name: self.ALL}),
            "display": _("All"),
        }

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.ALL:
            return queryset
        if value == self.REPORTED:
            return queryset.filter(report_count__gt=0)
        if value in Status.values:
            return queryset.filter(status=value)
        return queryset.none()


class ArticleFilter(admin.ListFilter):
    """By article, however many there are: never a list of every article.

    With JavaScript, the admin's own autocomplete (select2 asking the admin's
    ``autocomplete/`` view, which searches ``ArticleAdmin``) picks one article and
    ``comments/admin-article-filter.js`` opens ``?article__id__exact=<id>``. Without
    it, a GET form searches titles (``?article_q=``): the queue shows comments on
    every matching article and the first few matches are offered as links.
    """

    title = _("article")
    template = "admin/comments/comment/article_filter.html"
    # The parameter the article list's "N pending" links have always used.
    parameter_name = "article__id__exact"
    search_parameter = "article_q"
    MATCHES_SHOWN = 10
    SEARCH_MAX_LENGTH = 200

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1]
        raw_id = self.used_parameters.get(self.parameter_name, "")
        try:
            self.article_id = int(raw_id) if raw_id != "" else None
        except ValueError as error:
            raise IncorrectLookupParameters(error) from error
        search = self.used_parameters.get(self.search_parameter, "")
        self.search = " ".join(search.split())[: self.SEARCH_MAX_LENGTH]
        self.selected_title = None
        if self.article_id is not None:
            self.selected_title = (
                Article.objects.filter(pk=self.article_id).values_list("title", flat=True).first()
            )
        article_admin = model_admin.admin_site.get_model_admin(Article)
        # The autocomplete view answers only those who may view articles.
        self.autocomplete = article_admin.has_view_permission(request)
        self.widget = article_autocomplete(model_admin.admin_site)

    def autocomplete_attrs(self):
        """The select's attributes, as ``AutocompleteSelect`` writes them for a form."""
        return self.widget.build_attrs(
            {"id": "comments-article-filter", "class": "comments-article-select"},
            {"data-width": "100%"},
        )

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_name, self.search_parameter]

    def queryset(self, request, queryset):
        if self.article_id is not None:
            queryset = queryset.filter(article_id=self.article_id)
        if self.search:
            queryset = queryset.filter(article__title__icontains=self.search)
        return queryset

    def matches(self):
        """The first articles whose title contains the searched text (no-JS fallback)."""
        if not self.search:
            return []
        return list(
            Article.objects.filter(title__icontains=self.search)
            .order_by("-published_at", "-pk")
            .values_list("pk", "title")[: self.MATCHES_SHOWN]
        )

    def choices(self, changelist):
        # The template also needs the URL without this filter and the other parameters
        # for the search form (a GET form replaces the whole query string).
        self.reset_query = changelist.get_query_string(remove=self.expected_parameters())
        self.kept_parameters = [
            (name, value)
            for name, values in changelist.filter_params.items()
            if name not in self.expected_parameters()
            for value in values
        ]
        yield {
            "selected": self.article_id is None and not self.search,
            "query_string": self.reset_query,
            "display": _("All"),
        }
        if self.article_id is not None:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: self.article_id}, remove=[self.search_parameter]
                ),
                "display": self.selected_title or _("(no such article)"),
            }
        if self.search:
            yield {
                "selected": self.article_id is None,
                "query_string": changelist.get_query_string(
                    {self.search_parameter: self.search}, remove=[self.parameter_name]
                ),
                "display": _("Title contains “%(text)s”") % {"text": self.search},
            }
            for pk, title in self.matches():
                if pk != self.article_id:
                    yield {
                        "selected": False,
                        "query_string": changelist.get_query_string(
                            {self.parameter_name: pk}, remove=[self.search_parameter]
                        ),
                        "display": title,
                    }


class ReportedFilter(admin.SimpleListFilter):
    title = _("reported")
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return [("yes", _("Reported")), ("no", _("Not reported"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(report_count__gt=0)
        if self.value() == "no":
            return queryset.filter(report_count=0)
        return queryset


class HeldByRuleFilter(admin.SimpleListFilter):
    """Comments an automatic rule held ("held: 3 links", "held: suspect word …")."""

    title = _("held by a rule")
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", _("Held by a rule"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.held_by_rule()
        return queryset


class CommenterFilter(admin.SimpleListFilter):
    """By what is known of the commenter: new (nothing approved yet), or under a
    sanction in force on their email address (one ``EXISTS``)."""

    title = _("commenter")
    parameter_name = "commenter_is"

    def lookups(self, request, model_admin):
        return [("new", _("New commenters")), ("sanctioned", _("Under a sanction"))]

    def queryset(self, request, queryset):
        if self.value() == "new":
            return queryset.from_new_commenters()
        if self.value() == "sanctioned":
            return queryset.from_sanctioned_commenters()
        return queryset


class IsReplyFilter(admin.SimpleListFilter):
    title = _("is a reply")
    parameter_name = "is_reply"

    def lookups(self, request, model_admin):
        # A noun here ("a reply"); the comment's own "Reply" link is a verb.
        return [("yes", pgettext_lazy("kind of comment", "Reply")), ("no", _("New thread"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(parent__isnull=False)
        if self.value() == "no":
            return queryset.filter(parent__isnull=True)
        return queryset


# --- the comment admin ---------------------------------------------------------------
class CommentAdminForm(forms.ModelForm):
    def clean_parent(self):
        """A move the tree can take: never under the comment itself or its replies
        (``treewrites.move`` checks again under the locks)."""
        parent = self.cleaned_data.get("parent")
        comment = self.instance
        if (
            parent is not None
            and comment.pk
            and parent.is_descendant_of(comment, include_self=True)
        ):
            raise forms.ValidationError(
                _("A comment can't be a reply to itself or to one of its replies."),
                code="invalid_parent",
            )
        return parent


@admin.register(Comment)
class CommentAdmin(AuthorSanctionActions, admin.ModelAdmin):
    list_display = [
        "excerpt",
        "priority_summary",  # the pending view only (get_list_display)
        "author",
        "article_link",
        "thread_context",
        "depth",
        "status_badge",
        appeal_mark,  # an appeal against the removal: open, or its outcome
        "featured_mark",
        "report_summary",
        "created_at",
        "ip_address",
    ]
    list_display_links = ["excerpt"]
    list_filter = [
        StatusFilter,
        ArticleFilter,
        ("created_at", admin.DateFieldListFilter),
        ReportedFilter,
        HeldByRuleFilter,
        CommenterFilter,
        IsReplyFilter,
        AppealFilter,
    ]
    search_fields = ["author_name", "author_email", "ip_address", "body"]
    # Not on the form (a comment stays on its article); it declares the autocomplete
    # that the "By article" filter uses.
    autocomplete_fields = ["article"]
    list_select_related = ["article", "parent"]
    list_per_page = 100
    # The paginator's count is enough; skip the second COUNT(*) over the whole table.
    show_full_result_count = False
    ordering = ["-created_at", "-pk"]
    actions = [
        "approve_selected",
        "spam_selected",
        "remove_selected",
        "restore_selected",
        "feature_selected",
        "unfeature_selected",
        # comments.admin_commenters.AuthorSanctionActions
        "ban_authors",
        "suspend_authors_1_day",
        "suspend_authors_7_days",
    ]
    raw_id_fields = ["parent"]
    readonly_fields = [
        "status_badge",
        "featured_state",
        "moderation_reason",
        "words_found",
        "article_link",
        "thread",
        "revisions_list",
        "moderation_history",
        "report_count",
        "reports_list",
        "created_at",
        "edited_at",
        "ip_address",
        "user_agent",
        "user",
        "moderated_by",
        "moderated_at",
    ]
    fieldsets = [
        (
            _("Moderation"),
            {
                "fields": [
                    "status_badge",
                    "moderation_reason",
                    "words_found",
                    "featured_state",
                    "moderated_by",
                    "moderated_at",
                ]
            },
        ),
        (_("In context"), {"fields": ["article_link", "thread"]}),
        (_("Reader reports"), {"fields": ["reports_list"]}),
        (
            _("Comment"),
            {"fields": ["author_name", "author_email", "author_url", "body", "parent"]},
        ),
        (
            _("Details"),
            {
                "fields": [
                    "created_at",
                    "edited_at",
                    "ip_address",
                    "user_agent",
                    "user",
                    "notify_replies",
                    "report_count",
                ]
            },
        ),
        (_("History"), {"fields": ["moderation_history", "revisions_list"]}),
    ]
    change_form_template = "admin/comments/comment/change_form.html"
    form = CommentAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @property
    def media(self):
        # The "By article" filter's autocomplete and the script that follows it. The
        # desk's stylesheet comes with every admin page (templates/admin/base_site.html).
        return (
            super().media
            + article_autocomplete(self.admin_site).media
            + forms.Media(js=["comments/admin-article-filter.js", "comments/admin-keys.js"])
        )

    def view_on_site(self, obj):
        """Readers' permalink for a public comment; the staff preview for the others
        (pending, spam, removed, or on an article readers can't see)."""
        if obj.is_public and obj.article.is_public:
            return obj.get_absolute_url()
        return preview_url(obj)

    # --- permissions ---------------------------------------------------------
    def has_add_permission(self, request):
        # Comments come from readers (or imports), never typed into the admin.
        return False

    def has_delete_permission(self, request, obj=None):
        """Only superusers delete, one comment at a time, and never one with replies."""
        if not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- columns -----------------------------------------------------------------
    @admin.display(description=_("comment"))
    def excerpt(self, obj):
        """The excerpt with the listed words it shows marked (``wordlists.excerpt``)."""
        return getattr(obj, "marked_excerpt", None) or obj.excerpt

    @admin.display(description=_("priority"), ordering="priority")
    def priority_summary(self, obj):
        """The pending comment's priority and why, e.g. "82 — 3 reports · held: 3 links ·
        new commenter · waiting 2 hours" (``comments.priority``)."""
        if getattr(obj, "priority", None) is None:
            return None
        return render_partial(
            "priority", score=obj.priority, reasons=getattr(obj, "priority_reasons", [])
        )

    def get_list_display(self, request):
        """The priority column belongs to the pending view, the only one in its order."""
        columns = list(super().get_list_display(request))
        if not StatusFilter.shows_pending(request):
            columns.remove("priority_summary")
        return columns

    @admin.display(description=_("author"), ordering="author_name")
    def author(self, obj):
        return render_partial("author", comment=obj)

    @admin.display(description=_("article"), ordering="article__title")
    def article_link(self, obj):
        return render_partial("article_link", article=obj.article)

    @admin.display(description=_("thread"))
    def thread_context(self, obj):
        return render_partial("thread_context", comment=obj)

    @admin.display(description=_("depth"), ordering="level")
    def depth(self, obj):
        return obj.depth

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return render_partial(
            "status",
            status=obj.status,
            label=Status(obj.status).label,
            reason=obj.moderation_reason,
        )

    @admin.display(description=_("editors' pick"), ordering="featured_at")
    def featured_mark(self, obj):
        """The queue's mark of an editors' pick (out of sight while not approved)."""
        return render_partial("featured", comment=obj) if obj.featured_at else None

    @admin.display(description=_("editors' pick"))
    def featured_state(self, obj):
        """On the comment's page: an editors' pick since when and by whom, or not."""
        if obj.featured_at is None:
            return _("No")
        return render_partial("featured", comment=obj, detail=True, featured_by=obj.featured_by)

    @admin.display(description=_("reports"), ordering="report_count")
    def report_summary(self, obj):
        """How many reports, with their reasons ("3 reports: Spam ×2, Illegal content");
        the admin's empty mark when there are none, so reported rows stand out."""
        return getattr(obj, "reports_summary", None) or obj.report_count or None

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    # --- the change page, read-only context ----------------------------------------
    def get_queryset(self, request):
        # The appeal (a reverse one-to-one, usually none) for the queue's mark and the
        # change page: a LEFT JOIN, not a query per row.
        return super().get_queryset(request).select_related("article", "parent", "appeal")

    @admin.display(description=_("thread"))
    def thread(self, obj):
        """Ancestors (each linked), this comment, and its direct replies."""
        if obj.pk is None:
            return "—"
        ancestors = list(obj.get_ancestors())
        replies = list(obj.get_children().order_by("lft"))
        return render_partial(
            "thread",
            ancestors=[(min(index, 6), ancestor) for index, ancestor in enumerate(ancestors)],
            comment=obj,
            replies=replies,
            replies_heading=ngettext(
                "%(count)d direct reply:", "%(count)d direct replies:", len(replies)
            )
            % {"count": len(replies)},
        )

    @admin.display(description=_("words found"))
    def words_found(self, obj):
        """The banned and suspect words in the comment, marked in its text."""
        if obj.pk is None:
            return "—"
        word_lists = wordlists.current()
        fields = [
            (_("name"), obj.author_name),
            (_("email"), obj.author_email),
            (_("website"), obj.author_url),
            (_("text"), obj.body),
        ]
        found = [
            (label, match) for label, value in fields for match in wordlists.find(value, word_lists)
        ]
        matches = wordlists.find(obj.body, word_lists)
        return render_partial(
            "words_found", found=found, text=wordlists.highlight(obj.body, matches)
        )

    @admin.display(description=_("reader reports"))
    def reports_list(self, obj):
        """Each report, newest first: when, reason and explanation, whether it counted,
        the reporter's network and (staff only: this is the admin) email."""
        if obj.pk is None:
            return "—"
        reports = obj.reports.select_related("user").order_by("-created_at", "-pk")
        return render_partial("reports", reports=list(reports[:REPORTS_SHOWN]))

    @admin.display(description=_("moderation history"))
    def moderation_history(self, obj):
        if obj.pk is None:
            return "—"
        entries = (
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Comment), object_id=str(obj.pk)
            )
            .select_related("user")
            .order_by("-action_time")
        )
        return render_partial("history", entries=list(entries[:50]))

    @admin.display(description=_("earlier versions"))
    def revisions_list(self, obj):
        if obj.pk is None:
            return "—"
        return render_partial("revisions", revisions=list(obj.revisions.all()))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except treewrites.InvalidMove:
            # Another moderator moved the new parent under this comment after the form
            # was checked: the locked re-check refused it and nothing was saved.
            self.message_user(
                request,
                _(
                    "This comment was not moved: meanwhile its new parent became one of "
                    "its replies. Check the thread and try again."
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None and self.has_change_permission(request, obj):
            extra_context["moderation_buttons"] = [
                {
                    "name": name,
                    "label": label,
                    "url": reverse("admin:comments_comment_moderate", args=[obj.pk, name]),
                }
                for name, (_function, target, label, _messages) in MODERATION_ACTIONS.items()
                if obj.status != target
            ]
            extra_context["feature_button"] = feature_button(obj)
            extra_context["removal_form"] = RemovalForm()  # the Remove button's reason
            for button in extra_context["moderation_buttons"]:
                button["next_key"] = NEXT_BUTTON_KEYS.get(button["name"])
        if obj is not None:
            extra_context["queue_links"] = {
                step.replace("-", "_"): reverse(
                    "admin:comments_comment_queue_step", args=[obj.pk, step]
                )
                for step in QUEUE_STEPS
            }
        if obj is not None:
            extra_context["appeal_panel"] = appeal_panel(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    # --- saving and deleting (tree writes take the tree locks) --------------------------
    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            previous_commenter = obj.commenter_id
            if "author_email" in form.changed_data:
                commenters.assign([obj])  # a corrected address: that person's comment
            if change and "parent" in form.changed_data:
                # Moving a comment shifts two trees: django-mptt's move, under their locks.
                treewrites.move(obj, parent=obj.parent)  # comments.signals invalidates
            else:
                super().save_model(request, obj, form, change)  # comments.signals invalidates
            if obj.commenter_id != previous_commenter:
                commenters.refresh_stats({previous_commenter, obj.commenter_id})

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        has_replies = obj is not None and obj.get_descendant_count() > 0
        if has_replies and self.has_delete_permission(request, obj):
            self.message_user(
                request,
                _(
                    "This comment has replies, so it cannot be deleted. Remove it "
                    "instead: the replies stay visible under a placeholder."
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(comment_admin_url(obj.pk))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        try:
            with transaction.atomic():
                # Under the tree's lock; comments.signals invalidates the article's pages.
                treewrites.delete_leaf(obj)
                commenters.refresh_stats({obj.commenter_id})
        except treewrites.HasReplies as error:
            raise PermissionDenied(str(error)) from error

    # --- actions -------------------------------------------------------------------
    def _run_action(self, request, queryset, name, **options):
        function, _target, _label, message = MODERATION_ACTIONS[name]
        count = function(queryset, by=request.user, **options)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
        return count

    @admin.action(description=_("Approve selected comments"), permissions=["change"])
    def approve_selected(self, request, queryset):
        self._run_action(request, queryset, "approve")

    @admin.action(description=_("Mark selected comments as spam"), permissions=["change"])
    def spam_selected(self, request, queryset):
        self._run_action(request, queryset, "spam")

    @admin.action(description=_("Remove selected comments"), permissions=["change"])
    def remove_selected(self, request, queryset):
        """Asks for the statement of reasons first (an intermediate page)."""
        return remove_selected_with_reason(self, request, queryset)

    @admin.action(description=_("Restore selected comments to pending"), permissions=["change"])
    def restore_selected(self, request, queryset):
        self._run_action(request, queryset, "restore")

    @admin.action(description=_("Feature selected comments"), permissions=["change"])
    def feature_selected(self, request, queryset):
        self._feature(request, queryset, FEATURE)

    @admin.action(description=_("Unfeature selected comments"), permissions=["change"])
    def unfeature_selected(self, request, queryset):
        self._feature(request, queryset, UNFEATURE)

    def _feature(self, request, queryset, action):
        """Feature or unfeature ``queryset`` (``moderation.feature``/``unfeature``) and
        say how many changed, and why some could not be featured."""
        if action == FEATURE:
            count = moderation.feature(queryset, by=request.user)
            message = ngettext(
                "%(count)d comment is now an editors' pick.",
                "%(count)d comments are now editors' picks.",
                count,
            )
            self.message_user(request, message % {"count": count}, messages.SUCCESS)
            refused = queryset.exclude(status=Status.APPROVED).count()
            if refused:
                message = ngettext(
                    "%(count)d comment was not featured: only approved comments can be.",
                    "%(count)d comments were not featured: only approved comments can be.",
                    refused,
                )
                self.message_user(request, message % {"count": refused}, messages.WARNING)
        else:
            count = moderation.unfeature(queryset, by=request.user)
            message = ngettext(
                "%(count)d comment is no longer an editors' pick.",
                "%(count)d comments are no longer editors' picks.",
                count,
            )
            self.message_user(request, message % {"count": count}, messages.SUCCESS)
        return count

    # --- the buttons on the change page ------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<int:pk>/moderate/<slug:action>/",
                self.admin_site.admin_view(self.moderate_view),
                name="comments_comment_moderate",
            ),
            path(
                "queue/top/",
                self.admin_site.admin_view(self.queue_view),
                name="comments_comment_queue_top",
            ),
            path(
                "<int:pk>/queue/<slug:step>/",
                self.admin_site.admin_view(self.queue_view),
                name="comments_comment_queue_step",
            ),
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="comments_comment_preview",
            ),
            path(
                "<int:pk>/feature/",
                self.admin_site.admin_view(self.feature_view),
                name="comments_comment_feature",
            ),
            *super().get_urls(),
        ]

    def moderate_view(self, request, pk, action):
        """One action on one comment, from the change page's buttons (POST, CSRF-checked
        by ``admin_view``)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in MODERATION_ACTIONS:
            raise PermissionDenied
        comment = get_object_or_404(Comment, pk=pk)
        if not self.has_change_permission(request, comment):
            raise PermissionDenied
        # Where the comment stands in the queue, read before the action moves it out.
        queue_key = (
            priority.position(comment.pk, timezone.now()) if "_next" in request.POST else None
        )
        if action == "remove":  # with its statement of reasons, or the page asking for it
            asking = remove_comment_with_reason(self, request, comment, request.path)
            if asking is not None:
                return asking
        else:
            self._run_action(request, Comment.objects.filter(pk=comment.pk), action)
        next_url = comment_admin_url(comment.pk)
        if queue_key is not None:
            # The next pending comment in the queue's order, else the queue's top (those
            # skipped before this one), else the empty queue.
            now = timezone.now()
            following = priority.following(queue_key, now) or priority.first(now, exclude=pk)
            if following is not None:
                next_url = comment_admin_url(following)
            else:
                next_url = reverse("admin:comments_comment_changelist")
        return HttpResponseRedirect(next_url)

    def queue_view(self, request, pk=None, step=None):
        """The way through the queue for links and keys (GET: it only navigates): its
        top; from comment ``pk`` the next or previous comment in the queue's order; or
        the next pending one (after ``pk``, else from the top again)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if pk is not None and step not in QUEUE_STEPS:
            raise Http404
        now = timezone.now()
        if pk is None:
            target = priority.first(now)
        else:
            key = priority.position(pk, now)
            if key is None:
                raise Http404
            if step == "previous":
                target = priority.preceding(key, now)
            else:
                target = priority.following(key, now)
                if target is None and step == "next-pending":
                    target = priority.first(now, exclude=pk)
        if target is not None:
            return HttpResponseRedirect(comment_admin_url(target))
        if pk is None or step == "next-pending":
            self.message_user(request, _("No comments are waiting."), messages.INFO)
            return HttpResponseRedirect(reverse("admin:comments_comment_changelist"))
        if step == "previous":
            self.message_user(request, _("This is the first comment in the queue."), messages.INFO)
        else:
            self.message_user(request, _("This is the last comment in the queue."), messages.INFO)
        return HttpResponseRedirect(comment_admin_url(pk))

    def feature_view(self, request, pk):
        """The change page's Feature/Unfeature button (``#feature-button``, POST with
        ``_feature=feature`` or ``unfeature``, CSRF-checked by ``admin_view``)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        action = request.POST.get("_feature")
        if action not in (FEATURE, UNFEATURE):
            raise PermissionDenied
        comment = get_object_or_404(Comment, pk=pk)
        if not self.has_change_permission(request, comment):
            raise PermissionDenied
        self._feature(request, Comment.objects.filter(pk=comment.pk), action)
        return HttpResponseRedirect(comment_admin_url(comment.pk))

    # --- the preview behind "View on site" -------------------------------------------
    def preview_view(self, request, pk):
        """The whole thread of comment ``pk``, every status shown and marked, the comment
        highlighted: what "View on site" opens for a comment readers can't see.
        Two queries (the comment with its article, then its thread), whatever the size."""
        comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
        if not self.has_view_permission(request, comment):
            raise PermissionDenied
        thread = list(
            Comment.objects.filter(tree_id=comment.tree_id)
            .order_by("lft")
            .only(
                "pk", "parent_id", "tree_id", "lft", "rght", "level", "status",
                "author_name", "author_url", "body_html", "created_at", "edited_at",
                "moderation_reason",
            )
        )  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Preview of a comment in its thread"),
            "subtitle": str(comment),
            "comment": comment,
            "article": comment.article,
            "thread": thread,
            "change_url": comment_admin_url(comment.pk),
            "changelist_url": reverse("admin:comments_comment_changelist"),
        }
        return TemplateResponse(request, "admin/comments/comment/preview.html", context)


@admin.register(CommentReport)
class CommentReportAdmin(admin.ModelAdmin):
    """Read-only: every report, with its reason, and whether it counted towards the
    threshold (one per reader since the last moderator decision)."""

    list_display = ["comment", "reason", "explanation_excerpt", "counted", "created_at", "network"]
    list_filter = ["reason", "counted"]
    list_select_related = ["comment"]
    raw_id_fields = ["comment"]
    show_full_result_count = False
    date_hierarchy = None

    @admin.display(description=_("explanation"))
    def explanation_excerpt(self, obj):
        text = " ".join(obj.explanation.split())
        return text if len(text) <= 80 else text[:79] + "…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    """Who follows which discussion (comments.follows), and the preview of every email
    the comments app sends (its change list links to it)."""

    list_display = ["email", "article", "scope", "delivery", "confirmed_at"]
    list_filter = ["scope", "delivery"]
    search_fields = ["email", "article__title"]
    list_select_related = ["article"]
    raw_id_fields = ["article", "user"]

    def get_urls(self):
        preview = self.admin_site.admin_view(self.email_preview_view)
        return [
            path("email-preview/", preview, name="comments_email_preview"),
            *super().get_urls(),
        ]

    def email_preview_view(self, request):
        if not request.user.has_perm("comments.change_comment"):
            raise PermissionDenied
        from comments.follows import email_previews

        context = {
            **self.admin_site.each_context(request),
            "title": _("Email preview"),
            "previews": email_previews(),
        }
        return TemplateResponse(request, "comments/follow_email_preview.html", context)


# The rest of the desk, registered with the admin site when this module is imported:
# commenters and sanctions, the word lists, appeals, erasure requests (read-only).
from comments import (  # noqa: E402, F401
    admin_appeals,
    admin_commenters,
    admin_privacy,
    admin_wordlists,
)
