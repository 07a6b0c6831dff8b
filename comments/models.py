from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Count, Deferrable, F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from mptt.managers import TreeManager
from mptt.models import MPTTModel, TreeForeignKey
from mptt.querysets import TreeQuerySet

from comments.text import render_comment_body
from comments.tree import AWAITING

MAX_BODY_LENGTH = 5000
MAX_NAME_LENGTH = 100
MAX_EXPLANATION_LENGTH = 2000
MAX_REMOVAL_NOTE_LENGTH = 500
MAX_NOTE_LENGTH = 5000

http_url_validator = URLValidator(schemes=["http", "https"])


def normalize_email(email):
    """The one spelling of an email address that identifies a commenter: trimmed and
    case-folded, so "Troll@Example.com " and "troll@example.com" are one person."""
    return (email or "").strip().casefold()


class RemovalReason(models.TextChoices):
    """The statement of reasons a moderator gives when removing a comment."""

    OFF_TOPIC = "off_topic", _("off-topic")
    ABUSE = "abuse", _("abuse")
    SPAM = "spam", _("spam")
    PERSONAL_DATA = "personal_data", _("personal data")
    ILLEGAL = "illegal", _("illegal content")
    OTHER = "other", _("other")


class CommentQuerySet(TreeQuerySet):
    def approved(self):
        """The one definition of a public comment."""
        return self.filter(status=Comment.Status.APPROVED)

    def pending(self):
        return self.filter(status=Comment.Status.PENDING)

    def featured(self):
        """Editors' picks readers see: featured and public. A pick that is removed,
        spammed or held keeps its ``featured_at`` but is out of sight until it is
        approved again (``comments.moderation.feature``)."""
        return self.approved().filter(featured_at__isnull=False)

    def visible_to(self, own_ids=()):
        """What a reader sees in a discussion: public comments, and their own held ones
        (``own_ids``; to its poster, spam looks held too)."""
        visible = Q(status=Comment.Status.APPROVED)
        if own_ids:
            visible |= Q(pk__in=own_ids, status__in=AWAITING)
        return self.filter(visible)

    def thread_sizes(self, article, *, own_ids=()):
        """``[(tree_id, comments the reader sees, approved comments), …]`` of every thread
        of ``article`` the reader sees, oldest first: what comment pages and counts are
        made of (one query)."""
        return list(
            self.filter(article=article)
            .visible_to(own_ids)
            .order_by("tree_id")
            .values("tree_id")
            .annotate(
                visible=Count("pk"), approved=Count("pk", filter=Q(status=Comment.Status.APPROVED))
            )
            .values_list("tree_id", "visible", "approved")
        )

    def thread_rows(self, tree_ids, fields, *, newest_first=False):
        """``fields`` of every comment of the threads ``tree_ids``, as tuples: grouped by
        thread (oldest first, or newest), each thread in tree order. A thread never spans
        articles (``comments_check`` proves it), so the tree ids alone select the rows,
        along the ``(tree_id, lft)`` index."""
        by_thread = F("tree_id").desc() if newest_first else F("tree_id").asc()
        return self.filter(tree_id__in=tree_ids).order_by(by_thread, "lft").values_list(*fields)

    # --- the moderation queue ------------------------------------------------------
    def with_priority(self, now=None):
        """Each comment with its queue ``priority`` and the facts behind it (computed
        by the database; see ``comments.priority``)."""
        from comments import priority  # it builds on these models

        return priority.annotate(self, now or timezone.now())

    def held_by_rule(self):
        """Held by one of the automatic rules ("held: 3 links", "held: suspect word …")."""
        return self.filter(moderation_reason__startswith="held:")

    def from_new_commenters(self):
        """By commenters none of whose comments has been approved yet."""
        return self.filter(commenter__approved_count=0)

    def from_sanctioned_commenters(self, now=None):
        """By commenters with a sanction in force on their email address."""
        from comments import priority

        return self.filter(priority.sanction_in_force(now or timezone.now()))


class CommentManager(TreeManager.from_queryset(CommentQuerySet)):
    pass


