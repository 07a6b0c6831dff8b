from datetime import timedelta

from django.conf import settings
from django.db import connections, models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from articles.rendering import render_markdown


class ArticleQuerySet(models.QuerySet):
    def published(self):
        """The one definition of "public": published, and its publication time has come."""
        return self.filter(status=Article.Status.PUBLISHED, published_at__lte=timezone.now())

    def public_version(self, slug):
        """What the anonymous page cache keys on, for the public article ``slug``:
        ``(pk, comments_version, updated_at)`` or None (not public, or no such article).

        Asked on every anonymous article view, so it is one statement written out:
        through the ORM, building it cost fifteen times running it. The rule is
        ``published()``'s, and a test holds the two together.
        """
        connection = connections[self.db]
        quote = connection.ops.quote_name
        meta = Article._meta
        pk, version, updated, slug_column, status, published_at = (
            quote(meta.get_field(name).column)
            for name in ("id", "comments_version", "updated_at", "slug", "status", "published_at")
        )
        sql = (
            f"SELECT {pk}, {version}, {updated} FROM {quote(meta.db_table)} "
            f"WHERE {slug_column} = %s AND {status} = %s AND {published_at} <= %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [slug, Article.Status.PUBLISHED, now])
            row = cursor.fetchone()
        return None if row is None else (row[0], row[1], row[2].isoformat())

    def visible_to(self, user):
        """Staff may preview drafts and scheduled articles; everyone else sees the public ones."""
        if user.is_authenticated and user.is_staff:
            return self.all()
        return self.published()

    def with_comment_count(self):
        """Annotate ``comment_count``: approved comments, counted in the list query itself.

        A correlated subquery is computed only for the rows a page returns, so the
        cost stays flat however many comments the site holds.
        """
        from comments.models import Comment

        approved = (
            Comment.objects.approved()
            .filter(article=OuterRef("pk"))
            .order_by()
            .values("article")
            .annotate(n=Count("*"))  # not a column: PostgreSQL counts from the index alone
            .values("n")
        )
        return self.annotate(comment_count=Coalesce(Subquery(approved), 0))

    def with_pending_count(self):
        from comments.models import Comment

        return self.annotate(
            pending_count=Count("comments", filter=Q(comments__status=Comment.Status.PENDING))
        )


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="articles",
    )
    summary = models.TextField(_("summary"), blank=True)
    body = models.TextField(_("body"), blank=True, help_text=_("Markdown."))
    body_html = models.TextField(_("body (HTML)"), blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    published_at = models.DateTimeField(
        _("published at"),
        default=timezone.now,
        db_index=True,
        help_text=_("A future date schedules the article: it is not public until then."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    comments_open = models.BooleanField(_("comments open"), default=True)
    comments_version = models.PositiveIntegerField(
        _("comments version"),
        default=0,
        editable=False,
        help_text=_("Bumped whenever a visible comment changes; part of the thread cache key."),
    )
    import_key = models.CharField(
        _("import key"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text=_("Where an imported article came from (e.g. a WordPress site and post id)."),
    )

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        indexes = [models.Index(fields=["status", "-published_at"], name="article_public_idx")]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        # Imported articles arrive with HTML only; Markdown articles render on save.
        if self.body or not self.body_html:
            self.body_html = render_markdown(self.body)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("articles:detail", kwargs={"slug": self.slug})

    @property
    def is_public(self):
        return self.status == self.Status.PUBLISHED and self.published_at <= timezone.now()

    @property
    def is_scheduled(self):
        return self.status == self.Status.PUBLISHED and self.published_at > timezone.now()

    @property
    def accepts_comments(self):
        """Open for new comments: public, open per article, and not past the site-wide limit."""
        if not (self.comments_open and self.is_public):
            return False
        days = getattr(settings, "COMMENTS_CLOSE_AFTER_DAYS", None)  # comments/conf.py: never
        return days is None or timezone.now() - self.published_at <= timedelta(days=days)

    @property
    def author_display_name(self):
        return self.author.get_full_name() or self.author.get_username()
