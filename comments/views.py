from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from articles.models import Article
from comments import (
    accounts,
    appeals,
    follows,
    notifications,
    posting,
    reactions,
    rendering,
    reports,
    session,
    threads,
)
from comments.forms import (
    AppealForm,
    CommentEditForm,
    CommentForm,
    FollowForm,
    ProfileSettingsForm,
    ReportForm,
)
from comments.models import Comment, Follow
from comments.rules import CommentRefused
from site_config.http import client_ip
from site_config.pagination import ForgivingPaginator

REMEMBER_COOKIE = "comment_author"
REMEMBER_MAX_AGE = 60 * 60 * 24 * 365


def see_other(url):
    """303: after a POST, the browser GETs the result (no resubmission on reload)."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def render_article_with_form(request, article, form, *, status, message=None):
    """The article page again (the comments page the form was posted from), with the
    reader's text, a message per field and a form that can be sent again as it is: a
    CSRF token for this request and, if the form expired, a new signed time."""
    if message:
        form.add_error(None, message)
    context = {"article": article, "comment_form": form}
    return render(request, "articles/article_detail.html", context, status=status)


def _commentable_article(request, slug):
    article = Article.objects.visible_to(request.user).filter(slug=slug).first()
    if article is None or not article.is_public:
        raise Http404(_("No article found."))
    return article


@require_http_methods(["GET", "HEAD", "POST"])
def post_comment(request, slug):
    article = _commentable_article(request, slug)
    if request.method != "POST":
        # Reload or Back on a refused post's address: the form, on the same comments page.
        page = threads.PageParams.from_query(request.GET)
        return redirect(f"{page.url(article.get_absolute_url())}#respond")
    form = CommentForm(request.POST, article=article, user=request.user)
    if not article.accepts_comments:
        form.is_valid()  # bind the reader's text for the re-rendered form
        return render_article_with_form(
            request, article, form, status=403, message=_("Comments are closed.")
        )
    # An account required (COMMENTS_REQUIRE_ACCOUNT), or a reader's address not yet
    # verified: refused, the reader's text kept (comments.accounts).
    refusal = accounts.anonymous_refusal(request.user) or accounts.posting_refusal(request.user)
    if refusal:
        form.is_valid()
        return render_article_with_form(request, article, form, status=403, message=refusal)
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
        response = render_article_with_form(
            request, article, form, status=refusal.status_code, message=refusal.message
        )
        if refusal.retry_after:
            response["Retry-After"] = str(refusal.retry_after)
        return response
    except ValidationError as error:
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return render_article_with_form(request, article, form, status=400)
    session.remember_own_comment(request, comment)
    if form.cleaned_data.get("follow") and comment.author_email:
        follows.request_follow(
            article=article,
            email=comment.author_email,
            scope=form.cleaned_data["follow"],
            delivery=Follow.Delivery.INSTANT,
            user=request.user,
        )
    sort = threads.PageParams.from_query(request.GET).sort  # the reader's chosen order
    response = see_other(threads.comment_url(comment, sort=sort))
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


def post_comment_csrf_failure(request, slug):
    """A comment post refused by the CSRF check (a stale cookie or token: a login in
    another tab, a page kept open or served from a cache): the form again, with the
    reader's text and a token that works, instead of a bare 403 that loses the text.
    Called by ``site_config.views.csrf_failure``; stores nothing."""
    article = _commentable_article(request, slug)
    form = CommentForm(request.POST, article=article, user=request.user)
    form.is_valid()  # bind the reader's text for the re-rendered form
    message = (
        _("Your session had expired; please submit again.")
        if article.accepts_comments
        else _("Comments are closed.")
    )
    return render_article_with_form(request, article, form, status=403, message=message)


@require_GET
def permalink(request, pk):
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    visible = comment.is_public or (
        comment.status != Comment.Status.REMOVED and session.owns(request, comment)
    )
    if not visible or not comment.article.is_public:
        # The admin's "View on site" and moderators' links land here: staff who may
        # view comments get the thread preview; everyone else, no hint it exists.
        from comments.admin import may_preview, preview_url

        if may_preview(request):
            return redirect(preview_url(comment))
        raise Http404(_("No comment found."))
    # In the reader's remembered order, which the article page would redirect to anyway.
    return redirect(threads.comment_url(comment, sort=threads.remembered_sort(request)))


def _own_comment_or_404(request, pk):
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    if not session.owns(request, comment) or comment.status == Comment.Status.REMOVED:
        raise Http404(_("No comment of yours found."))
    return comment


def _own_comment_url(request, comment):
    """``comment`` in its place on the article page, as its poster sees the page."""
    return threads.comment_url(comment, own_ids=session.own_comment_ids(request, comment.article))


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


@require_http_methods(["GET", "HEAD", "POST"])
def report(request, pk):
    """GET: the confirmation page, with the reasons to choose from (stores nothing);
    POST: record the report and go back to the comment."""
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    if not comment.is_public or not comment.article.is_public:
        raise Http404(_("No comment found."))
    form = ReportForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_bound and form.is_valid():
        if not request.session.session_key:
            request.session.save()
        reports.report_comment(
            comment,
            session_key=request.session.session_key,
            reason=form.cleaned_data["reason"],
            explanation=form.cleaned_data["explanation"],
            email=form.cleaned_data.get("email", ""),
            user=request.user,
            ip_address=client_ip(request),
        )
        session.remember_report(request, comment)
        messages.success(request, _("Thank you. A moderator will look at this comment."))
        return see_other(threads.comment_url(comment))
    context = {
        "comment": comment,
        "article": comment.article,
        "form": form,
        "already_reported": session.has_reported(request, comment),
    }
    return render(request, "comments/report.html", context, status=400 if form.is_bound else 200)


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


@require_http_methods(["GET", "HEAD", "POST"])
def appeal(request, token):
    """The commenter's one appeal against a moderator's removal, from the signed link in
    the removal email (``comments.appeals``). GET: their comment, the reason and the
    form, or where the appeal stands; POST: store the appeal (409 when it was appealed
    already or is no longer removed). A forged link is a 404; an expired one says so."""
    try:
        comment_id = appeals.comment_id_for_token(token)
    except appeals.LinkInvalid:
        raise Http404(_("This appeal link is not valid.")) from None
    except appeals.LinkExpired:
        return render(request, "comments/appeal_expired.html", status=400)
    comment = get_object_or_404(Comment.objects.select_related("article", "appeal"), pk=comment_id)
    form = AppealForm(request.POST if request.method == "POST" else None)
    refusal = appeals.refusal(comment)
    status = 200
    if form.is_bound:
        if refusal is None and form.is_valid():
            try:
                appeals.file_appeal(comment, body=form.cleaned_data["body"])
            except appeals.AppealRefused as refused:
                refusal = refused
            else:
                messages.success(
                    request, _("Your appeal was sent. A moderator will answer you by email.")
                )
                return see_other(request.path)
        status = 409 if refusal is not None else 400
    context = {
        "comment": comment,
        "article": comment.article,
        "appeal": getattr(comment, "appeal", None),
        "reason": comment.get_removal_reason_display(),
        "form": form,
        "refusal": refusal,
    }
    return render(request, "comments/appeal.html", context, status=status)


# --- reader accounts ---------------------------------------------------------------------
@require_GET
def profile(request, pk):
    """A reader's public profile: their name, when they joined, and their approved
    comments on public articles (newest first, 25 a page). Each links to its permalink,
    which finds its place in the thread when followed (``threads.comment_url``): one
    query for the page, not one per article, and no link goes stale when a thread's
    comments page changes. A hidden profile is a 404, as if there were none."""
    shown = accounts.shown_profile(pk)
    if shown is None:
        raise Http404(_("No profile found."))
    paginator = ForgivingPaginator(
        accounts.profile_comments(shown), accounts.PROFILE_COMMENTS_PER_PAGE
    )
    page_obj = paginator.get_page(request.GET.get("page"))
    context = {
        "profile": shown,
        "page_obj": page_obj,
        "is_own": request.user.is_authenticated and request.user.pk == shown.user_id,
    }
    return render(request, "comments/profile.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def account_settings(request):
    """The signed-in reader's display name and "hide my profile", with the way to their
    email addresses, password and sign-out (allauth's pages). Staff have no profile."""
    own = accounts.profile_of(request.user)
    if own is None:
        raise Http404(_("Staff accounts have no reader profile."))
    form = ProfileSettingsForm(
        request.POST if request.method == "POST" else None,
        initial={"display_name": own.display_name, "profile_hidden": own.profile_hidden},
    )
    if form.is_bound and form.is_valid():
        accounts.update_profile(own, **form.cleaned_data)
        messages.success(request, _("Your settings were saved."))
        return see_other(request.path)
    context = {
        "profile": own,
        "form": form,
        "profile_url": accounts.profile_url(own.pk),
    }
    return render(
        request, "comments/profile_settings.html", context, status=400 if form.is_bound else 200
    )


def _wants_json(request):
    """The reactions script asks for JSON; a browser's own form post prefers HTML."""
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


@require_POST
def react(request, pk):
    """Toggle the reader's reaction to comment ``pk`` (``comments.reactions``). The
    script gets ``{"reacted", "count"}``; a form post (no JavaScript) goes back to the
    comment (303). Anonymous readers are sent to sign in unless anonymous reactions are
    on; a comment that takes no reactions is a 404, whatever the reader."""
    comment = get_object_or_404(Comment.objects.select_related("article"), pk=pk)
    if not reactions.is_reactable(comment):
        raise Http404(_("No comment found."))
    sort = threads.normalize_sort(request.POST.get(threads.SORT_PARAM, ""))
    as_json = _wants_json(request)
    want = {"true": True, "false": False}.get(request.POST.get("reacted", ""))
    user = request.user if request.user.is_authenticated else None
    if user is None and not reactions.anonymous_allowed():
        login_url = reactions.sign_in_url(threads.comment_url(comment, sort=sort))
        if as_json:
            message = str(reactions.SIGN_IN)
            return JsonResponse({"error": message, "login_url": login_url}, status=403)
        return see_other(login_url)
    if user is None and not request.session.session_key:
        request.session.save()
    try:
        if session.owns(request, comment):
            raise reactions.ReactionRefused(reactions.OWN_COMMENT, code="own")
        reacted, count = reactions.toggle(
            comment,
            user=user,
            session_key=request.session.session_key or "",
            ip_address=client_ip(request),
            want=want,
        )
    except reactions.NotReactable:
        raise Http404(_("No comment found.")) from None
    except reactions.ReactionRefused as refusal:
        if as_json:
            return JsonResponse({"error": str(refusal.message)}, status=refusal.status)
        messages.error(request, refusal.message)
        return see_other(threads.comment_url(comment, sort=sort))
    if user is None:
        reactions.remember(request, comment, reacted)
    if as_json:
        return JsonResponse({"reacted": reacted, "count": count})
    return see_other(threads.comment_url(comment, sort=sort))


@require_GET
def choose_sort(request, slug):
    """The reader picks an order for the article's threads (``?csort=``): it is
    remembered (a cookie, so a bare article URL takes them to it) and shown (302)."""
    article = _commentable_article(request, slug)
    params = threads.PageParams(sort=threads.normalize_sort(request.GET.get(threads.SORT_PARAM)))
    response = redirect(f"{params.url(article.get_absolute_url())}#comments")
    response.set_cookie(
        threads.SORT_COOKIE,
        params.sort,
        max_age=threads.SORT_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


# --- following a discussion (comments.follows) ---------------------------------------
@require_http_methods(["GET", "HEAD", "POST"])
def follow(request, slug):
    """Follow an article's discussion: at once for a signed-in reader's verified address,
    after a confirmation email otherwise (double opt-in)."""
    article = Article.objects.published().filter(slug=slug).first()
    if article is None:
        raise Http404(_("No article found."))
    form = FollowForm(request.POST or None, user=request.user)
    context = {"article": article, "form": form}
    if request.method != "POST" or not form.is_valid():
        return render(
            request, "comments/follow.html", context, status=400 if form.is_bound else 200
        )
    data = form.cleaned_data
    followed = follows.request_follow(
        article=article,
        email=data["email"],
        scope=data["scope"],
        delivery=data["delivery"],
        user=request.user,
    )
    if followed is None:
        context.update(state="sent", email=data["email"])
        return render(request, "comments/follow.html", context)
    messages.success(request, _("You follow this discussion."))
    return see_other(f"{article.get_absolute_url()}#respond")


@require_http_methods(["GET", "HEAD", "POST"])
def follow_confirm(request, token):
    """The link of the confirmation email: a button to confirm (a link scanner's GET
    confirms nothing), then the follow."""
    follow_request = follows.read_confirm_token(token)
    article = None
    if follow_request is not None:
        article = Article.objects.published().filter(pk=follow_request["article_id"]).first()
    if article is None:
        context = {"state": "invalid"}
        return render(request, "comments/follow.html", context, status=400)
    context = {"article": article, "state": "confirm", "email": follow_request["email"]}
    if request.method == "POST":
        follows.confirm(token)
        context["state"] = "confirmed"
    return render(request, "comments/follow.html", context)


@csrf_exempt  # authenticated by the signed token; mail clients POST without a CSRF cookie
@require_http_methods(["GET", "HEAD", "POST"])
def follow_unsubscribe(request, token):
    """One click from the email (GET) or a mail client's RFC 8058 one-click POST; a
    second click finds nothing to stop and answers the same."""
    article_ids = follows.unsubscribe(token)
    if article_ids is None:
        raise Http404(_("This unsubscribe link is not valid."))
    articles = Article.objects.filter(pk__in=article_ids).order_by("title")
    return render(request, "comments/follow_unsubscribed.html", {"articles": articles})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def follow_list(request):
    """A signed-in reader's follows, each changed or stopped here."""
    if request.method == "POST":
        follow_id = request.POST.get("follow", "")
        action = request.POST.get("action")
        if action == "feed-new":
            follows.renew_feed_key(request.user)
            messages.success(
                request, _("Your feed has a new address; the old one no longer works.")
            )
        elif action == "feed-off":
            follows.revoke_feed_key(request.user)
            messages.success(request, _("Your feed of replies is turned off."))
        elif action == "unfollow" and follow_id.isdigit():
            if follows.unfollow(user=request.user, follow_id=int(follow_id)):
                messages.success(request, _("You no longer follow that discussion."))
        elif follow_id.isdigit():
            follows.change(
                user=request.user,
                follow_id=int(follow_id),
                scope=request.POST.get("scope", ""),
                delivery=request.POST.get("delivery", ""),
            )
            messages.success(request, _("Your choice is saved."))
        return see_other(reverse("comments:follows"))
    key = follows.feed_key(request.user)
    context = {
        "feed_url": request.build_absolute_uri(reverse("comments:replies-feed", args=[key]))
        if key
        else "",
        "follows": follows.reader_follows(request.user),
        "scopes": Follow.Scope.choices,
        "deliveries": Follow.Delivery.choices,
    }
    return render(request, "comments/follows.html", context)
