from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The site itself: its system checks (``site_config/checks.py``)."""

    name = "site_config"
    verbose_name = "threadpress"

    def ready(self):
        from site_config import checks  # noqa: F401  (registers the checks)
