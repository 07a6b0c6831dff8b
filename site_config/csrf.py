"""CSRF protection for a first-time reader's comment, without a CSRF cookie.

Behind the edge cache (``site_config.edge``) a reader who has no CSRF cookie gets the
comment form with an empty token: the fragment holding it is the same for every such
reader, so Varnish keeps it and a cookie-less page view costs the app nothing. Their
post then carries no cookie and no token, and is checked the way Go 1.25's
``net/http.CrossOriginProtection`` and the Fetch Metadata guidance check requests: by
the browser's own cross-site signals, which a page on another site cannot set.
"""

from django.conf import settings
from django.middleware import csrf

# The views a reader may post to without a CSRF cookie (the reply form posts to the
# same view as the comment form).
COOKIELESS_VIEWS = frozenset({"comments:post"})
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class CsrfViewMiddleware(csrf.CsrfViewMiddleware):
    """Django's CSRF check, except for a comment post that has neither a CSRF cookie
    nor a session cookie: that one is accepted when the browser says it comes from
    this site (``Sec-Fetch-Site: same-origin``) or, from a browser that sends no
    ``Sec-Fetch-Site``, when its ``Origin`` is one Django itself trusts (this host or
    ``CSRF_TRUSTED_ORIGINS``); anything else goes to Django's check and is refused as
    before (``CSRF_FAILURE_VIEW`` gives the form back with the text kept and a cookie).

    Why that is enough there: the token's job is to prove that the form came from this
    site. Both headers are set by the browser and no page may set or change them
    (forbidden request headers), so a form on another site posting here is seen as
    ``cross-site`` or with its own ``Origin``, and refused. A request without either
    header is refused too (a browser too old to send them gets the form back with a
    cookie, and its next post has a token). Such a post carries no session and no
    cookie, hence no authority of the reader's to abuse: what the check still stops is
    a foreign page making readers' browsers post comments for it. A reader with a CSRF
    cookie keeps Django's full token check, and every other view too."""

    def process_view(self, request, callback, callback_args, callback_kwargs):
        if is_cookieless_post(request) and comes_from_this_site(request, self):
            return self._accept(request)
        return super().process_view(request, callback, callback_args, callback_kwargs)


def is_cookieless_post(request):
    """A post to a view of ``COOKIELESS_VIEWS`` without a CSRF or session cookie."""
    if request.method in SAFE_METHODS or settings.CSRF_USE_SESSIONS:
        return False
    match = getattr(request, "resolver_match", None)
    if match is None or match.view_name not in COOKIELESS_VIEWS:
        return False
    cookies = request.COOKIES
    return settings.CSRF_COOKIE_NAME not in cookies and settings.SESSION_COOKIE_NAME not in cookies


def comes_from_this_site(request, middleware):
    """The browser says the request comes from a page of this site: ``Sec-Fetch-Site:
    same-origin`` (``same-site`` is not enough: another subdomain may be anyone's), or,
    without that header, an ``Origin`` that ``middleware`` (Django's check) verifies.
    An ``Origin`` it does not verify is refused whatever else the request says."""
    has_origin = "HTTP_ORIGIN" in request.META
    if has_origin and not middleware._origin_verified(request):
        return False  # never from a browser with same-origin; refused all the same
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return has_origin
