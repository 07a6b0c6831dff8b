from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Count, Deferrable, F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from mptt.managers import TreeManager
from mptt.models import MPTTModel, TreeForeignKey
from mptt.querysets import TreeQuerySet

from comments.text import render_comment_body
from comments.tree import AWAITING

MAX_BODY_LENGTH = 5000
MAX_NAME_LENGTH = 100
MAX_EXPLANATION_LENGTH = 2000

http_url_validator = URLValidator(schemes=["http", "https"])


class CommentQuerySet(TreeQuerySet):
    def approved(self):
        """The one definition of a public comment."""
        return self.filter(status=Comment.Status.APPROVED)

    def pending(self):
        return self.filter(status=Comment.Status.PENDING)

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
        self.body_html = render_comment_body(self.body)
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
