from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArticlesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "articles"
    verbose_name = _("Articles")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from articles import invalidation
        from articles.models import Article
        from site_config import edge

        invalidation.connect()
        # Published, retitled, unpublished, deleted: its page and every list, at the edge.
        post_save.connect(edge.purge_article, sender=Article, dispatch_uid="edge-article-saved")
        post_delete.connect(edge.purge_article, sender=Article, dispatch_uid="edge-article-gone")
