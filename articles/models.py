from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connections, models
from django.db.models import F, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from articles.rendering import render_markdown


def display_name(user):
    """How a person is named on the site (bylines): full name, else username."""
    return user.get_full_name() or user.get_username()


def comments_close_time(*, close_at, published_at):
    """When comments on a public article close by themselves, or None: the article's own
    ``comments_close_at`` or, when ``COMMENTS_CLOSE_AFTER_DAYS`` is set, that many days
    after publication, whichever comes first."""
    days = getattr(settings, "COMMENTS_CLOSE_AFTER_DAYS", None)
    limit = published_at + timedelta(days=days) if days is not None else None
    return min((time for time in (close_at, limit) if time is not None), default=None)


def comments_open_now(*, comments_open, published_at, close_at=None, now=None):
    """The comment window of a public article: open per article, and its closing time
    (``comments_close_time``) not come. A day limit is inclusive (open until the very
    end of its last second); ``close_at`` is the moment comments close."""
    if not comments_open:
        return False
    now = now or timezone.now()
    if close_at is not None and now >= close_at:
        return False
    days = getattr(settings, "COMMENTS_CLOSE_AFTER_DAYS", None)
    return days is None or now - published_at <= timedelta(days=days)


def site_discussion_default(name):
    """A site-wide discussion default, ``COMMENTS_PREMODERATE_ALL`` or
    ``COMMENTS_ALLOW_LINKS``. The articles app reads the Django setting itself (it never
    imports the comments app); the fallbacks are comments/conf.py's ``DEFAULTS``, and a
    test holds the two together."""
    return getattr(settings, name, _SITE_DISCUSSION_DEFAULTS[name])


_SITE_DISCUSSION_DEFAULTS = {"COMMENTS_PREMODERATE_ALL": False, "COMMENTS_ALLOW_LINKS": True}


class CacheVersion(NamedTuple):
    """Everything a cached page of one article depends on, but the request's own parts.

    ``version`` (the ``comments_version`` column) is bumped by every visible change of
    the article, its comments or its author: ``comments.signals`` does it from the model
    signals, so no write path has to remember. ``updated_at`` moves with every save of
    the article. ``accepts_comments`` is computed now, so a comment window closing (a
    ``comments_close_at`` passing, or the site's day limit) changes the key without any
    write. The discussion state readers are told above the form comes next, resolved
    against the site's defaults, so changing a default changes the key too: when
    comments close (``closes_at``), whether they are pre-moderated and whether links
    are allowed. ``key()`` adds the language and the release.
    """

    pk: int
    version: int
    updated_at: datetime
    accepts_comments: bool
    closes_at: datetime | None = None
    premoderated: bool = False
    allows_links: bool = True

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
                self.closes_at.timestamp() if self.closes_at else "",
                "premoderated" if self.premoderated else "",
                "links" if self.allows_links else "nolinks",
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


def _resolved(value, default_name):
    """A per-article yes/no (None: the site's default ``default_name``), as a bool."""
    return site_discussion_default(default_name) if value is None else bool(value)


def _aware(value):
    """A datetime read by a raw cursor (SQLite: naive UTC, or text), made aware."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


class ArticleQuerySet(models.QuerySet):
    def published(self):
        """The one definition of "public": published, and its publication time has come."""
        return self.filter(status=Article.Status.PUBLISHED, published_at__lte=timezone.now())

    def next_publication(self):
        """When the next scheduled article comes out, or None: the lists change then
        without any write (the edge cache keeps them no longer: ``site_config.edge``)."""
        scheduled = self.filter(status=Article.Status.PUBLISHED, published_at__gt=timezone.now())
        return scheduled.aggregate(first=models.Min("published_at"))["first"]

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
        names = (
            "id",
            "comments_version",
            "updated_at",
            "published_at",
            "comments_open",
            "comments_close_at",
            "comments_premoderated",
            "comments_allow_links",
        )
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
        pk, version, updated_at, published, comments_open, close_at, premoderated, links = row
        published = _aware(published)
        close_at = _aware(close_at) if close_at is not None else None
        return CacheVersion(
            pk,
            version,
            _aware(updated_at),
            comments_open_now(
                comments_open=bool(comments_open),
                published_at=published,
                close_at=close_at,
                now=now,
            ),
            comments_close_time(close_at=close_at, published_at=published),
            _resolved(premoderated, "COMMENTS_PREMODERATE_ALL"),
            _resolved(links, "COMMENTS_ALLOW_LINKS"),
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
        return (
            self.published()
            .select_related("author", "section")
            .prefetch_related("tags")
            .annotate(**annotations)
        )


class ListedQuerySet(models.QuerySet):
    """Sections and tags: ``listed()`` are those with a public article (their pages
    have something to list, so they go in the sitemap)."""

    def listed(self):
        return self.filter(
            models.Exists(
                Article.objects.published().filter(**{self.article_field: OuterRef("pk")})
            )
        )


class SectionQuerySet(ListedQuerySet):
    article_field = "section"


class TagQuerySet(ListedQuerySet):
    article_field = "tags"


class Section(models.Model):
    """Where an article belongs on the site (News, Opinion…): one per article. Section
    pages list their published articles, with a feed of their own."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, help_text=_("Sections are listed in this order.")
    )

    objects = SectionQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("section")
        verbose_name_plural = _("sections")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("articles:section", kwargs={"slug": self.slug})


class Tag(models.Model):
    """A subject an article is about; an article has any number of tags."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("articles:tag", kwargs={"slug": self.slug})


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
    section = models.ForeignKey(
        Section,
        verbose_name=_("section"),
        on_delete=models.PROTECT,  # a section with articles is emptied before it goes
        null=True,
        blank=True,
        related_name="articles",
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="articles")
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
        """Open for new comments: public, open per article, and its closing time (its
        own ``comments_close_at`` or the site-wide day limit) not come."""
        return self.is_public and comments_open_now(
            comments_open=self.comments_open,
            published_at=self.published_at,
            close_at=self.comments_close_at,
        )

    @property
    def comments_close_time(self):
        """When comments close by themselves (``comments_close_at`` or the site's day
        limit, whichever comes first), or None."""
        return comments_close_time(close_at=self.comments_close_at, published_at=self.published_at)

    @property
    def comments_closed_on(self):
        """When comments closed by themselves (their closing time has passed), or None:
        still open, closed by hand, or not public."""
        close_time = self.comments_close_time
        if close_time is None or not self.comments_open or not self.is_public:
            return None
        return None if self.accepts_comments else close_time

    @property
    def premoderates_comments(self):
        """Every comment is held for a moderator: this article's choice, or the site's
        ``COMMENTS_PREMODERATE_ALL``."""
        return _resolved(self.comments_premoderated, "COMMENTS_PREMODERATE_ALL")

    @property
    def allows_links_in_comments(self):
        """Comments may hold links: this article's choice, or the site's
        ``COMMENTS_ALLOW_LINKS``."""
        return _resolved(self.comments_allow_links, "COMMENTS_ALLOW_LINKS")

    @property
    def author_display_name(self):
        return display_name(self.author)

    @property
    def cache_version(self):
        """This article's ``CacheVersion``, from the instance (no query)."""
        return CacheVersion(
            self.pk,
            self.comments_version,
            self.updated_at,
            self.accepts_comments,
            self.comments_close_time,
            self.premoderates_comments,
            self.allows_links_in_comments,
        )
