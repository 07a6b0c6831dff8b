"""The desk's people: commenters, the sanctions set on them, moderators' notes, and the
queue's actions against the authors of selected comments.

A commenter's change page is the commenter page: who they are, every comment of theirs,
their IP addresses, sanctions and notes, and forms to warn, suspend, ban, pre-moderate
or lift. Nothing here writes a sanction itself: every one is set and lifted through
``comments.moderation`` (atomic, in the admin log), and nothing is ever deleted.
Notes are append-only. Each page reads a fixed number of queries, however many
comments or commenters there are.
"""

import ipaddress
from copy import copy
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, Count, Exists, F, Max, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Concat, Lower, StrIndex, Substr, Trim
from django.db.models.lookups import EndsWith
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import get_template
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.ipv6 import clean_ipv6_address
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from comments import moderation, sanctions
from comments.models import MAX_NOTE_LENGTH, Comment, Commenter, CommenterNote, Sanction

Kind = Sanction.Kind
Target = Sanction.Target

COMMENTS_PER_PAGE = 25  # on a commenter's page; the queue shows them all
ADDRESSES_SHOWN = 50  # IP addresses on a commenter's page, most recently used first
SANCTIONS_SHOWN = 100  # newest first, those in force before the others
AUTHORS_SHOWN = 100  # on the queue actions' confirmation page

# The strongest restriction first, when several are in force at once.
SEVERITY = Case(
    When(kind=Kind.BAN, then=Value(0)),
    When(kind=Kind.SUSPENSION, then=Value(1)),
    default=Value(2),
)


def render(partial, **context):
    """One of this module's partials, ``admin/comments/commenter/_<partial>.html``."""
    return get_template(f"admin/comments/commenter/_{partial}.html").render(context)


def commenter_url(pk):
    return reverse("admin:comments_commenter_change", args=[pk])


def sanction_url(pk):
    return reverse("admin:comments_sanction_change", args=[pk])


def may(request, codename):
    return request.user.has_perm(f"comments.{codename}")


def percent(rate):
    return f"{rate:.0%}"


# --- which sanctions concern a commenter ---------------------------------------------
def sanctions_on_outer():
    """Sanctions on the commenter of the outer query (``OuterRef``): set on them, on
    their email address, or on their email's domain or a parent domain of it (as
    ``comments.sanctions`` applies them). Network sanctions apply to where a comment
    comes from, not to a person: the commenter page shows those on their addresses."""
    email = OuterRef("email")
    domain = Substr(email, StrIndex(email, Value("@")) + 1)
    return (
        Q(commenter=OuterRef("pk"))
        | Q(target_type=Target.EMAIL, target=email)
        | Q(target_type=Target.DOMAIN, target=domain)
        | Q(EndsWith(domain, Concat(Value("."), F("target"))), target_type=Target.DOMAIN)
    )


def sanctions_on(commenter, addresses=()):
    """The sanctions concerning ``commenter``: set on them, on their email address or
    its domains, and (``addresses``: IP addresses they used) on networks holding one of
    those addresses."""
    concerning = (
        Q(commenter=commenter)
        | Q(target_type=Target.EMAIL, target=commenter.email)
        | Q(target_type=Target.DOMAIN, target__in=sanctions._domains_covering(commenter.email))
    )
    for address in addresses:
        address_hex = sanctions.address_hex(address)
        if address_hex is not None:
            concerning |= Q(
                target_type=Target.NETWORK,
                network_start__lte=address_hex,
                network_end__gte=address_hex,
            )
    return Sanction.objects.filter(concerning)


def with_sanction_in_force(queryset, now=None):
    """``queryset`` of commenters annotated with ``sanction_kind``: the strongest
    sanction in force on each (a subquery in the same query), or None."""
    in_force = (
        Sanction.objects.in_force(now)
        .filter(sanctions_on_outer())
        .order_by(SEVERITY, "-created_at")
        .values("kind")[:1]
    )
    return queryset.annotate(sanction_kind=Subquery(in_force))


def ip_address_or_none(text):
    """``text`` spelt as comments store an IP address (Django's spelling: IPv6
    compressed, IPv4-mapped as ``::ffff:a.b.c.d``), or None when it is none."""
    text = text.strip().strip("[]")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return clean_ipv6_address(text) if address.version == 6 else str(address)


