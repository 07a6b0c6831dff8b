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


@register(Tags.security, deploy=True)
def csrf_middleware(app_configs, **kwargs):
    """threadpress.W002: Django's security.W003 looks for its own CSRF middleware by name
    and is silenced in settings, since the site runs a subclass of it
    (``site_config.csrf.CsrfViewMiddleware``); this check holds the same rule for both."""
    from django.middleware.csrf import CsrfViewMiddleware
    from django.utils.module_loading import import_string

    for path in settings.MIDDLEWARE:
        try:
            middleware = import_string(path)
        except ImportError:
            continue
        if isinstance(middleware, type) and issubclass(middleware, CsrfViewMiddleware):
            return []
    return [
        Warning(
            "No CSRF middleware in MIDDLEWARE (Django's or a subclass of it).",
            hint="Add 'site_config.csrf.CsrfViewMiddleware' to MIDDLEWARE.",
            id="threadpress.W002",
        )
    ]
