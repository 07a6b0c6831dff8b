from django.conf import settings
from django.utils.translation import gettext

from site_config import pagecache


def site(request):
    """The site's name and tagline, for the base template. The default tagline is in
    the catalogue, so it reads in the reader's language; a site's own is shown as set."""
    return {"SITE_NAME": settings.SITE_NAME, "SITE_TAGLINE": gettext(settings.SITE_TAGLINE)}


def shared_page_csrf_token(request):
    """While the page shared by anonymous readers is rendered for the page cache, every
    ``{% csrf_token %}`` on it (the footer's language chooser, the comment form) renders
    the cache's marker, filled with each reader's own token when the page is served."""
    marker = pagecache.hole(request, "csrf")
    return {} if marker is None else {"csrf_token": marker}