# --- the commenter list's filters ------------------------------------------------------
class SanctionedNowFilter(admin.SimpleListFilter):
    title = _("sanctioned now")
    parameter_name = "sanctioned"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("Sanctioned now")),
            (Kind.BAN, _("Banned")),
            (Kind.SUSPENSION, _("Suspended")),
            ("no", _("Not sanctioned")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "yes":
            return queryset.filter(sanction_kind__isnull=False)
        if value == "no":
            return queryset.filter(sanction_kind__isnull=True)
        if value in (Kind.BAN, Kind.SUSPENSION):
            return queryset.filter(sanction_kind=value)
        return queryset


class PremoderatedFilter(admin.SimpleListFilter):
    """Commenters whose every comment waits for a moderator because of a sanction
    ("always pre-moderate"), whatever stronger sanction they may also have."""

    title = _("pre-moderated")
    parameter_name = "premoderated"

    def lookups(self, request, model_admin):
        return [("yes", _("Always pre-moderated")), ("no", _("Not pre-moderated"))]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        premoderated = Exists(
            Sanction.objects.in_force().filter(sanctions_on_outer(), kind=Kind.PREMODERATION)
        )
        return queryset.filter(premoderated if self.value() == "yes" else ~premoderated)


class RejectionsFilter(admin.SimpleListFilter):
    """Whether a moderator has ever rejected (spam, removed) one of their comments."""

    title = _("rejections")
    parameter_name = "rejected"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("Has rejected comments")),
            ("recent", _("Rejected in the last 30 days")),
            ("no", _("Never rejected")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(last_rejected_at__isnull=False)
        if self.value() == "recent":
            return queryset.filter(last_rejected_at__gte=timezone.now() - timedelta(days=30))
        if self.value() == "no":
            return queryset.filter(last_rejected_at__isnull=True)
        return queryset


# --- the forms on a commenter's page ---------------------------------------------------
class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


REASON = _("Reason")


def reason_field(label=REASON, help_text=""):
    return forms.CharField(
        label=label,
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=help_text,
    )


class FutureMixin:
    def clean_until(self):
        until = self.cleaned_data.get("until")
        if until is not None and until <= timezone.now():
            raise ValidationError(_("Choose a time in the future."), code="past")
        return until


class WarnForm(forms.Form):
    message = reason_field(
        _("Message"),
        _("Emailed to the commenter as you write it, and kept with the warning."),
    )


class SuspendForm(FutureMixin, forms.Form):
    until = forms.DateTimeField(label=_("Suspended until"), widget=DateTimeLocalInput())
    reason = reason_field()


class BanForm(FutureMixin, forms.Form):
    until = forms.DateTimeField(
        label=_("Ends"),
        required=False,
        widget=DateTimeLocalInput(),
        help_text=_("Leave empty for a ban until it is lifted."),
    )
    reason = reason_field()


class PremoderateForm(forms.Form):
    reason = reason_field()


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Add a note"),
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Only moderators see notes. A note can't be edited or deleted later."),
    )


# name: (form, button label, the permission it needs)
PAGE_ACTIONS = {
    "warn": (WarnForm, _("Warn"), "add_sanction"),
    "suspend": (SuspendForm, _("Suspend"), "add_sanction"),
    "ban": (BanForm, _("Ban"), "add_sanction"),
    "premoderate": (PremoderateForm, _("Always pre-moderate"), "add_sanction"),
    "note": (NoteForm, _("Add the note"), "add_commenternote"),
}


