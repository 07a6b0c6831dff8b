"""The statement of reasons and appeals, in the admin.

- Removing a comment asks for a reason (``RemovalForm``): the queue's bulk action
  through an intermediate page (``remove_selected_with_reason``), the change page's Remove
  button through a small form beside it, shown again with a message when no reason
  was chosen (``removal_page``). Both end in ``moderation.remove``.
- An appeal waits beside its comment: the queue's "appeal" filter (``AppealFilter``)
  and mark (``appeal_mark``), and on the comment's change page the appeal with its
  answer form (``appeal_panel``).
- ``AppealAdmin`` lists the appeals, open ones first; an open appeal's page is the
  answer form (outcome and answer, both required), which calls ``appeals.answer``;
  everything else on it is read-only, and an answered appeal can only be viewed.

``comments.admin`` imports this module before its ``CommentAdmin`` uses it, so nothing
here imports ``comments.admin``.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import F
from django.http import HttpResponseRedirect
from django.template.loader import get_template
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from comments import appeals
from comments.models import MAX_REMOVAL_NOTE_LENGTH, Appeal, Comment, RemovalReason

REMOVAL_LISTED = 100  # comments named on the bulk removal's page; the rest are counted
APPLY = "apply_removal"  # the intermediate page's submit: the reason is in this POST


def partial(name, context, request=None):
    """``admin/comments/comment/_<name>.html`` rendered (overridable like the desk's
    other partials; with ``request`` for a form's CSRF token)."""
    return get_template(f"admin/comments/comment/_{name}.html").render(context, request)


# --- removing with a statement of reasons -------------------------------------------
class RemovalForm(forms.Form):
    """The statement of reasons for a removal: a reason from the list, and the
    moderator's words (required for "other"; emailed to the commenter, never public)."""

    removal_reason = forms.ChoiceField(
        label=_("Reason for removing"),
        choices=[("", _("Choose a reason…")), *RemovalReason.choices],
        error_messages={"required": _("Choose the reason for removing.")},
    )
    removal_note = forms.CharField(
        label=_("Explanation for the commenter"),
        required=False,
        max_length=MAX_REMOVAL_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
        help_text=_("Required for “other”. Emailed to the commenter, never shown publicly."),
    )

    def clean_removal_note(self):
        return self.cleaned_data["removal_note"].strip()

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("removal_reason") == RemovalReason.OTHER and not cleaned_data.get(
            "removal_note"
        ):
            self.add_error(
                "removal_note",
                forms.ValidationError(
                    _("Explain the reason: the commenter is told it."), code="note_required"
                ),
            )
        return cleaned_data

    def statement(self):
        """The keyword arguments of ``moderation.remove`` this form stands for."""
        return {
            "removal_reason": self.cleaned_data["removal_reason"],
            "removal_note": self.cleaned_data["removal_note"],
        }


def removal_page(
    model_admin, request, comments, form, *, action_url, hidden, cancel_url, count=None
):
    """The page that asks for the reason before removing ``comments`` (the first
    ``REMOVAL_LISTED`` are named), posting ``hidden`` back to ``action_url``; with a
    message when a submitted form lacked its reason. Nothing is removed by it."""
    if form.is_bound:
        model_admin.message_user(
            request, gettext("Nothing was removed: give the reason first."), messages.ERROR
        )
    listed = list(comments[:REMOVAL_LISTED])
    count = len(listed) if count is None else count
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": gettext("Why remove these comments?")
        if count > 1
        else gettext("Why remove this comment?"),
        "comments": listed,
        "more": count - len(listed),
        "count": count,
        "form": form,
        "action_url": action_url,
        "hidden": hidden,
        "apply": APPLY,
        "cancel_url": cancel_url,
        "changelist_url": reverse("admin:comments_comment_changelist"),
    }
    return TemplateResponse(request, "admin/comments/comment/remove_reason.html", context)


def remove_selected_with_reason(model_admin, request, queryset):
    """The queue's "Remove selected comments": the reason page first; removed when it
    comes back with a reason (``None``: the admin then returns to the queue)."""
    form = RemovalForm(request.POST if APPLY in request.POST else None)
    if form.is_bound and form.is_valid():
        model_admin._run_action(request, queryset, "remove", **form.statement())
        return None
    hidden = [("action", "remove_selected")]
    if request.POST.get("select_across") == "1":
        hidden.append(("select_across", "1"))
    else:
        hidden += [
            (admin.helpers.ACTION_CHECKBOX_NAME, pk)
            for pk in request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        ]
    comments = queryset.select_related("article").order_by("-created_at", "-pk")
    return removal_page(
        model_admin,
        request,
        comments,
        form,
        action_url=request.get_full_path(),
        hidden=hidden,
        cancel_url=request.get_full_path(),
        count=comments.count(),
    )


