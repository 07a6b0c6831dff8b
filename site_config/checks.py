"""System checks of the site's own settings (``manage.py check``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

from site_config.http import DEPRECATED_TRUSTED_PROXY_COUNT


@register(Tags.compatibility)
def deprecated_settings(app_configs, **kwargs):
    """threadpress.W001: ``COMMENTS_TRUSTED_PROXY_COUNT`` is still honoured, but the client
    IP serves the admin's login throttling too, so the setting has a site-level name."""
    if getattr(settings, DEPRECATED_TRUSTED_PROXY_COUNT, None) is None:
        return []
    if getattr(settings, "TRUSTED_PROXY_COUNT", None) is None:
        hint = (
            "Rename it to DJANGO_TRUSTED_PROXY_COUNT in the environment "
            "(TRUSTED_PROXY_COUNT in a settings module); the old name still works for now."
        )
    else:
        hint = (
            "TRUSTED_PROXY_COUNT is set too and wins; remove COMMENTS_TRUSTED_PROXY_COUNT "
            "(DJANGO_TRUSTED_PROXY_COUNT in the environment)."
        )
    return [
        Warning(
            "COMMENTS_TRUSTED_PROXY_COUNT is deprecated; use TRUSTED_PROXY_COUNT.",
            hint=hint,
            id="threadpress.W001",
        )
    ]