def apply_page_action(name, commenter, data, *, by):
    """Do ``name`` (a key of ``PAGE_ACTIONS``) for ``commenter`` with a form's
    ``cleaned_data``; returns the message that says what happened."""
    email = commenter.email
    if name == "warn":
        moderation.warn_commenter(email, by=by, message=data["message"])
        return gettext("%(who)s was warned by email.") % {"who": commenter}
    if name == "suspend":
        moderation.suspend_commenter(email, by=by, reason=data["reason"], until=data["until"])
        return gettext("%(who)s is suspended until %(until)s.") % {
            "who": commenter,
            "until": timezone.localtime(data["until"]).strftime("%Y-%m-%d %H:%M"),
        }
    if name == "ban":
        moderation.ban_commenter(email, by=by, reason=data["reason"], until=data["until"])
        if data["until"]:
            return gettext("%(who)s is banned until %(until)s.") % {
                "who": commenter,
                "until": timezone.localtime(data["until"]).strftime("%Y-%m-%d %H:%M"),
            }
        return gettext("%(who)s is banned until the ban is lifted.") % {"who": commenter}
    if name == "premoderate":
        moderation.premoderate_commenter(email, by=by, reason=data["reason"])
        return gettext("Every comment of %(who)s now waits for a moderator.") % {"who": commenter}
    if name == "note":
        add_note(commenter, body=data["body"], by=by)
        return gettext("Your note was added.")
    raise ValueError(name)


def add_note(commenter, *, body, by):
    """Append a moderator's note to ``commenter``, logged on the commenter."""
    with transaction.atomic():
        note = CommenterNote(commenter=commenter, body=body, author=by)
        note.full_clean()
        note.save()
        LogEntry.objects.create(
            user_id=by.pk,
            content_type=ContentType.objects.get_for_model(Commenter),
            object_id=str(commenter.pk),
            object_repr=str(commenter)[:200],
            action_flag=CHANGE,
            change_message="Added a moderator note.",
        )
    return note