def remove_comment_with_reason(model_admin, request, comment, action_url):
    """The change page's Remove button: removed with the posted reason, or the reason
    page (``None`` once removed)."""
    form = RemovalForm(request.POST)
    if form.is_valid():
        model_admin._run_action(
            request, Comment.objects.filter(pk=comment.pk), "remove", **form.statement()
        )
        return None
    hidden = [("_next", "1")] if "_next" in request.POST else []
    # Coming from the button with nothing chosen (no browser check without the
    # select's "required") is the same as the page's own form sent empty.
    return removal_page(
        model_admin,
        request,
        [comment],
        form,
        action_url=action_url,
        hidden=hidden,
        cancel_url=reverse("admin:comments_comment_change", args=[comment.pk]),
    )


# --- the appeal beside its comment -----------------------------------------------------
class AppealFilter(admin.SimpleListFilter):
    """The queue's appealed comments (whatever their status: choosing one shows every
    status), with how many appeals wait for an answer."""

    title = _("appeal")
    parameter_name = "appeal"
    OPEN, ANSWERED = "open", "answered"

    def lookups(self, request, model_admin):
        waiting = Appeal.objects.filter(answered_at__isnull=True).count()
        return [
            (self.OPEN, _("Appealed, awaiting an answer (%(count)d)") % {"count": waiting}),
            (self.ANSWERED, _("Appeal answered")),
        ]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                # An appealed comment is removed, or was: show every status.
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup, "status": "all"}
                ),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == self.OPEN:
            return queryset.filter(appeal__isnull=False, appeal__answered_at__isnull=True)
        if self.value() == self.ANSWERED:
            return queryset.filter(appeal__answered_at__isnull=False)
        return queryset


@admin.display(description=_("appeal"))
def appeal_mark(comment):
    """The queue's "appeal" cell: empty, "Appealed" (linking to the answer form), or
    the answer's outcome. Reads the appeal selected with the row (no query)."""
    appeal = getattr(comment, "appeal", None)
    if appeal is None:
        return None
    return partial("appeal_mark", {"appeal": appeal, "comment": comment})


def appeal_panel(request, comment):
    """The appeal shown at the top of ``comment``'s change page, with the answer form
    while it is open (for those who may answer it); "" without an appeal."""
    appeal = Appeal.objects.filter(comment=comment).select_related("answered_by").first()
    if appeal is None:
        return ""
    appeal_admin = admin.site.get_model_admin(Appeal)
    form = None
    if appeal.answered_at is None and appeal_admin.has_change_permission(request, appeal):
        form = AppealAnswerForm(instance=appeal, prefix=None)
    return partial(
        "appeal",
        {
            "appeal": appeal,
            "comment": comment,
            "form": form,
            "answer_url": reverse("admin:comments_appeal_change", args=[appeal.pk]),
            "return_to": request.get_full_path(),
        },
        request,
    )


# --- the appeals' own list and answer form ----------------------------------------------
class AppealAnswerForm(forms.ModelForm):
    """The moderator's one answer: uphold or reinstate, and words for the commenter."""

    outcome = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            (Appeal.Outcome.UPHELD, _("Uphold the removal")),
            (Appeal.Outcome.REINSTATED, _("Reinstate the comment")),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose: uphold the removal or reinstate the comment.")},
    )
    answer = forms.CharField(
        label=_("Answer to the commenter"),
        max_length=Appeal._meta.get_field("answer").max_length,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Emailed to the commenter with the decision."),
        error_messages={"required": _("Write the answer the commenter will receive.")},
    )

    class Meta:
        model = Appeal
        fields = ["outcome", "answer"]

    def clean_answer(self):
        answer = self.cleaned_data["answer"].strip()
        if not answer:
            raise forms.ValidationError(self.fields["answer"].error_messages["required"])
        return answer


class AppealStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Awaiting an answer")), ("answered", _("Answered"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(answered_at__isnull=True)
        if self.value() == "answered":
            return queryset.filter(answered_at__isnull=False)
        return queryset