class Comment(MPTTModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        SPAM = "spam", _("Spam")
        REMOVED = "removed", _("Removed")

    article = models.ForeignKey(
        "articles.Article",
        verbose_name=_("article"),
        on_delete=models.PROTECT,
        related_name="comments",
    )
    parent = TreeForeignKey(
        "self",
        verbose_name=_("in reply to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    author_name = models.CharField(_("name"), max_length=MAX_NAME_LENGTH)
    author_email = models.EmailField(_("email"), max_length=254)
    author_url = models.URLField(
        _("website"), max_length=500, blank=True, validators=[http_url_validator]
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comments",
    )
    body = models.TextField(_("comment"), max_length=MAX_BODY_LENGTH)
    body_html = models.TextField(_("comment (HTML)"), blank=True, editable=False)
    # Imported comments (comments.wxr) keep the HTML WordPress allowed, sanitized, in
    # body_html; body is its plain text. Comments posted here are plain text: False.
    body_is_html = models.BooleanField(_("imported HTML"), default=False, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    moderation_reason = models.CharField(
        _("moderation reason"),
        max_length=200,
        blank=True,
        help_text=_("Why the automatic rules or a reader report gave this status."),
    )
    created_at = models.DateTimeField(_("created at"), db_index=True)
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    moderated_at = models.DateTimeField(_("moderated at"), null=True, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moderated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    notify_replies = models.BooleanField(_("notify of replies"), default=False)
    import_key = models.CharField(
        _("import key"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text=_("Where an imported comment came from (e.g. a WordPress site and comment id)."),
    )
    commenter = models.ForeignKey(
        "Commenter",
        verbose_name=_("commenter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="comments",
        help_text=_("The person behind the comment, by their email address."),
    )
    featured_at = models.DateTimeField(_("featured at"), null=True, blank=True)
    featured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("featured by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    removal_reason = models.CharField(
        _("removal reason"),
        max_length=20,
        choices=RemovalReason.choices,
        blank=True,
        help_text=_("The statement of reasons shown in place of a removed comment."),
    )
    reaction_count = models.PositiveIntegerField(
        _("reactions"),
        default=0,
        help_text=_("Readers' positive reactions; never part of a cached page's key."),
    )
    removal_note = models.CharField(
        _("removal explanation"),
        max_length=MAX_REMOVAL_NOTE_LENGTH,
        blank=True,
        help_text=_("The moderator's words when the reason is “other”."),
    )

    objects = CommentManager()

    class MPTTMeta:
        # No order_insertion_by: siblings are ordered at read time (tree_id, lft);
        # a reply is always inserted as the last child of its parent.
        parent_attr = "parent"

    class Meta:
        ordering = ["tree_id", "lft"]
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [
            models.Index(fields=["article", "status", "tree_id", "lft"], name="comment_page_idx"),
            models.Index(fields=["article", "parent", "status"], name="comment_roots_idx"),
            models.Index(fields=["status", "-created_at"], name="comment_queue_idx"),
            models.Index(fields=["author_email", "status"], name="comment_email_idx"),
            # The duplicate rule's lookup, which would otherwise scan the whole article.
            models.Index(fields=["article", "author_email"], name="comment_duplicate_idx"),
            models.Index(fields=["ip_address", "-created_at"], name="comment_ip_idx"),
            models.Index(fields=["commenter", "-created_at"], name="comment_commenter_idx"),
            models.Index(fields=["article", "-featured_at"], name="comment_featured_idx"),
            # The queue's "hot article": recent comments on one article (comments.priority).
            models.Index(fields=["article", "created_at"], name="comment_heat_idx"),
        ]
        constraints = [
            # A corrupted tree fails loudly: no two nodes of a tree share a boundary.
            # Deferred to commit so mptt's bulk "shift by 2" updates don't trip it
            # (PostgreSQL; SQLite cannot defer unique constraints).
            models.UniqueConstraint(
                fields=["tree_id", "lft"],
                name="comment_unique_tree_lft",
                deferrable=Deferrable.DEFERRED,
            ),
            models.UniqueConstraint(
                fields=["tree_id", "rght"],
                name="comment_unique_tree_rght",
                deferrable=Deferrable.DEFERRED,
            ),
            models.CheckConstraint(
                condition=Q(lft__lt=models.F("rght")), name="comment_lft_lt_rght"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "spam", "removed"]),
                name="comment_status_valid",
            ),
        ]

    def __str__(self):
        return f"{self.author_name}: {self.excerpt}"

    def save(self, *args, **kwargs):
        from comments.mentions import render_mentions

        # @Name mentions link to that commenter's comment in the thread (comments.mentions).
        # An imported comment's sanitized HTML is kept as it is (body_is_html) until its
        # body is edited here (by its author or in the admin): then it is plain text too.
        if self.body_is_html and self.pk is not None:
            stored = type(self)._base_manager.filter(pk=self.pk).values_list("body", flat=True)
            if stored.first() not in (None, self.body):
                self.body_is_html = False
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {*kwargs["update_fields"], "body_is_html"}
        if not self.body_is_html:
            self.body_html = render_mentions(self, render_comment_body(self.body))
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("comments:permalink", kwargs={"pk": self.pk})

    def clean(self):
        super().clean()
        if self.parent_id is not None and self.article_id is not None:
            parent_article_id = (
                self.parent.article_id
                if self.parent is not None
                else Comment.objects.filter(pk=self.parent_id)
                .values_list("article_id", flat=True)
                .first()
            )
            if parent_article_id != self.article_id:
                raise ValidationError(
                    {"parent": _("A reply must belong to the same article as its parent.")},
                    code="parent_other_article",
                )

    @property
    def is_public(self):
        return self.status == self.Status.APPROVED

    @property
    def depth(self):
        """1 for a top-level comment."""
        return self.level + 1

    @property
    def excerpt(self):
        text = " ".join(self.body.split())
        return text if len(text) <= 80 else text[:79] + "…"


class CommentRevision(models.Model):
    """The text of a comment before one of its poster's edits, kept for moderators."""

    comment = models.ForeignKey(
        Comment, verbose_name=_("comment"), on_delete=models.CASCADE, related_name="revisions"
    )
    body = models.TextField(_("previous text"))
    created_at = models.DateTimeField(_("replaced at"), auto_now_add=True)

    class Meta:
        ordering = ["comment", "-created_at"]
        verbose_name = _("comment revision")
        verbose_name_plural = _("comment revisions")

    def __str__(self):
        return f"Revision of comment {self.comment_id} at {self.created_at:%Y-%m-%d %H:%M}"


class CommentReportQuerySet(models.QuerySet):
    def counted(self):
        """Reports that counted towards the threshold (one per reader)."""
        return self.filter(counted=True)

    def since_last_decision(self, comment):
        """``comment``'s reports made after a moderator last decided on it (all of them
        when no moderator has: the site sending it back by itself is no decision)."""
        reports = self.filter(comment=comment)
        if comment.moderated_by_id is not None and comment.moderated_at is not None:
            reports = reports.filter(created_at__gt=comment.moderated_at)
        return reports

    def summaries_by_comment(self, comment_ids):
        """``{comment id: {reason: (reports, counted reports)}}`` in one grouped query."""
        rows = (
            self.filter(comment_id__in=comment_ids)
            .order_by()
            .values_list("comment_id", "reason")
            .annotate(
                reports=models.Count("pk"),
                counted_reports=models.Count("pk", filter=Q(counted=True)),
            )
        )
        summaries = {}
        for comment_id, reason, reports, counted in rows:
            summaries.setdefault(comment_id, {})[reason] = (reports, counted)
        return summaries


class CommentReport(models.Model):
    """A reader's report of a comment: one per browser session per comment.

    Every report is kept. ``counted`` says whether it counted towards
    ``COMMENTS_REPORT_THRESHOLD``: only the first one from each reader (session, IP
    network, account or email) since the last moderator decision does; see
    ``comments.reports``.
    """

    class Reason(models.TextChoices):
        SPAM = "spam", _("Spam")
        ABUSE = "abuse", _("Abuse or harassment")
        OFF_TOPIC = "off_topic", _("Off-topic")
        PERSONAL_DATA = "personal_data", _("Personal data")
        ILLEGAL = "illegal", _("Illegal content")

    comment = models.ForeignKey(
        Comment, verbose_name=_("comment"), on_delete=models.CASCADE, related_name="reports"
    )
    reason = models.CharField(
        _("reason"),
        max_length=20,
        choices=Reason.choices,
        blank=True,
        help_text=_("Empty for reports made before readers were asked for a reason."),
    )
    explanation = models.TextField(_("explanation"), max_length=MAX_EXPLANATION_LENGTH, blank=True)
    session_key = models.CharField(_("session"), max_length=64)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    network = models.CharField(
        _("reporter network"),
        max_length=43,
        blank=True,
        help_text=_("The IPv4 /24 or IPv6 /64 the report came from; one network counts once."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reporter_email = models.EmailField(
        _("reporter email"),
        max_length=254,
        blank=True,
        help_text=_("Optionally given by a reader who is not logged in; shown to staff only."),
    )
    counted = models.BooleanField(
        _("counted"),
        default=False,
        help_text=_(
            "Whether it counted towards the threshold: the first report from this reader "
            "since the last moderator decision."
        ),
    )
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)

    objects = CommentReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(
                fields=["comment", "session_key"], name="report_once_per_session"
            ),
            models.CheckConstraint(
                condition=Q(
                    reason__in=["", "spam", "abuse", "off_topic", "personal_data", "illegal"]
                ),
                name="report_reason_valid",
            ),
        ]

    def __str__(self):
        return f"Report of comment {self.comment_id}"

    def clean(self):
        super().clean()
        if self.reason == self.Reason.ILLEGAL and not self.explanation.strip():
            raise ValidationError(
                {"explanation": _("Please explain what is illegal about this comment.")},
                code="explanation_required",
            )


class Commenter(models.Model):
    """A person who has commented, identified by their email address (normalised by
    ``normalize_email``) and their account where they had one.

    The counts and rates are kept by ``comments.commenters`` whenever one of their
    comments is posted or changes status, so the desk lists and sorts 20,000 commenters
    and the trust rule judges a new comment without counting comments.
    """

    email = models.EmailField(_("email"), max_length=254, unique=True)
    name = models.CharField(_("name"), max_length=MAX_NAME_LENGTH, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"), db_index=True)
    approved_count = models.PositiveIntegerField(_("approved"), default=0)
    pending_count = models.PositiveIntegerField(_("pending"), default=0)
    spam_count = models.PositiveIntegerField(_("spam"), default=0)
    removed_count = models.PositiveIntegerField(_("removed"), default=0)
    recent_rejection_rate = models.FloatField(
        _("recent rejection rate"),
        default=0.0,
        db_index=True,
        help_text=_("Share of their last 10 comments a moderator decided on that were rejected."),
    )
    last_rejected_at = models.DateTimeField(_("last rejected"), null=True, blank=True)

    class Meta:
        ordering = ["-last_seen", "-pk"]
        verbose_name = _("commenter")
        verbose_name_plural = _("commenters")
        indexes = [
            models.Index(
                fields=["-recent_rejection_rate", "-last_seen"], name="commenter_risk_idx"
            ),
            models.Index(fields=["name"], name="commenter_name_idx"),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.name else self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def domain(self):
        return self.email.rpartition("@")[2]


class SanctionQuerySet(models.QuerySet):
    def in_force(self, now=None):
        """Sanctions that restrict posting now: not lifted, not ended, not warnings."""
        now = now or timezone.now()
        return self.exclude(kind=Sanction.Kind.WARNING).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now), lifted_at__isnull=True
        )


class Sanction(models.Model):
    """A moderator's measure against a commenter: by email address, IP address or
    network (CIDR), or email domain. Lifting keeps the row (``lifted_at``/``lifted_by``);
    nothing here is ever deleted. See ``comments.sanctions``."""

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        SUSPENSION = "suspension", _("Suspension")
        BAN = "ban", _("Ban")
        PREMODERATION = "premoderation", _("Always pre-moderate")

    class Target(models.TextChoices):
        EMAIL = "email", _("Email address")
        NETWORK = "network", _("IP address or network")
        DOMAIN = "domain", _("Email domain")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    target_type = models.CharField(_("applies to"), max_length=10, choices=Target.choices)
    target = models.CharField(
        _("target"),
        max_length=254,
        help_text=_("An email address, an IP address or network (CIDR), or an email domain."),
    )
    # An IP network as the first and last address, each as 32 hex digits of its IPv6
    # form (IPv4 mapped), so "is this address inside" is a string comparison on every
    # database. Empty for other targets.
    network_start = models.CharField(max_length=32, blank=True, editable=False)
    network_end = models.CharField(max_length=32, blank=True, editable=False)
    commenter = models.ForeignKey(
        Commenter,
        verbose_name=_("commenter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sanctions",
        help_text=_("The commenter this was set on, when set from their page or comment."),
    )
    reason = models.TextField(_("reason"), max_length=MAX_NOTE_LENGTH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("set at"), default=timezone.now)
    ends_at = models.DateTimeField(
        _("ends at"), null=True, blank=True, help_text=_("Empty: until lifted.")
    )
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("lifted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = SanctionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("sanction")
        verbose_name_plural = _("sanctions")
        indexes = [
            models.Index(fields=["target_type", "target"], name="sanction_target_idx"),
            models.Index(fields=["network_start", "network_end"], name="sanction_network_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["warning", "suspension", "ban", "premoderation"]),
                name="sanction_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(target_type__in=["email", "network", "domain"]),
                name="sanction_target_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.target}"


class CommenterNote(models.Model):
    """A moderator's note on a commenter: append-only (never edited or deleted)."""

    commenter = models.ForeignKey(
        Commenter, verbose_name=_("commenter"), on_delete=models.PROTECT, related_name="notes"
    )
    body = models.TextField(_("note"), max_length=MAX_NOTE_LENGTH)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("moderator note")
        verbose_name_plural = _("moderator notes")

    def __str__(self):
        return f"Note on {self.commenter_id} at {self.created_at:%Y-%m-%d %H:%M}"


class Appeal(models.Model):
    """A commenter's one appeal against the removal of their comment, and the answer."""

    class Outcome(models.TextChoices):
        UPHELD = "upheld", _("Removal upheld")
        REINSTATED = "reinstated", _("Comment reinstated")

    comment = models.OneToOneField(
        Comment, verbose_name=_("comment"), on_delete=models.PROTECT, related_name="appeal"
    )
    body = models.TextField(_("appeal"), max_length=MAX_EXPLANATION_LENGTH)
    created_at = models.DateTimeField(_("appealed at"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    answer = models.TextField(_("answer"), max_length=MAX_EXPLANATION_LENGTH, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        indexes = [models.Index(fields=["answered_at", "created_at"], name="appeal_open_idx")]

    def __str__(self):
        return f"Appeal of comment {self.comment_id}"


class ModerationWord(models.Model):
    """A word of the banned list (a match makes the comment spam) or the suspect list
    (a match holds it). Stored normalised (NFKC, case-folded); ``casino*`` also matches
    words that start with "casino". See ``comments.wordlists``."""

    class Kind(models.TextChoices):
        BANNED = "banned", _("Banned (spam)")
        SUSPECT = "suspect", _("Suspect (hold for review)")

    word = models.CharField(_("word"), max_length=100)
    kind = models.CharField(_("list"), max_length=10, choices=Kind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        ordering = ["kind", "word"]
        verbose_name = _("moderation word")
        verbose_name_plural = _("moderation words")
        constraints = [
            models.UniqueConstraint(fields=["kind", "word"], name="moderation_word_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["banned", "suspect"]), name="moderation_word_kind_valid"
            ),
        ]

    def __str__(self):
        return self.word


class ReaderProfile(models.Model):
    """A reader account's public face: the name their comments carry and whether their
    profile page is shown. Reader accounts are never staff (see ``comments.accounts``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="reader_profile",
    )
    display_name = models.CharField(_("display name"), max_length=MAX_NAME_LENGTH)
    profile_hidden = models.BooleanField(
        _("hide my profile"),
        default=False,
        help_text=_("Hidden, your profile page is not shown and your name links nowhere."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("reader profile")
        verbose_name_plural = _("reader profiles")

    def __str__(self):
        return self.display_name


class Reaction(models.Model):
    """One reader's positive reaction ("Respect") to one comment: by account, or (with
    ``COMMENTS_ANONYMOUS_REACTIONS``) by browser session and network. See
    ``comments.reactions``; ``Comment.reaction_count`` counts them."""

    comment = models.ForeignKey(
        Comment, verbose_name=_("comment"), on_delete=models.CASCADE, related_name="reactions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reader"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    session_key = models.CharField(_("session"), max_length=64, blank=True)
    network = models.CharField(_("reader network"), max_length=43, blank=True)
    created_at = models.DateTimeField(_("reacted at"), default=timezone.now)

    class Meta:
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")
        constraints = [
            models.UniqueConstraint(
                fields=["comment", "user"],
                condition=Q(user__isnull=False),
                name="reaction_once_per_reader",
            ),
            models.UniqueConstraint(
                fields=["comment", "session_key"],
                condition=Q(user__isnull=True),
                name="reaction_once_per_session",
            ),
        ]

    def __str__(self):
        return f"Reaction to comment {self.comment_id}"


class ArticleVisit(models.Model):
    """A signed-in reader's visits to an article, for "new since your last visit" on
    every device: one row per reader and article."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reader"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    article = models.ForeignKey(
        "articles.Article", verbose_name=_("article"), on_delete=models.CASCADE, related_name="+"
    )
    visited_at = models.DateTimeField(_("last visit"))
    previous_visit_at = models.DateTimeField(_("visit before"), null=True, blank=True)

    class Meta:
        verbose_name = _("article visit")
        verbose_name_plural = _("article visits")
        constraints = [
            models.UniqueConstraint(fields=["user", "article"], name="article_visit_once"),
        ]

    def __str__(self):
        return f"Visit of {self.article_id} by {self.user_id}"


class FollowQuerySet(models.QuerySet):
    def confirmed(self):
        """Follows whose address was confirmed (double opt-in) or belongs to an account."""
        return self.filter(confirmed_at__isnull=False)


class Follow(models.Model):
    """One reader following one article's discussion (``comments.follows``): all its
    new comments or only the replies to them, instantly or in a daily digest. An
    anonymous reader's follow waits for the confirmation of its address."""

    class Scope(models.TextChoices):
        ALL = "all", _("All new comments")
        REPLIES = "replies", _("Only replies to me")

    class Delivery(models.TextChoices):
        INSTANT = "instant", _("Instantly")
        DAILY = "daily", _("Daily digest")

    article = models.ForeignKey(
        "articles.Article", verbose_name=_("article"), on_delete=models.CASCADE, related_name="+"
    )
    email = models.EmailField(_("email address"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reader"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    scope = models.CharField(_("follows"), max_length=10, choices=Scope, default=Scope.ALL)
    delivery = models.CharField(
        _("delivery"), max_length=10, choices=Delivery, default=Delivery.INSTANT
    )
    created_at = models.DateTimeField(_("followed at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    objects = FollowQuerySet.as_manager()

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["article", "email"], name="follow_once_per_address"),
        ]

    def __str__(self):
        return f"{self.email} follows {self.article_id}"

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


class DigestSent(models.Model):
    """A daily digest recorded before it is queued: one per follow and day, so a run of
    ``send_digests`` interrupted and run again sends nothing twice."""

    follow = models.ForeignKey(
        Follow, verbose_name=_("follow"), on_delete=models.CASCADE, related_name="digests"
    )
    day = models.DateField(_("day"))
    comment_count = models.PositiveIntegerField(_("comments"), default=0)
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)

    class Meta:
        verbose_name = _("digest sent")
        verbose_name_plural = _("digests sent")
        constraints = [
            models.UniqueConstraint(fields=["follow", "day"], name="digest_once_per_day"),
        ]

    def __str__(self):
        return f"Digest {self.day} for follow {self.follow_id}"


class ErasureRequest(models.Model):
    """A reader's confirmed request to erase their data (``comments.privacy``): carried
    out by ``manage.py run_erasures`` once ``execute_after`` (a grace period) has passed,
    unless cancelled. Once done, the address is blanked: moderators see that an erasure
    happened and how many rows it changed, not whose or what."""

    email = models.EmailField(_("email"), max_length=254, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    execute_after = models.DateTimeField(_("carried out after"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    comments_erased = models.PositiveIntegerField(_("comments erased"), default=0)
    rows_cleared = models.PositiveIntegerField(
        _("other rows cleared"),
        default=0,
        help_text=_("Reports, reactions, follows, revisions, log entries and records changed."),
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        indexes = [
            models.Index(fields=["completed_at", "execute_after"], name="erasure_due_idx"),
        ]

    def __str__(self):
        return f"Erasure request {self.pk}"

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


class ReplyFeedKey(models.Model):
    """The secret in a signed-in reader's personal Atom feed of replies to their
    comments (``comments.feeds.RepliesFeed``): replaced to revoke the old address."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reader"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    key = models.CharField(_("key"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("reply feed key")
        verbose_name_plural = _("reply feed keys")

    def __str__(self):
        return f"Reply feed of {self.user_id}"
