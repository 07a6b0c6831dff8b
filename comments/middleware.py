"""Splice cached thread fragments into finished responses.

A rendered thread can be megabytes of HTML. Passed through the template engine it
is copied at every level of nesting (inclusion tag, block, ``{% extends %}``) and
encoded again on every request. Instead, ``{% comments_section %}`` leaves a small
marker in the page and registers the fragment's pre-encoded bytes on the request;
this middleware swaps the marker for the bytes once, at the end. Everything
around the fragment (CSRF token, form timestamp, a reader's own comments) is still
rendered per request.
"""

import secrets

FRAGMENTS_ATTR = "_thread_fragments"


def defer_fragment(request, html_bytes):
    """Register ``html_bytes`` for this response; returns the marker to render instead."""
    fragments = getattr(request, FRAGMENTS_ATTR, None)
    if fragments is None:
        fragments = {}
        setattr(request, FRAGMENTS_ATTR, fragments)
    marker = f"<!--thread-fragment-{secrets.token_hex(8)}-->"
    fragments[marker.encode()] = html_bytes
    return marker


class ThreadFragmentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        fragments = getattr(request, FRAGMENTS_ATTR, None)
        if not fragments or response.streaming:
            return response
        splice_fragments(request, response)
        return response


def splice_fragments(request, response):
    """Render ``response`` if needed and swap each registered marker for its bytes."""
    if hasattr(response, "render") and not response.is_rendered:
        response.render()  # the {% comments_section %} tag registers its fragments here
    fragments = getattr(request, FRAGMENTS_ATTR, None)
    if not fragments:
        return
    content = response.content
    for marker, html_bytes in fragments.items():
        before, found, after = content.partition(marker)
        if found:
            content = b"".join((before, html_bytes, after))
    response.content = content
    fragments.clear()
    if response.has_header("Content-Length"):
        response["Content-Length"] = str(len(content))