# --- commenters --------------------------------------------------------------------
@admin.register(Commenter)
class CommenterAdmin(admin.ModelAdmin):
    list_display = [
        "identity",
        "comment_counts",
        "rejection_rate",
        "first_seen_at",
        "last_seen_at",
        "sanctioned_now",
    ]
    list_display_links = ["identity"]
    list_filter = [SanctionedNowFilter, PremoderatedFilter, RejectionsFilter]
    search_fields = ["name", "email"]  # and IP addresses: get_search_results
    search_help_text = _("A name, part of an email address, or an IP address they commented from.")
    ordering = ["-last_seen", "-pk"]
    list_per_page = 100
    show_full_result_count = False
    actions = None
    page_template = "admin/comments/commenter/commenter_page.html"

    class Media:
        css = {"all": ["comments/admin-commenters.css"]}

    # --- permissions: commenters come from comments, and are never deleted --------------
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- the list ---------------------------------------------------------------------
    def get_queryset(self, request):
        return with_sanction_in_force(super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        """Every word must match: an IP address matches those who commented from it
        (one ``EXISTS`` on the comments' address index, so no duplicate rows), any
        other word a name or email address."""
        terms = search_term.split()
        if not terms:
            return queryset, False
        for term in terms:
            address = ip_address_or_none(term)
            if address is not None:
                queryset = queryset.filter(
                    Exists(Comment.objects.filter(commenter=OuterRef("pk"), ip_address=address))
                )
            else:
                queryset = queryset.filter(Q(name__icontains=term) | Q(email__icontains=term))
        return queryset, False

    @admin.display(description=_("commenter"), ordering="email")
    def identity(self, obj):
        return render("identity", commenter=obj)

    @admin.display(
        description=_("comments"),
        ordering=F("approved_count") + F("pending_count") + F("spam_count") + F("removed_count"),
    )
    def comment_counts(self, obj):
        return render("counts", commenter=obj)

    @admin.display(description=_("recent rejection rate"), ordering="recent_rejection_rate")
    def rejection_rate(self, obj):
        return render(
            "labelled",
            label=_("recent rejection rate"),
            value=percent(obj.recent_rejection_rate),
        )

    @admin.display(description=_("first seen"), ordering="first_seen")
    def first_seen_at(self, obj):
        return render("time", moment=obj.first_seen, label=_("first seen"))

    @admin.display(description=_("last seen"), ordering="last_seen")
    def last_seen_at(self, obj):
        return render("time", moment=obj.last_seen, label=_("last seen"))

    @admin.display(description=_("sanctioned now"))
    def sanctioned_now(self, obj):
        return render("sanction_badge", kind=obj.sanction_kind, label=_("sanctioned now"))

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": _("Commenters"), **(extra_context or {})})

    # --- the commenter page --------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/act/<slug:action>/",
                self.admin_site.admin_view(self.act_view),
                name="comments_commenter_act",
            ),
            path(
                "<path:object_id>/lift/",
                self.admin_site.admin_view(self.lift_view),
                name="comments_commenter_lift",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The commenter page (GET only: it has no model form; its forms post to
        ``act_view`` and ``lift_view``)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        commenter = self.get_object(request, unquote(object_id))
        if commenter is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, commenter):
            raise PermissionDenied
        return self.render_page(request, commenter)

    def render_page(self, request, commenter, bound=None):
        """The commenter page; ``bound`` is {action name: a form with errors}."""
        bound = bound or {}
        now = timezone.now()
        comments = (
            Comment.objects.filter(commenter=commenter)
            .select_related("article")
            .only(
                "pk", "status", "moderation_reason", "body", "created_at", "report_count",
                "parent_id", "featured_at", "article__id", "article__title", "article__slug",
                "article__status", "article__published_at",
            )
            .order_by("-created_at", "-pk")
        )  # fmt: skip
        page = Paginator(comments, COMMENTS_PER_PAGE).get_page(request.GET.get("page"))
        addresses = list(
            Comment.objects.filter(commenter=commenter, ip_address__isnull=False)
            .order_by()
            .values("ip_address")
            .annotate(comments=Count("pk"), last_used=Max("created_at"))
            .order_by("-last_used", "ip_address")[: ADDRESSES_SHOWN + 1]
        )
        in_force = Sanction.objects.in_force(now).filter(pk=OuterRef("pk"))
        shown_addresses = [row["ip_address"] for row in addresses[:ADDRESSES_SHOWN]]
        sanction_rows = list(
            sanctions_on(commenter, shown_addresses)
            .annotate(in_force=Exists(in_force))
            .select_related("created_by", "lifted_by")
            .order_by("-in_force", "-created_at", "-pk")[: SANCTIONS_SHOWN + 1]
        )
        notes = list(commenter.notes.select_related("author").order_by("-created_at", "-pk"))
        may_sanction = may(request, "add_sanction")
        action_forms = []
        for name, (form_class, label, permission) in PAGE_ACTIONS.items():
            if name == "note" or not may(request, permission):
                continue
            form = bound.get(name) or form_class(prefix=name, initial=self.initial(name, now))
            action_forms.append(
                {
                    "name": name,
                    "label": label,
                    "form": form,
                    "url": reverse("admin:comments_commenter_act", args=[commenter.pk, name]),
                }
            )
        note_form = None
        if may(request, "add_commenternote"):
            note_form = bound.get("note") or NoteForm(prefix="note")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(commenter),
            "subtitle": None,
            "original": commenter,
            "commenter": commenter,
            "has_view_permission": self.has_view_permission(request, commenter),
            "account_url": self.account_url(request, commenter),
            "page": page,
            "page_links": self.page_links(request, page),
            "queue_url": self.queue_url(commenter),
            "status_counts": [
                {
                    "value": status.value,
                    "label": status.label,
                    "count": getattr(commenter, f"{status.value}_count"),
                    "url": self.queue_url(commenter, status=status.value),
                }
                for status in Comment.Status
            ],
            "addresses": addresses[:ADDRESSES_SHOWN],
            "more_addresses": len(addresses) > ADDRESSES_SHOWN,
            "sanctions": sanction_rows[:SANCTIONS_SHOWN],
            "more_sanctions": len(sanction_rows) > SANCTIONS_SHOWN,
            "sanctions_list_url": reverse("admin:comments_sanction_changelist")
            + "?"
            + urlencode({"q": commenter.email}),
            "any_in_force": any(sanction.in_force for sanction in sanction_rows),
            "may_lift": may(request, "change_sanction"),
            "may_sanction": may_sanction,
            "lift_url": reverse("admin:comments_commenter_lift", args=[commenter.pk]),
            "notes": notes,
            "note_form": note_form,
            "note_url": reverse("admin:comments_commenter_act", args=[commenter.pk, "note"]),
            "action_forms": action_forms,
            "open_action": next(iter(bound), None),
            "rejection_rate": percent(commenter.recent_rejection_rate),
            "time_zone": timezone.get_current_timezone_name(),
            "history_url": reverse("admin:comments_commenter_history", args=[commenter.pk]),
        }
        return TemplateResponse(request, self.page_template, context)

    @staticmethod
    def initial(name, now):
        if name == "suspend":
            until = timezone.localtime(now + timedelta(days=7))
            return {"until": until.replace(second=0, microsecond=0)}
        return {}

    def account_url(self, request, commenter):
        """The admin page of the commenter's account, for those who may open it."""
        if commenter.user_id is None:
            return None
        user_model = get_user_model()
        if not self.admin_site.is_registered(user_model):
            return None
        if not self.admin_site.get_model_admin(user_model).has_view_or_change_permission(request):
            return None
        opts = user_model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[commenter.user_id])

    @staticmethod
    def queue_url(commenter, status="all"):
        """The queue with this commenter's comments only (their email in the search box
        says so), of every status or one."""
        query = {"status": status, "commenter__id__exact": commenter.pk, "q": commenter.email}
        return reverse("admin:comments_comment_changelist") + "?" + urlencode(query)

    @staticmethod
    def page_links(request, page):
        if not page.has_other_pages():
            return []
        query = request.GET.copy()
        links = []
        for number in page.paginator.get_elided_page_range(page.number, on_each_side=2):
            if number == page.paginator.ELLIPSIS:
                links.append({"ellipsis": True})
                continue
            query["page"] = number
            links.append(
                {"number": number, "current": number == page.number, "query": query.urlencode()}
            )
        return links

    def get_object_or_403(self, request, object_id, permission):
        commenter = get_object_or_404(Commenter, pk=unquote(object_id))
        if not self.has_view_or_change_permission(request, commenter):
            raise PermissionDenied
        if not may(request, permission):
            raise PermissionDenied
        return commenter

    def act_view(self, request, object_id, action):
        """One of the page's forms (POST, CSRF-checked by ``admin_view``): a sanction or
        a note. A form with errors shows the page again with the form open."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if action not in PAGE_ACTIONS:
            raise PermissionDenied
        form_class, _label, permission = PAGE_ACTIONS[action]
        commenter = self.get_object_or_403(request, object_id, permission)
        form = form_class(request.POST, prefix=action)
        if form.is_valid():
            try:
                message = apply_page_action(action, commenter, form.cleaned_data, by=request.user)
            except ValidationError as error:
                # What comments.moderation refuses (an address it can't sanction, an
                # end that passed meanwhile) is said on the form, nothing stored.
                form.add_error(None, error.messages)
        if not form.is_valid():
            page_request = copy(request)
            page_request.method = "GET"
            response = self.render_page(page_request, commenter, bound={action: form})
            response.status_code = 400
            return response
        self.message_user(request, message, messages.SUCCESS)
        anchor = "#notes" if action == "note" else "#sanctions"
        return HttpResponseRedirect(commenter_url(commenter.pk) + anchor)

    def lift_view(self, request, object_id):
        """Lift one sanction (``sanction=<pk>``) or all in force (``all``)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        commenter = self.get_object_or_403(request, object_id, "change_sanction")
        if "all" in request.POST:
            count = moderation.lift_sanctions(commenter.email, by=request.user)
            message = ngettext(
                "%(count)d sanction was lifted.", "%(count)d sanctions were lifted.", count
            ) % {"count": count}
        else:
            try:
                pk = int(request.POST.get("sanction", ""))
            except ValueError:
                raise PermissionDenied from None
            sanction = get_object_or_404(Sanction, pk=pk)
            if moderation.lift_sanction(sanction, by=request.user):
                message = gettext("Lifted: %(sanction)s.") % {"sanction": sanction}
            else:
                message = gettext("%(sanction)s was no longer in force.") % {"sanction": sanction}
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(commenter_url(commenter.pk) + "#sanctions")


