"""What readers see of sections and tags changes at once.

An article's page shows its section and tags, and every list shows them too. The page
cache keys on the article's ``CacheVersion``, so each change here gives the articles it
touches a new version (one ``UPDATE``: ``bump_cache_version``, in the change's own
transaction) and purges the edge cache's keys of what changed after commit
(``site_config.edge.purge_keys``):

- a section or tag renamed or re-slugged: its articles (their pages and lists name and
  link it); a section's new description: its own page; a new position: nothing shows it;
- a tag deleted (its links go with it): the articles it was on;
- an article's tags changed from either side (the admin, ``article.tags.add()``,
  ``tag.articles.set()``…), which sends ``m2m_changed`` and no ``post_save``.

An article moving to another section is an article save: the comments app's
invalidation and the edge cache's list purge see it already.
"""

from django.db.models.signals import m2m_changed, post_delete, post_init, post_save, pre_delete

from articles.models import Article, Section, Tag
from site_config import edge

CLEARED_ATTR = "_tags_before_clear"
LOADED_ATTR = "_shown_at_load"
SHOWN_ON_ARTICLES = ("name", "slug")  # what an article's page and the lists show of either


def _shown(instance):
    fields = SHOWN_ON_ARTICLES + (("description",) if isinstance(instance, Section) else ())
    return {name: getattr(instance, name) for name in fields}


def _remember_shown(sender, instance, **kwargs):
    """What readers see of a section or tag as loaded, to tell what a save changed."""
    if instance.pk is not None and not instance.get_deferred_fields():
        setattr(instance, LOADED_ATTR, _shown(instance))


def _changed(instance):
    """The shown fields this save changed (every one when the loaded values are unknown);
    the next save of the same instance compares with this one."""
    loaded = getattr(instance, LOADED_ATTR, None)
    shown = _shown(instance)
    setattr(instance, LOADED_ATTR, shown)
    if loaded is None:
        return set(shown)
    return {name for name, value in shown.items() if loaded.get(name) != value}


def touch_articles(articles, *keys):
    """New cache versions for the ``articles`` queryset now; purge their edge keys and
    ``keys`` (with every list) once the transaction commits."""
    ids = list(articles.values_list("pk", flat=True))
    if ids:
        Article.objects.using(articles.db).filter(pk__in=ids).bump_cache_version()
    edge.purge_keys([edge.LISTS_KEY, *keys, *(edge.article_key(pk) for pk in ids)])


def _section_saved(sender, instance, created, using, raw=False, **kwargs):
    if raw:
        return
    changed = _changed(instance)
    if created:
        return
    if changed & set(SHOWN_ON_ARTICLES):
        touch_articles(
            Article.objects.using(using).filter(section=instance), edge.section_key(instance.pk)
        )
    elif changed:  # the description: on the section's own page only
        edge.purge_keys([edge.section_key(instance.pk)])


def _section_deleted(sender, instance, **kwargs):
    # Only an empty section can go (PROTECT): nothing but its own page changes.
    edge.purge_keys([edge.LISTS_KEY, edge.section_key(instance.pk)])


def _tag_saved(sender, instance, created, using, raw=False, **kwargs):
    if raw:
        return
    changed = _changed(instance)
    if not created and changed:
        touch_articles(
            Article.objects.using(using).filter(tags=instance), edge.tag_key(instance.pk)
        )


def _tag_deleting(sender, instance, using, **kwargs):
    # Before the delete, while the links still say which articles showed it.
    touch_articles(Article.objects.using(using).filter(tags=instance), edge.tag_key(instance.pk))


def _tags_changed(sender, instance, action, reverse, pk_set, using, **kwargs):
    if action == "pre_clear":
        # ``post_clear`` gets no ``pk_set``: note what is about to go.
        related = instance.articles if reverse else instance.tags
        setattr(instance, CLEARED_ATTR, set(related.using(using).values_list("pk", flat=True)))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = getattr(instance, CLEARED_ATTR, set())
    if not pk_set:
        return
    if reverse:  # tag.articles changed: ``pk_set`` holds article ids
        touch_articles(
            Article.objects.using(using).filter(pk__in=pk_set), edge.tag_key(instance.pk)
        )
    else:  # article.tags changed: ``pk_set`` holds tag ids
        touch_articles(
            Article.objects.using(using).filter(pk=instance.pk),
            *(edge.tag_key(pk) for pk in pk_set),
        )


def connect():
    """Connect the receivers (``ArticlesConfig.ready``)."""
    post_init.connect(_remember_shown, sender=Section, dispatch_uid="section-loaded")
    post_init.connect(_remember_shown, sender=Tag, dispatch_uid="tag-loaded")
    post_save.connect(_section_saved, sender=Section, dispatch_uid="section-saved")
    post_delete.connect(_section_deleted, sender=Section, dispatch_uid="section-deleted")
    post_save.connect(_tag_saved, sender=Tag, dispatch_uid="tag-saved")
    pre_delete.connect(_tag_deleting, sender=Tag, dispatch_uid="tag-deleting")
    m2m_changed.connect(_tags_changed, sender=Article.tags.through, dispatch_uid="tags-changed")
