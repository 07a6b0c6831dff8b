from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "comments"
    verbose_name = _("Comments")

    def ready(self):
        # The app joins the article pages (their cache, query and lists) and keeps
        # every cached page current from the model signals; the word lists take each
        # change on the next post.
        from comments import accounts, article_pages, signals, wordlists
        from site_config import edge

        article_pages.register()
        signals.connect()
        # The edge cache purges the pages of every article a change touched.
        signals.discussion_changed.connect(edge.purge_discussion, dispatch_uid="edge-purge")
        wordlists.connect()
        accounts.connect()  # reader accounts: a profile each, never staff