# --- notes -------------------------------------------------------------------------
@admin.register(CommenterNote)
class CommenterNoteAdmin(admin.ModelAdmin):
    """Every note, newest first, read-only: a note is written on the commenter's page
    and never edited or deleted afterwards (no change or delete page answers)."""

    list_display = ["created_at", "commenter_link", "author", "body"]
    list_display_links = None
    list_select_related = ["commenter", "author"]
    search_fields = ["body", "commenter__email", "commenter__name"]
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        raise PermissionDenied

    @admin.display(description=_("commenter"), ordering="commenter__email")
    def commenter_link(self, obj):
        return render("link", commenter=obj.commenter, label=str(obj.commenter))


# --- sanctions -----------------------------------------------------------------------
class SanctionStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("in_force", _("In force")), ("ended", _("Ended")), ("lifted", _("Lifted"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "in_force":
            return queryset.filter(
                Q(ends_at__isnull=True) | Q(ends_at__gt=now), lifted_at__isnull=True
            )
        if self.value() == "ended":
            return queryset.filter(ends_at__lte=now, lifted_at__isnull=True)
        if self.value() == "lifted":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


class SanctionAddForm(forms.ModelForm):
    """A new sanction on any target; the target is checked and normalised by
    ``comments.sanctions.parse_target``, which says what is wrong with it."""

    replaces = forms.ModelChoiceField(
        queryset=Sanction.objects.filter(lifted_at__isnull=True),
        required=False,
        widget=forms.HiddenInput,
    )

    class Meta:
        model = Sanction
        fields = ["kind", "target_type", "target", "reason", "ends_at"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" not in self.fields:  # the read-only page of an existing sanction
            return
        self.fields["kind"].help_text = _(
            "A warning restricts nothing (email it from the commenter's page); a suspension "
            "needs an end."
        )

    def clean(self):
        cleaned = super().clean()
        target_type, target = cleaned.get("target_type"), cleaned.get("target")
        if target_type and target:
            try:
                sanctions.parse_target(target_type, target)
            except ValidationError as error:
                self.add_error("target", error)
        kind, ends_at = cleaned.get("kind"), cleaned.get("ends_at")
        if kind == Kind.SUSPENSION and ends_at is None:
            self.add_error(
                "ends_at",
                ValidationError(_("A suspension needs an end."), code="suspension_without_end"),
            )
        if ends_at is not None and ends_at <= timezone.now():
            self.add_error(
                "ends_at", ValidationError(_("Choose a time in the future."), code="past")
            )
        return cleaned


@admin.register(Sanction)
class SanctionAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "target_shown",
        "reason_excerpt",
        "created_by",
        "created_at",
        "ends_at",
        "state",
    ]
    list_filter = [
        SanctionStateFilter,
        "kind",
        "target_type",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["target", "reason", "commenter__email", "commenter__name"]
    list_select_related = ["created_by", "lifted_by", "commenter"]
    show_full_result_count = False
    actions = ["lift_selected"]
    form = SanctionAddForm

    class Media:
        css = {"all": ["comments/admin-commenters.css"]}

    add_fieldsets = [(None, {"fields": ["kind", "target_type", "target", "reason", "ends_at"]})]
    change_form_template = "admin/comments/sanction/change_form.html"
    readonly_fields = [
        "kind",
        "target_type",
        "target",
        "commenter_link",
        "reason",
        "created_by",
        "created_at",
        "ends_at",
        "state",
        "lifted_by",
        "lifted_at",
    ]

    # --- permissions: never deleted; a change is a lift and a new sanction -------------
    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*self.add_fieldsets[0][1]["fields"], "replaces"]
        return self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.get_fields(request, obj)})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["fields"] = []
        return super().get_form(request, obj, change=change, **kwargs)

    # --- columns ----------------------------------------------------------------------
    @admin.display(description=_("target"), ordering="target")
    def target_shown(self, obj):
        return render("target", sanction=obj)

    @admin.display(description=_("reason"))
    def reason_excerpt(self, obj):
        text = " ".join(obj.reason.split())
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description=_("state"))
    def state(self, obj):
        return render("sanction_state", sanction=obj, now=timezone.now())

    @admin.display(description=_("commenter"))
    def commenter_link(self, obj):
        if obj.commenter is None:
            return "—"
        return render("link", commenter=obj.commenter, label=str(obj.commenter))

    # --- adding (through comments.moderation), never changing -------------------------
    def get_changeform_initial_data(self, request):
        """The add form filled from the query string, e.g. "Replace" on a sanction's
        page (``?replaces=<pk>`` with its kind, target and reason)."""
        initial = super().get_changeform_initial_data(request)
        replaced = request.GET.get("replaces")
        if replaced and replaced.isdigit():
            old = Sanction.objects.filter(pk=replaced, lifted_at__isnull=True).first()
            if old is not None:
                initial.update(
                    replaces=old.pk,
                    kind=old.kind,
                    target_type=old.target_type,
                    target=old.target,
                    reason=old.reason,
                    ends_at=old.ends_at,
                )
        return initial

    def save_model(self, request, obj, form, change):
        """``comments.moderation.add_sanction`` (which logs it), after lifting the one
        it replaces, in one transaction."""
        if change:
            raise PermissionDenied
        data = form.cleaned_data
        with transaction.atomic():
            replaced = data.get("replaces")
            if replaced is not None:
                moderation.lift_sanction(replaced, by=request.user)
            sanction = moderation.add_sanction(
                data["kind"],
                target_type=data["target_type"],
                target=data["target"],
                by=request.user,
                reason=data["reason"],
                until=data.get("ends_at"),
            )
        obj.pk = sanction.pk
        obj.target = sanction.target
        obj.commenter_id = sanction.commenter_id

    def log_addition(self, request, obj, message):
        """``add_sanction`` has written the log entry already."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None and request.method == "POST":
            # A sanction is never changed: lift it, and add another if need be.
            raise PermissionDenied
        extra_context = extra_context or {}
        if object_id is not None:
            extra_context.update(
                show_save=False, show_save_and_continue=False, show_save_and_add_another=False
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        sanction = self.get_object(request, unquote(object_id))
        if sanction is not None and sanction.lifted_at is None:
            may_change = self.has_change_permission(request, sanction)
            extra_context.update(
                lift_url=reverse("admin:comments_sanction_lift", args=[sanction.pk])
                if may_change
                else None,
                replace_url=reverse("admin:comments_sanction_add")
                + "?"
                + urlencode({"replaces": sanction.pk})
                if may_change and self.has_add_permission(request)
                else None,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/lift/",
                self.admin_site.admin_view(self.lift_view),
                name="comments_sanction_lift",
            ),
            *super().get_urls(),
        ]

    def lift_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        sanction = get_object_or_404(Sanction, pk=unquote(object_id))
        if not self.has_change_permission(request, sanction):
            raise PermissionDenied
        if moderation.lift_sanction(sanction, by=request.user):
            self.message_user(
                request, gettext("Lifted: %(sanction)s.") % {"sanction": sanction}, messages.SUCCESS
            )
        else:
            self.message_user(
                request,
                gettext("%(sanction)s had been lifted already.") % {"sanction": sanction},
                messages.WARNING,
            )
        return HttpResponseRedirect(sanction_url(sanction.pk))

    @admin.action(description=_("Lift the selected sanctions"), permissions=["change"])
    def lift_selected(self, request, queryset):
        count = sum(
            moderation.lift_sanction(sanction, by=request.user)
            for sanction in queryset.filter(lifted_at__isnull=True)
        )
        self.message_user(
            request,
            ngettext("%(count)d sanction was lifted.", "%(count)d sanctions were lifted.", count)
            % {"count": count},
            messages.SUCCESS,
        )


# --- the queue's actions on the authors of selected comments ----------------------------
class AuthorSanctionForm(forms.Form):
    reason = reason_field(help_text=_("Kept with each sanction and shown to other moderators."))
    spam_pending = forms.BooleanField(
        label=_("Also mark their pending comments as spam"), required=False
    )


# action name: (kind, duration or None, title of the confirmation page, message)
AUTHOR_ACTIONS = {
    "ban_authors": (
        Kind.BAN,
        None,
        _("Ban the authors of the selected comments"),
    ),
    "suspend_authors_1_day": (
        Kind.SUSPENSION,
        timedelta(days=1),
        _("Suspend the authors of the selected comments for 1 day"),
    ),
    "suspend_authors_7_days": (
        Kind.SUSPENSION,
        timedelta(days=7),
        _("Suspend the authors of the selected comments for 7 days"),
    ),
}


def selected_authors(queryset):
    """The distinct authors of the selected comments (by email as ``normalize_email``
    spells it, near enough in SQL: trimmed, lower case), each with how many of the
    selected comments are theirs: ``(total, the first AUTHORS_SHOWN)``. Two queries."""
    rows = (
        queryset.order_by()
        .annotate(person=Lower(Trim("author_email")))
        .values("person")
        .annotate(
            selected=Count("pk"),
            name=Max("author_name"),
            commenter_id=Max("commenter_id"),
            pending=Max("commenter__pending_count"),
        )
        .order_by("person")
    )
    return rows.count(), list(rows[:AUTHORS_SHOWN])


class AuthorSanctionActions:
    """Queue actions for ``CommentAdmin``: ban or suspend the authors of the selected
    comments, after a confirmation page that asks a reason (the usual admin action
    pattern), through ``comments.moderation.sanction_authors``."""

    confirm_authors_template = "admin/comments/commenter/sanction_authors.html"

    @property
    def media(self):
        # The author's link to their commenter page, and the sanction badges.
        return super().media + forms.Media(css={"all": ["comments/admin-commenters.css"]})

    def has_sanction_permission(self, request):
        return may(request, "add_sanction")

    @admin.action(description=AUTHOR_ACTIONS["ban_authors"][2], permissions=["sanction"])
    def ban_authors(self, request, queryset):
        return self._sanction_authors(request, queryset, "ban_authors")

    @admin.action(
        description=_("Suspend the authors for 1 day"),
        permissions=["sanction"],
    )
    def suspend_authors_1_day(self, request, queryset):
        return self._sanction_authors(request, queryset, "suspend_authors_1_day")

    @admin.action(
        description=_("Suspend the authors for 7 days"),
        permissions=["sanction"],
    )
    def suspend_authors_7_days(self, request, queryset):
        return self._sanction_authors(request, queryset, "suspend_authors_7_days")

    def _sanction_authors(self, request, queryset, name):
        kind, duration, title = AUTHOR_ACTIONS[name]
        form = AuthorSanctionForm(request.POST if request.POST.get("post") else None)
        if form.is_valid():
            until = timezone.now() + duration if duration else None
            count = moderation.sanction_authors(
                queryset,
                kind,
                by=request.user,
                reason=form.cleaned_data["reason"],
                until=until,
                spam_pending=form.cleaned_data["spam_pending"],
            )
            self.message_user(request, self._authors_message(kind, count, until), messages.SUCCESS)
            if form.cleaned_data["spam_pending"]:
                self.message_user(
                    request,
                    gettext("Their pending comments were marked as spam."),
                    messages.SUCCESS,
                )
            return None  # back to the queue
        total, authors = selected_authors(queryset)
        for author in authors:
            author["url"] = commenter_url(author["commenter_id"]) if author["commenter_id"] else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "subtitle": None,
            "action_name": name,
            "form": form,
            "authors": authors,
            "total_authors": total,
            "more_authors": total - len(authors),
            "selected_comments": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "kind": kind,
            "duration_days": duration.days if duration else None,
            "changelist_url": request.get_full_path(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.confirm_authors_template, context)

    @staticmethod
    def _authors_message(kind, count, until):
        if kind == Kind.BAN:
            return ngettext(
                "%(count)d author was banned.", "%(count)d authors were banned.", count
            ) % {"count": count}
        return ngettext(
            "%(count)d author was suspended until %(until)s.",
            "%(count)d authors were suspended until %(until)s.",
            count,
        ) % {"count": count, "until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")}

    # --- the link to the commenter page on a comment's change page --------------------
    @admin.display(description=_("commenter page"))
    def commenter_page(self, obj):
        if obj is None or obj.commenter_id is None:
            return "—"
        return render("page_link", commenter_id=obj.commenter_id, name=obj.author_name)

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "commenter_page"]

    def get_fieldsets(self, request, obj=None):
        """The commenter page's link right after the author's email address."""
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            fields = list(options.get("fields", []))
            if "author_email" in fields and "commenter_page" not in fields:
                fields.insert(fields.index("author_email") + 1, "commenter_page")
            fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets
