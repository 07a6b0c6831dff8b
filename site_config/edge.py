"""The edge cache (Varnish) in front of the app: surrogate keys on responses.

Views name what a response shows with ``add_surrogate_keys(request, *keys)``; the
``xkey`` header lists them, and a change purges exactly the keys it touches. Key names
are built here and nowhere else.
"""

KEYS_ATTR = "_surrogate_keys"
LISTS_KEY = "articles"  # every list of articles: home, sections, tags, feeds, sitemap


def article_key(pk):
    return f"article-{pk}"


def section_key(pk):
    return f"section-{pk}"


def tag_key(pk):
    return f"tag-{pk}"


def add_surrogate_keys(request, *keys):
    """Say that the response to ``request`` shows ``keys`` (purging one drops it)."""
    found = getattr(request, KEYS_ATTR, None)
    if found is None:
        found = set()
        setattr(request, KEYS_ATTR, found)
    found.update(keys)


def surrogate_keys(request):
    """The keys the response to ``request`` shows, sorted."""
    return sorted(getattr(request, KEYS_ATTR, ()))


def purge_keys(keys):
    """Purge ``keys`` on every edge cache in ``EDGE_PURGE_URLS`` once the current
    transaction commits, in the background (never failing the write)."""
    # The purger (issue 16) replaces this body; callers use this name.
