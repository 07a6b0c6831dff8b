"""Site-wide error views."""

from django.shortcuts import render

from comments.views import post_comment_csrf_failure

# The CSRF failures a reader's own browser causes (a cookie or token gone stale), as
# opposed to a foreign Origin or Referer: only these keep the reader's text.
STALE_TOKEN_REASONS = ("CSRF cookie", "CSRF token")


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a comment post whose token went stale gets the form back
    with its text and a fresh token; anything else the site's 403 page."""
    match = request.resolver_match
    if (
        request.method == "POST"
        and match is not None
        and match.view_name == "comments:post"
        and reason.startswith(STALE_TOKEN_REASONS)
    ):
        return post_comment_csrf_failure(request, **match.kwargs)
    return render(request, "403_csrf.html", status=403)
