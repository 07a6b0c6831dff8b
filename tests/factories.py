from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from articles.models import Article
from comments import commenters
from comments.models import Comment


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Jo"
    last_name = factory.Sequence(lambda n: f"Writer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class StaffFactory(UserFactory):
    is_staff = True


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Article number {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    author = factory.SubFactory(UserFactory)
    summary = "A short summary."
    body = "Some *Markdown* body."
    status = Article.Status.PUBLISHED
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


class CommentFactory(factory.django.DjangoModelFactory):
    """A comment inserted through mptt (replies become the parent's last child), with the
    commenter of its email address (created if new) and that commenter's record
    recounted, as posting and moderation keep it."""

    class Meta:
        model = Comment

    article = factory.LazyAttribute(
        lambda c: c.parent.article if c.parent is not None else ArticleFactory()
    )
    parent = None
    author_name = factory.Sequence(lambda n: f"Reader {n}")
    author_email = factory.Sequence(lambda n: f"reader{n}@example.net")
    body = factory.Sequence(lambda n: f"Comment text number {n}.")
    status = Comment.Status.APPROVED
    created_at = factory.LazyFunction(timezone.now)
    ip_address = "203.0.113.7"
    user_agent = "pytest"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        parent = kwargs.get("parent")
        if parent is not None:
            parent.refresh_from_db()  # mptt needs the parent's current lft/rght
        if kwargs.get("commenter") is None:
            kwargs["commenter"] = commenters.commenter_for(
                kwargs["author_email"],
                name=kwargs["author_name"],
                user=kwargs.get("user"),
                seen_at=kwargs["created_at"],
            )
        comment = super()._create(model_class, *args, **kwargs)
        commenters.refresh_stats([comment.commenter_id])
        return comment
