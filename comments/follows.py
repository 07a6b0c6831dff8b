"""Following a discussion: a reader follows all new comments on an article, or only the
replies to their own comments, delivered instantly or in a daily digest.

A signed-in reader with a verified address follows at once. Anyone else follows by
confirming their address (double opt-in): the confirmation link carries the whole
request, signed, so nothing is stored about an address until its owner confirms.

Every email about a follow carries a one-click unsubscribe (RFC 8058 ``List-Unsubscribe``
and ``List-Unsubscribe-Post`` headers, and the same link in the text) and goes out
through the task worker (``comments.notifications.send_email``). Unsubscribing is
idempotent: a second click finds nothing left to remove and says so the same way.
"""

import secrets

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from comments import mentions
from comments.conf import conf
from comments.models import Comment, DigestSent, Follow, normalize_email

CONFIRM_SALT = "comments.follow.confirm"
UNSUBSCRIBE_SALT = "comments.follow.unsubscribe"
Scope = Follow.Scope
Delivery = Follow.Delivery


def _absolute(path):
    return settings.SITE_URL + path


# --- tokens ---------------------------------------------------------------------------
def confirm_token(*, article, email, scope, delivery):
    return signing.dumps(
        {"a": article.pk, "e": normalize_email(email), "s": scope, "d": delivery},
        salt=CONFIRM_SALT,
    )


