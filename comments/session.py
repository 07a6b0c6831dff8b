"""What a reader's session remembers: their own comments, their reports, a one-time notice."""

from comments.models import Comment

OWN_KEY = "comments_own"
REPORTED_KEY = "comments_reported"
MAX_REMEMBERED = 200


def _ids(request, key, article_id):
    return request.session.get(key, {}).get(str(article_id), [])


def _remember(request, key, article_id, pk):
    store = request.session.get(key, {})
    ids = store.setdefault(str(article_id), [])
    if pk not in ids:
        ids.append(pk)
        del ids[:-MAX_REMEMBERED]
    request.session[key] = store


def remember_own_comment(request, comment):
    _remember(request, OWN_KEY, comment.article_id, comment.pk)


def remember_report(request, comment):
    _remember(request, REPORTED_KEY, comment.article_id, comment.pk)


def own_comment_ids(request, article):
    """The reader's comments on ``article``: this session's, and a logged-in user's."""
    ids = set(_ids(request, OWN_KEY, article.pk))
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        ids.update(
            Comment.objects.filter(article=article, user=user)
            .exclude(status=Comment.Status.REMOVED)
            .values_list("pk", flat=True)
        )
    return frozenset(ids)


def reported_comment_ids(request, article):
    return frozenset(_ids(request, REPORTED_KEY, article.pk))


def owns(request, comment):
    if comment.pk in _ids(request, OWN_KEY, comment.article_id):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and comment.user_id == user.pk)


def has_reported(request, comment):
    return comment.pk in _ids(request, REPORTED_KEY, comment.article_id)


NOTICE_KEY = "comments_notice"


def leave_notice(request, comment, notice):
    """A one-time note for the reader, shown at ``comment`` the next time its page renders."""
    request.session[NOTICE_KEY] = {
        "article": comment.article_id,
        "comment": comment.pk,
        "notice": notice,
    }


def pop_notices(request, article):
    """``{comment pk: notice}`` left for the reader on ``article``, forgotten once read."""
    stored = request.session.get(NOTICE_KEY)
    if not stored or stored.get("article") != article.pk:
        return {}
    del request.session[NOTICE_KEY]
    return {stored["comment"]: stored["notice"]}