@admin.register(Appeal)
class AppealAdmin(admin.ModelAdmin):
    form = AppealAnswerForm
    list_display = [
        "appeal_excerpt",
        "commenter",
        "removal_statement",
        "created_at",
        "state",
        "answered_by",
        "answered_at",
    ]
    list_display_links = ["appeal_excerpt"]
    list_filter = [AppealStateFilter, "outcome"]
    list_select_related = ["comment", "answered_by"]
    search_fields = ["comment__author_email", "comment__author_name", "body"]
    ordering = [F("answered_at").desc(nulls_first=True), "-created_at", "-pk"]
    show_full_result_count = False
    readonly_fields = [
        "comment_link",
        "commenter",
        "removal_statement",
        "comment_text",
        "body",
        "created_at",
        "answered_by",
        "answered_at",
    ]

    def get_fieldsets(self, request, obj=None):
        answer = ["outcome", "answer"]
        if obj is not None and obj.answered_at is not None:
            answer += ["answered_by", "answered_at"]
        return [
            (
                None,
                {
                    "fields": [
                        "comment_link",
                        "commenter",
                        "removal_statement",
                        "comment_text",
                        "body",
                        "created_at",
                    ]
                },
            ),
            (_("Answer"), {"fields": answer}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return [*self.readonly_fields, "outcome", "answer"]
        return self.readonly_fields

    # --- permissions: answered once, through the form; never added or deleted here ----
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (
            obj is None or obj.answered_at is None
        )

    # --- columns and read-only fields ---------------------------------------------------
    @admin.display(description=_("appeal"))
    def appeal_excerpt(self, obj):
        text = " ".join(obj.body.split())
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description=_("commenter"), ordering="comment__author_email")
    def commenter(self, obj):
        return f"{obj.comment.author_name} <{obj.comment.author_email}>"

    @admin.display(description=_("reason for the removal"))
    def removal_statement(self, obj):
        comment = obj.comment
        if not comment.removal_reason:
            return None
        label = comment.get_removal_reason_display()
        return f"{label}: {comment.removal_note}" if comment.removal_note else label

    @admin.display(description=_("state"), ordering="answered_at")
    def state(self, obj):
        if obj.answered_at is None:
            return gettext("Awaiting an answer")
        return obj.get_outcome_display()

    @admin.display(description=_("comment"))
    def comment_link(self, obj):
        return partial("appeal_comment_link", {"comment": obj.comment})

    @admin.display(description=_("comment as written"))
    def comment_text(self, obj):
        return obj.comment.body

    # --- answering ------------------------------------------------------------------
    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        may_reinstate = request.user.has_perm("comments.change_comment")

        class AnswerForm(form):
            def clean_outcome(self):
                outcome = self.cleaned_data["outcome"]
                if outcome == Appeal.Outcome.REINSTATED and not may_reinstate:
                    raise forms.ValidationError(
                        _("Only a moderator who may change comments can reinstate one."),
                        code="may_not_reinstate",
                    )
                return outcome

        return AnswerForm

    def save_model(self, request, obj, form, change):
        appeals.answer(
            obj,
            outcome=form.cleaned_data["outcome"],
            answer=form.cleaned_data["answer"],
            by=request.user,
        )

    def log_change(self, request, obj, message):
        # appeals.answer has logged the answer, on the appeal and on its comment.
        return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except appeals.AppealRefused as refused:
            # Another moderator answered first, or the comment changed meanwhile.
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def response_change(self, request, obj):
        """Back where the answer was given: the comment's page when answered there, or
        the list of appeals (the answered one can only be viewed now)."""
        self.message_user(
            request, gettext("The appeal was answered and the answer emailed."), messages.SUCCESS
        )
        return HttpResponseRedirect(
            return_to(request) or reverse("admin:comments_appeal_changelist")
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["return_to"] = return_to(request)
        if obj is not None:
            context["title"] = (
                gettext("Answer the appeal")
                if self.has_change_permission(request, obj)
                else gettext("View the appeal")
            )
        return super().render_change_form(request, context, add, change, form_url, obj)


def return_to(request):
    """The page an answer form came from (``_return_to``), if it is one of this site's."""
    url = request.POST.get("_return_to") or request.GET.get("_return_to") or ""
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if url and safe else ""