def read_confirm_token(token):
    """The follow request a confirmation token stands for, or None when it is forged,
    expired (``COMMENTS_FOLLOW_CONFIRM_DAYS``) or names an unknown choice."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=conf.FOLLOW_CONFIRM_DAYS * 24 * 3600)
        request = {"article_id": int(data["a"]), "email": str(data["e"])}
        request["scope"], request["delivery"] = Scope(data["s"]), Delivery(data["d"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return request


def unsubscribe_token(follows):
    """A token that stops ``follows`` (one follow, or a digest's several)."""
    follows = [follows] if isinstance(follows, Follow) else list(follows)
    return signing.dumps(
        {"f": [f.pk for f in follows], "a": sorted({f.article_id for f in follows})},
        salt=UNSUBSCRIBE_SALT,
    )


def read_unsubscribe_token(token):
    """``(follow ids, article ids)`` of a token, or None when it is forged. It never
    expires: an old email's link must still stop the emails."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        return [int(pk) for pk in data["f"]], [int(pk) for pk in data["a"]]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def unsubscribe_url(follows):
    return _absolute(reverse("comments:follow-unsubscribe", args=[unsubscribe_token(follows)]))


def unsubscribe_headers(url):
    """RFC 8058: a mail client's one-click unsubscribe POSTs to ``url``."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --- following and unfollowing --------------------------------------------------------
def request_follow(*, article, email, scope, delivery, user=None):
    """Follow ``article`` for ``email``; return the follow when it is in place, or None
    when a confirmation email went out instead (the address is not a signed-in reader's
    verified one)."""
    from comments.accounts import has_verified_email
    from comments.privacy import first_email_lately

    email = normalize_email(email)
    if (
        user is not None
        and user.is_authenticated
        and normalize_email(user.email) == email
        and has_verified_email(user)
    ):
        return save_follow(article=article, email=email, scope=scope, delivery=delivery, user=user)
    # One confirmation per address and article in EMAIL_INTERVAL_SECONDS: the form can't
    # be used to flood someone's inbox (the page answers the same either way).
    if first_email_lately(f"follow:{article.pk}", email):
        token = confirm_token(article=article, email=email, scope=scope, delivery=delivery)
        transaction.on_commit(lambda: _send_confirmation(article, email, token), robust=True)
    return None


def save_follow(*, article, email, scope, delivery, user=None):
    """Create or update the follow of ``email`` on ``article``, confirmed now."""
    defaults = {"scope": scope, "delivery": delivery}
    if user is not None:
        defaults["user"] = user
    email = normalize_email(email)
    try:
        with transaction.atomic():
            follow, created = Follow.objects.get_or_create(
                article=article,
                email=email,
                defaults={**defaults, "confirmed_at": timezone.now()},
            )
    except IntegrityError:  # a concurrent confirmation of the same address won the race
        follow, created = Follow.objects.get(article=article, email=email), False
    if not created:
        for name, value in defaults.items():
            setattr(follow, name, value)
        follow.confirmed_at = follow.confirmed_at or timezone.now()
        follow.save(update_fields=[*defaults, "confirmed_at"])
    return follow


def confirm(token):
    """Put the follow a confirmation token asks for in place; None when the token is
    refused or its article is no longer published."""
    from articles.models import Article

    request = read_confirm_token(token)
    if request is None:
        return None
    article = Article.objects.published().filter(pk=request.pop("article_id")).first()
    if article is None:
        return None
    return save_follow(article=article, **request)


def unsubscribe(token):
    """Stop the follows a token names. Returns their article ids (None for a forged
    token); unsubscribing twice is fine."""
    ids = read_unsubscribe_token(token)
    if ids is None:
        return None
    follow_ids, article_ids = ids
    Follow.objects.filter(pk__in=follow_ids, article_id__in=article_ids).delete()
    return article_ids


def unfollow(*, user, follow_id):
    """A signed-in reader stops one of their own follows."""
    return reader_follows(user).filter(pk=follow_id).delete()[0] > 0


# --- emails ---------------------------------------------------------------------------
def _send_confirmation(article, email, token):
    from comments import notifications

    context = {
        "article": article,
        "article_url": _absolute(article.get_absolute_url()),
        "confirm_url": _absolute(reverse("comments:follow-confirm", args=[token])),
        "days": conf.FOLLOW_CONFIRM_DAYS,
    }
    subject = _("[%(site)s] Confirm that you want to follow “%(title)s”") % {
        "site": settings.SITE_NAME,
        "title": article.title,
    }
    body = render_to_string("comments/email/follow_confirm.txt", context)
    notifications._enqueue(subject, body, [email])


def comments_published(comment_ids):
    """Email the instant followers of each newly public comment's article: followers of
    all comments, and followers of replies whose comment it answers or mentions
    (``@Name``, ``comments.mentions``). Never its author, nobody of an unpublished
    article, and nobody ``notify_replies`` already tells of a reply. A mentioned
    commenter who follows no more than the replies to that comment (``notify_replies``)
    hears of the mention too."""
    from articles.models import Article

    comments = list(
        Comment.objects.filter(
            pk__in=comment_ids,
            status=Comment.Status.APPROVED,
            article__in=Article.objects.published(),
        ).select_related("article", "parent")
    )
    if not comments:
        return
    follows = Follow.objects.confirmed().filter(article__in={c.article_id for c in comments})
    by_article = {}
    for follow in follows:
        by_article.setdefault(follow.article_id, []).append(follow)
    mentioned = {c.pk: mentions.mentioned_ids(c) for c in comments}
    mentioned_comments = (
        {
            m.pk: m
            for m in Comment.objects.filter(
                pk__in={pk for pks in mentioned.values() for pk in pks},
                status=Comment.Status.APPROVED,
            )
        }
        if any(mentioned.values())
        else {}
    )
    for comment in comments:
        author = normalize_email(comment.author_email)
        parent = comment.parent
        parent_email = normalize_email(parent.author_email) if parent else ""
        if parent is not None and parent.status != Comment.Status.APPROVED:
            parent_email = ""
        targets = [
            mentioned_comments[pk] for pk in mentioned[comment.pk] if pk in mentioned_comments
        ]
        mention_emails = {normalize_email(m.author_email) for m in targets}
        article_follows = by_article.get(comment.article_id, [])
        for follow in article_follows:
            if follow.email == author or follow.delivery != Delivery.INSTANT:
                continue
            is_reply = bool(parent_email) and follow.email == parent_email
            is_mention = not is_reply and follow.email in mention_emails
            if follow.scope == Scope.REPLIES and not (is_reply or is_mention):
                continue
            if is_reply and parent.notify_replies:
                continue  # reply_approved tells them already
            _send_new_comment(follow, comment, is_reply=is_reply, is_mention=is_mention)
        following = {follow.email for follow in article_follows} | {author, parent_email}
        for target in targets:
            email = normalize_email(target.author_email)
            if target.notify_replies and email and email not in following:
                following.add(email)
                _send_mention(target, comment)


def _send_new_comment(follow, comment, *, is_reply, is_mention=False):
    from comments import notifications

    url = unsubscribe_url(follow)
    context = {
        "comment": comment,
        "text": notifications.excerpt(comment.body, 1000),
        "article": comment.article,
        "comment_url": _absolute(comment.get_absolute_url()),
        "is_reply": is_reply,
        "is_mention": is_mention,
        "follow": follow,
        "unsubscribe_url": url,
        "manage_url": _absolute(reverse("comments:follows")),
    }
    if is_mention:
        subject = _("[%(site)s] You were mentioned on “%(title)s”")
    elif is_reply:
        subject = _("[%(site)s] New reply to your comment on “%(title)s”")
    else:
        subject = _("[%(site)s] New comment on “%(title)s”")
    subject %= {"site": settings.SITE_NAME, "title": comment.article.title}
    body = render_to_string("comments/email/follow_comment.txt", context)
    notifications._enqueue(subject, body, [follow.email], headers=unsubscribe_headers(url))


# --- a signed-in reader's page --------------------------------------------------------
def reader_follows(user):
    """The follows of a signed-in reader: made while signed in, or confirmed by email
    for their account's address once it is verified."""
    from django.db.models import Q

    from comments.accounts import has_verified_email

    mine = Q(user=user)
    if user.email and has_verified_email(user):
        mine |= Q(email=normalize_email(user.email))
    return Follow.objects.filter(mine).select_related("article").order_by("-created_at")


def change(*, user, follow_id, scope, delivery):
    """Change what and when one of a reader's follows sends; unknown choices change
    nothing."""
    if scope not in Scope.values or delivery not in Delivery.values:
        return False
    return reader_follows(user).filter(pk=follow_id).update(scope=scope, delivery=delivery) > 0


# --- daily digests --------------------------------------------------------------------
def _digest_comments(follow, *, since, until):
    """The approved comments a digest lists for ``follow``: made public in
    ``[since, until)`` (posted, or approved by a moderator, then), not the follower's
    own, and only the replies to their comments when they follow replies."""
    from django.db.models import Q

    window = Q(created_at__gte=since, created_at__lt=until) | Q(
        moderated_at__gte=since, moderated_at__lt=until
    )
    comments = (
        Comment.objects.approved()
        .filter(window, article_id=follow.article_id)
        .exclude(author_email__iexact=follow.email)
        .order_by("created_at")
    )
    if follow.scope == Scope.REPLIES:
        comments = comments.filter(
            parent__author_email__iexact=follow.email, parent__status=Comment.Status.APPROVED
        )
    return list(comments)


def send_digests(*, now=None):
    """Queue today's daily digests: one email per address listing each followed
    (published) article's new comments since its last digest. Each follow's digest is
    recorded (``DigestSent``, one per follow and day) in the same transaction that queues
    the email, so a run interrupted and run again sends nothing twice. Returns the number
    of emails queued."""
    from articles.models import Article

    now = now or timezone.now()
    day = timezone.localdate(now)
    daily = (
        Follow.objects.confirmed()
        .filter(delivery=Delivery.DAILY, article__in=Article.objects.published())
        .exclude(digests__day=day)
        .select_related("article")
        .order_by("email", "article__title")
    )
    by_email = {}
    for follow in daily:
        by_email.setdefault(follow.email, []).append(follow)
    sent = 0
    for email, follows in by_email.items():
        if _send_digest(email, follows, now=now, day=day):
            sent += 1
    return sent


def _send_digest(email, follows, *, now, day):
    from comments import notifications

    sections = []
    for follow in follows:
        last = follow.digests.order_by("-sent_at").values_list("sent_at", flat=True).first()
        since = max(d for d in (last, follow.confirmed_at) if d is not None)
        comments = _digest_comments(follow, since=since, until=now)
        if comments:
            sections.append((follow, comments))
    if not sections:
        return False
    with transaction.atomic():
        for follow, comments in sections:
            _digest, created = DigestSent.objects.get_or_create(
                follow=follow, day=day, defaults={"comment_count": len(comments), "sent_at": now}
            )
            if not created:  # another run recorded it since: theirs to send
                transaction.set_rollback(True)
                return False
        url = unsubscribe_url([follow for follow, _comments in sections])
        context = {
            "articles": [
                {
                    "article": follow.article,
                    "url": _absolute(follow.article.get_absolute_url()),
                    "comments": [
                        {
                            "comment": comment,
                            "text": notifications.excerpt(comment.body, 300),
                            "url": _absolute(comment.get_absolute_url()),
                        }
                        for comment in comments
                    ],
                }
                for follow, comments in sections
            ],
            "count": sum(len(comments) for _follow, comments in sections),
            "day": day,
            "unsubscribe_url": url,
            "manage_url": _absolute(reverse("comments:follows")),
            "has_account": any(follow.user_id for follow, _comments in sections),
        }
        subject = _("[%(site)s] Your daily digest of followed discussions") % {
            "site": settings.SITE_NAME
        }
        body = render_to_string("comments/email/digest.txt", context)
        # Queued in the transaction that records it: with the database task backend
        # both are stored or neither is.
        notifications._enqueue(subject, body, [email], headers=unsubscribe_headers(url))
    return True


def _send_mention(target, comment):
    """Tell the author of ``target`` (who asked for replies to it) that ``comment``
    mentions them; its one-click unsubscribe stops that comment's notifications."""
    from comments import notifications

    url = _absolute(reverse("comments:unsubscribe", args=[notifications.unsubscribe_token(target)]))
    context = {
        "comment": comment,
        "text": notifications.excerpt(comment.body, 1000),
        "article": comment.article,
        "comment_url": _absolute(comment.get_absolute_url()),
        "is_reply": False,
        "is_mention": True,
        "follow": None,
        "unsubscribe_url": url,
    }
    subject = _("[%(site)s] You were mentioned on “%(title)s”") % {
        "site": settings.SITE_NAME,
        "title": comment.article.title,
    }
    body = render_to_string("comments/email/follow_comment.txt", context)
    notifications._enqueue(subject, body, [target.author_email], headers=unsubscribe_headers(url))


# --- the personal Atom feed of replies ------------------------------------------------
def feed_key(user, *, create=False):
    """The secret of ``user``'s feed of replies (None if they have none and ``create``
    is false)."""
    from comments.models import ReplyFeedKey

    row = ReplyFeedKey.objects.filter(user=user).first()
    if row is None and create:
        row = ReplyFeedKey.objects.create(user=user, key=secrets.token_urlsafe(32))
    return row.key if row else None


def renew_feed_key(user):
    """A new secret: the old feed address stops working at once."""
    from comments.models import ReplyFeedKey

    key = secrets.token_urlsafe(32)
    ReplyFeedKey.objects.update_or_create(user=user, defaults={"key": key})
    return key


def revoke_feed_key(user):
    from comments.models import ReplyFeedKey

    ReplyFeedKey.objects.filter(user=user).delete()


def feed_owner(key):
    """The reader a feed secret belongs to, or None (revoked, forged)."""
    from comments.models import ReplyFeedKey

    row = ReplyFeedKey.objects.filter(key=key).select_related("user").first()
    return row.user if row and row.user.is_active else None


def replies_to(user):
    """Approved replies by others to ``user``'s comments, on published articles."""
    from articles.models import Article

    return (
        Comment.objects.approved()
        .filter(parent__user=user, article__in=Article.objects.published())
        .exclude(user=user)
        .select_related("article", "parent")
        .order_by("-created_at")
    )


# --- the moderators' preview of every email ------------------------------------------
def email_previews():
    """Every email template of ``comments/email/`` rendered with sample data (nothing is
    stored or sent): ``[{"name", "subject", "headers", "body"}]`` for the admin's preview.
    Templates whose context is not listed here still render (missing values are empty)."""
    import pathlib

    from articles.models import Article

    article = Article(pk=1, title=_("A sample article"), slug="a-sample-article")
    article.published_at = timezone.now()
    parent = Comment(
        pk=1,
        article=article,
        author_name="Ada Reader",
        author_email="ada@example.org",
        body=_("The first comment, by the reader who follows replies."),
    )
    comment = Comment(
        pk=2,
        article=article,
        parent=parent,
        author_name="Bob Writer",
        author_email="bob@example.org",
        body=_("A new comment in the discussion, as the email quotes it."),
        created_at=timezone.now(),
    )
    follow = Follow(pk=1, article=article, email="ada@example.org")
    site = settings.SITE_URL
    unsubscribe = site + reverse("comments:follow-unsubscribe", args=["sample-token"])
    context = {
        "article": article,
        "article_url": site + "/articles/a-sample-article/",
        "comment": comment,
        "reply": comment,
        "parent": parent,
        "text": comment.body,
        "reply_text": comment.body,
        "excerpt": comment.body,
        "comment_url": site + reverse("comments:permalink", args=[comment.pk]),
        "reply_url": site + reverse("comments:permalink", args=[comment.pk]),
        "admin_url": site + "/admin/comments/comment/2/change/",
        "unsubscribe_url": unsubscribe,
        "manage_url": site + reverse("comments:follows"),
        "confirm_url": site + reverse("comments:follow-confirm", args=["sample-token"]),
        "days": conf.FOLLOW_CONFIRM_DAYS,
        "follow": follow,
        "is_reply": False,
        "is_mention": False,
        "reason": _("Spam"),
        "appeal_url": site + "/comments/appeal/sample-token/",
        "appeal_days": conf.APPEAL_DAYS,
        "count": 2,
        "hours": 24,
        "day": timezone.localdate(),
        "has_account": True,
        "articles": [
            {
                "article": article,
                "url": site + "/articles/a-sample-article/",
                "comments": [
                    {"comment": c, "text": c.body, "url": site + f"/comments/{c.pk}/"}
                    for c in (parent, comment)
                ],
            }
        ],
    }
    variants = {"follow_comment.txt": [{}, {"is_reply": True}, {"is_mention": True}]}
    folder = pathlib.Path(__file__).parent / "templates" / "comments" / "email"
    follow_headers = unsubscribe_headers(unsubscribe)
    previews = []
    for path in sorted(folder.glob("*.txt")):
        for extra in variants.get(path.name, [{}]):
            try:
                body = render_to_string(f"comments/email/{path.name}", {**context, **extra})
            except Exception as error:  # a template needing context this sample lacks
                body = _("This email needs sample data the preview lacks: %(error)s") % {
                    "error": error
                }
            mine = path.name.startswith(("follow_comment", "digest"))
            label = path.name + "".join(f" ({name})" for name in extra)
            previews.append(
                {"name": label, "headers": follow_headers if mine else {}, "body": body}
            )
    return previews
