from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from articles.models import Article
from comments import notifications, posting, rendering, reports, session, threads
from comments.forms import CommentEditForm, CommentForm
from comments.models import Comment
from comments.rules import CommentRefused
from site_config.http import client_ip

REMEMBER_COOKIE = "comment_author"
REMEMBER_MAX_AGE = 60 * 60 * 24 * 365


def see_other(url):
    """303: after a POST, the browser GETs the result (no resubmission on reload)."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def render_article_with_form(request, article, form, *, status, message=None):
    """The article page again, with the reader's text and a message per field."""
    if message:
        form.add_error(None, message)
    context = {"article": article, "comment_form": form}
    return render(request, "articles/article_detail.html", context, status=status)


@require_POST
def post_comment(request, slug):
    article = Article.objects.visible_to(request.user).filter(slug=slug).first()
    if article is None or not article.is_public:
        raise Http404(_("No article found."))
    form = CommentForm(request.POST, article=article, user=request.user)
    if not article.accepts_comments:
        form.is_valid()  # bind the reader's text for the re-rendered form
        return render_article_with_form(
            request, article, form, status=403, message=_("Comments are closed.")
        )
    if not form.is_valid():
        return render_article_with_form(request, article, form, status=400)
    meta = posting.RequestMeta(
        ip_address=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
    )
    try:
        comment = posting.post_comment(
            article=article, form=form, request_meta=meta, user=request.user
        )
    except CommentRefused as refusal:
        return render_article_with_form(
            request, article, form, status=refusal.status_code, message=refusal.message
        )
    except ValidationError as error:
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return render_article_with_form(request, article, form, status=400)
    session.remember_own_comment(request, comment)
    page = threads.page_of_comment(comment)
    query = f"?{urlencode({'cpage': page})}" if page > 1 else ""
    response = see_other(f"{article.get_absolute_url()}{query}#comment-{comment.pk}")
    if form.cleaned_data.get("remember") and not request.user.is_authenticated:
        response.set_signed_cookie(
            REMEMBER_COOKIE,
            urlencode(
                {
                    "name": comment.author_name,
                    "email": comment.author_email,
                    "url": comment.author_url,
                }
            ),
            salt=REMEMBER_COOKIE,
            max_age=REMEMBER_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    elif not request.user.is_authenticated:
        response.delete_cookie(REMEMBER_COOKIE)
    return response


@require_GET
def permalink(request, pk):
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    visible = comment.is_public or (
        comment.status != Comment.Status.REMOVED and session.owns(request, comment)
    )
    if not visible or not comment.article.is_public:
        raise Http404(_("No comment found."))
    page = threads.page_of_comment(comment)
    query = f"?{urlencode({'cpage': page})}" if page > 1 else ""
    return redirect(f"{comment.article.get_absolute_url()}{query}#comment-{comment.pk}")


def _own_comment_or_404(request, pk):
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    if not session.owns(request, comment) or comment.status == Comment.Status.REMOVED:
        raise Http404(_("No comment of yours found."))
    return comment


def _own_comment_url(request, comment):
    """``comment`` in its place on the article page, as its poster sees the page."""
    own_ids = session.own_comment_ids(request, comment.article)
    page = threads.page_of_comment(comment, own_ids=own_ids)
    query = f"?{urlencode({'cpage': page})}" if page > 1 else ""
    return f"{comment.article.get_absolute_url()}{query}#comment-{comment.pk}"


def edit(request, pk):
    """The poster rewords their comment; the new text goes through the content rules
    (``posting.edit_comment``) and they are told the outcome at the comment itself."""
    comment = _own_comment_or_404(request, pk)
    form = CommentEditForm(
        request.POST if request.method == "POST" else None, initial={"body": comment.body}
    )
    refusal = posting.edit_refusal(comment)
    if refusal is None and form.is_bound and form.is_valid():
        try:
            result = posting.edit_comment(comment, body=form.cleaned_data["body"])
        except posting.EditRefused as refused:
            refusal = refused.message
        else:
            notice = rendering.NOTICE_HELD if result.held else rendering.NOTICE_UPDATED
            session.leave_notice(request, comment, notice)
            return see_other(_own_comment_url(request, result.comment))
    # Refused: the page says why and shows the reader's text again, to copy.
    status = 403 if refusal is not None else 400 if form.is_bound else 200
    context = {
        "comment": comment,
        "form": form,
        "article": comment.article,
        "comment_url": _own_comment_url(request, comment),
        "refusal": refusal,
    }
    return render(request, "comments/edit.html", context, status=status)


def withdraw(request, pk):
    comment = _own_comment_or_404(request, pk)
    if request.method == "POST":
        posting.withdraw_comment(comment)
        messages.success(request, _("Your comment was withdrawn."))
        return see_other(comment.article.get_absolute_url() + "#comments")
    context = {
        "comment": comment,
        "article": comment.article,
        "comment_url": _own_comment_url(request, comment),
    }
    return render(request, "comments/withdraw.html", context)


@require_POST
def report(request, pk):
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    if not comment.is_public or not comment.article.is_public:
        raise Http404(_("No comment found."))
    if not request.session.session_key:
        request.session.save()
    reports.report_comment(
        comment, session_key=request.session.session_key, ip_address=client_ip(request)
    )
    session.remember_report(request, comment)
    messages.success(request, _("Thank you. A moderator will look at this comment."))
    return see_other(comment.article.get_absolute_url() + f"#comment-{comment.pk}")


@csrf_exempt  # authenticated by the signed token; mail clients POST without a CSRF cookie
def unsubscribe(request, token):
    comment_id = notifications.comment_for_unsubscribe_token(token)
    comment = Comment.objects.filter(pk=comment_id).select_related("article").first()
    if comment is None:
        raise Http404(_("This unsubscribe link is not valid."))
    # One click from the email (GET) or a mail client's List-Unsubscribe-Post (POST);
    # idempotent, so a link scanner following it does no harm beyond the intent.
    Comment.objects.filter(pk=comment.pk).update(notify_replies=False)
    return render(request, "comments/unsubscribed.html", {"comment": comment})
