from dataclasses import replace
from urllib.parse import parse_qsl

from django import template
from django.core import signing
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext

from comments import accounts, posting, session, threads, visits
from comments.article_pages import TIMESTAMP_HOLE
from comments.conf import conf
from comments.forms import CommentForm
from comments.models import Comment
from site_config import pagecache

register = template.Library()

REMEMBER_COOKIE = "comment_author"


def responses_heading(count, title):
    """ "No Responses to “T”", "1 Response to “T”", "N Responses to “T”"."""
    if count == 0:
        return gettext("No Responses to “%(t)s”") % {"t": title}
    return ngettext("%(n)d Response to “%(t)s”", "%(n)d Responses to “%(t)s”", count) % {
        "n": count,
        "t": title,
    }


@register.simple_tag
def responses_label(count):
    """The home page's count: "No Responses", "1 Response", "N Responses"."""
    if not count:
        return gettext("No Responses")
    return ngettext("%(n)d Response", "%(n)d Responses", count) % {"n": count}


def _remembered_author(request):
    try:
        raw = request.get_signed_cookie(REMEMBER_COOKIE, salt=REMEMBER_COOKIE)
    except (KeyError, signing.BadSignature):
        return {}
    values = dict(parse_qsl(raw))
    return {key: values[key] for key in ("name", "email", "url") if key in values} | {
        "remember": True
    }


def _reply_target(request, article, form):
    """The public comment being replied to, from ``?replyto=`` or the bound form."""
    raw = request.GET.get("replyto", "")
    if form.is_bound:
        raw = form.data.get("parent", "") or ""
    if not str(raw).isdigit():
        return None
    return Comment.objects.approved().filter(pk=int(raw), article=article).first()


@register.inclusion_tag("comments/_section.html", takes_context=True)
def comments_section(context, article):
    request = context["request"]
    own_ids = session.own_comment_ids(request, article)
    reported_ids = session.reported_comment_ids(request, article)
    editable_ids = posting.editable_comment_ids(article=article, ids=own_ids)
    # A notice (after an edit) is shown at the reader's own comment, nowhere else.
    notices = {
        pk: notice for pk, notice in session.pop_notices(request, article).items() if pk in own_ids
    }
    viewer = threads.Viewer(
        own_ids=own_ids, reported_ids=reported_ids, editable_ids=editable_ids, notices=notices
    )
    # The article view has read the page from the URL and redirects one past the end;
    # a refused post's page (the form's action carries cpage) shows the nearest page.
    params = context.get("comment_page_params")
    exact = params is not None
    if params is None:
        params = threads.PageParams.from_query(request.GET)
    try:
        page = threads.render_page(
            article, page=params.number, sort=params.sort, viewer=viewer, exact=exact
        )
    except threads.PageOutOfRange as out_of_range:
        last = replace(params, number=out_of_range.last)
        raise pagecache.Redirect(last.url(request.path, request.GET)) from None
    form = context.get("comment_form")
    csrf_token = context.get("csrf_token")
    if form is None:
        form = CommentForm(article=article, user=request.user, initial=_remembered_author(request))
        # Rendering the page shared by anonymous readers: each of them gets their own
        # CSRF token and a fresh timestamp in these holes (site_config.pagecache).
        timestamp = pagecache.hole(request, TIMESTAMP_HOLE)
        if timestamp is not None:
            form.fields["timestamp"].initial = timestamp
            csrf_token = pagecache.hole(request, "csrf")
    reply_to = _reply_target(request, article, form)
    if reply_to is not None and not form.is_bound:
        form.initial["parent"] = reply_to.pk
    article_url = article.get_absolute_url()  # once, not once per link
    page_query = f"?{page.query}" if page.query else ""
    return {
        "request": request,
        "article": article,
        "article_url": article_url,
        # The comments page shown, kept by the form (a refused post shows it again).
        "page_url": f"{article_url}{page_query}",
        "post_url": f"{reverse('comments:post', args=[article.slug])}{page_query}",
        "page": page,
        "sorts": threads.sort_choices(),
        "sort_url": reverse("comments:sort", args=[article.slug]),
        "heading": responses_heading(page.comment_count, article.title),
        # Built from escaped parts in comments.rendering; spliced in as bytes at the end.
        "thread_html": mark_safe(pagecache.defer_fragment(request, page.html_bytes)),
        "form": form,
        "reply_to": reply_to,
        "accepts_comments": article.accepts_comments,
        "user": request.user,
        # Signed in as…, or the sign-in and sign-up links (and whether the form needs
        # an account): the same for every anonymous reader of this comments page.
        "account": accounts.section_context(request, next_url=f"{article_url}{page_query}#respond"),
        # Not "csrf_token": inclusion tags overwrite that name with the page's own token.
        "form_csrf_token": csrf_token,
        # "New since your last visit": a signed-in reader's view is recorded here (one
        # query) and the page gets their previous visit; None for anonymous readers,
        # whose browser keeps its own (comments.visits).
        "previous_visit": visits.previous_visit(request, article),
        "visit_gap": int(visits.VISIT_GAP.total_seconds()),
        # Live updates (comments.live): how often the page asks for new comments.
        "live_poll_seconds": conf.LIVE_POLL_SECONDS,
    }
