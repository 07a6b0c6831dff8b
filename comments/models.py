from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Deferrable, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from mptt.managers import TreeManager
from mptt.models import MPTTModel, TreeForeignKey
from mptt.querysets import TreeQuerySet

from comments.text import render_comment_body

MAX_BODY_LENGTH = 5000
MAX_NAME_LENGTH = 100

http_url_validator = URLValidator(schemes=["http", "https"])


class CommentQuerySet(TreeQuerySet):
    def approved(self):
        """The one definition of a public comment."""
        return self.filter(status=Comment.Status.APPROVED)

    def pending(self):
        return self.filter(status=Comment.Status.PENDING)

    def for_article(self, article):
        return self.filter(article=article)

    def in_tree_order(self):
        return self.order_by("tree_id", "lft")


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


class CommentReport(models.Model):
    """A reader's report of a comment: one per browser session per comment."""

    comment = models.ForeignKey(
        Comment, verbose_name=_("comment"), on_delete=models.CASCADE, related_name="reports"
    )
    session_key = models.CharField(_("session"), max_length=64)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("reported at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(
                fields=["comment", "session_key"], name="report_once_per_session"
            )
        ]

    def __str__(self):
        return f"Report of comment {self.comment_id}"
