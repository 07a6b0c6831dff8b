from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connections, models
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from articles.rendering import render_markdown


def display_name(user):
    """How a person is named on the site (bylines): full name, else username."""
    return user.get_full_name() or user.get_username()


def comments_open_now(*, comments_open, published_at, now=None):
    """The comment window of a public article: open per article and, when
    ``COMMENTS_CLOSE_AFTER_DAYS`` is set, not past that many days since publication."""
    if not comments_open:
        return False
    days = getattr(settings, "COMMENTS_CLOSE_AFTER_DAYS", None)
    return days is None or (now or timezone.now()) - published_at <= timedelta(days=days)


class CacheVersion(NamedTuple):
    """Everything a cached page of one article depends on, but the request's own parts.

    ``version`` (the ``comments_version`` column) is bumped by every visible change of
    the article, its comments or its author: ``comments.signals`` does it from the model
    signals, so no write path has to remember. ``updated_at`` moves with every save of
    the article. ``accepts_comments`` is computed now, so a comment window closing
    changes the key without any write. ``key()`` adds the language and the release.
    """

    pk: int
    version: int
    updated_at: datetime
    accepts_comments: bool

    def key(self, kind, *parts):
        """The cache key of this article's ``kind`` ("page", "thread"), with ``parts``
        the caller read from the request, normalised (the comments page and sort, the
        settings that shape it, the host). Every cache key of an article page is built
        here and nowhere else."""
        return ":".join(
            str(part)
            for part in (
                kind,
                settings.THREADPRESS_RELEASE,
                self.pk,
                self.version,
                self.updated_at.timestamp(),
                "open" if self.accepts_comments else "closed",
                get_language(),
                *parts,
            )
        )


# Values other apps add to every article of a list (``annotate_lists``).
_list_annotations = {}


def annotate_lists(name, expression):
    """Add ``name`` to every article of the site's lists: ``expression()`` returns the
    annotation (the comments app registers ``comment_count`` this way, so the articles
    app needs not know comments exist)."""
    _list_annotations[name] = expression


def _aware(value):
    """A datetime read by a raw cursor (SQLite: naive UTC, or text), made aware."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


class ArticleQuerySet(models.QuerySet):
    def published(self):
        """The one definition of "public": published, and its publication time has come."""
        return self.filter(status=Article.Status.PUBLISHED, published_at__lte=timezone.now())

    def public_version(self, slug):
        """The ``CacheVersion`` of the public article ``slug``, or None (not public, or
        no such article): what the anonymous page cache keys on.

        Asked on every anonymous article view, so it is one statement written out:
        through the ORM, building it cost fifteen times running it. The rule is
        ``published()``'s, and a test holds the two together.
        """
        connection = connections[self.db]
        quote = connection.ops.quote_name
        meta = Article._meta
        names = ("id", "comments_version", "updated_at", "published_at", "comments_open")
        columns = ", ".join(quote(meta.get_field(name).column) for name in names)
        slug_column, status, published_at = (
            quote(meta.get_field(name).column) for name in ("slug", "status", "published_at")
        )
        sql = (
            f"SELECT {columns} FROM {quote(meta.db_table)} "
            f"WHERE {slug_column} = %s AND {status} = %s AND {published_at} <= %s"
        )
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [slug, Article.Status.PUBLISHED, connection.ops.adapt_datetimefield_value(now)],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        pk, version, updated_at, published, comments_open = row
        return CacheVersion(
            pk,
            version,
            _aware(updated_at),
            comments_open_now(
                comments_open=bool(comments_open), published_at=_aware(published), now=now
            ),
        )

    def bump_cache_version(self):
        """Give these articles a new ``CacheVersion`` (see ``comments.signals.invalidate``,
        which calls this for every visible change and tells the edge cache after commit)."""
        return self.update(comments_version=F("comments_version") + 1)

    def visible_to(self, user):
        """Staff may preview drafts and scheduled articles; everyone else sees the public ones."""
        if user.is_authenticated and user.is_staff:
            return self.all()
        return self.published()

    def for_lists(self):
        """Public articles as the site lists them: with their author, and the values
        other apps add with ``annotate_lists`` (a comment count), in the list query."""
        annotations = {name: expression() for name, expression in _list_annotations.items()}
        return self.published().select_related("author").annotate(**annotations)


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
    comments_close_at = models.DateTimeField(
        _("close comments at"),
        null=True,
        blank=True,
        help_text=_("Comments close by themselves at this date and time."),
    )
    comments_premoderated = models.BooleanField(
        _("pre-moderate every comment"),
        null=True,
        blank=True,
        help_text=_("Empty: the site's default (COMMENTS_PREMODERATE_ALL)."),
    )
    comments_allow_links = models.BooleanField(
        _("allow links in comments"),
        null=True,
        blank=True,
        help_text=_("Empty: the site's default (COMMENTS_ALLOW_LINKS)."),
    )
    # The version in ``CacheVersion``: bumped by ``comments.signals.invalidate`` on every
    # visible change of the article, its comments or its author's name.
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
        permissions = [
            ("change_discussion", _("Can change an article's discussion settings")),
        ]

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
        return self.is_public and comments_open_now(
            comments_open=self.comments_open, published_at=self.published_at
        )

    @property
    def author_display_name(self):
        return display_name(self.author)

    @property
    def cache_version(self):
        """This article's ``CacheVersion``, from the instance (no query)."""
        return CacheVersion(self.pk, self.comments_version, self.updated_at, self.accepts_comments)
