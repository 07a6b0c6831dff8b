import time

import pytest
from django.core import signing
from django.core.cache import cache

from comments.forms import TIMESTAMP_SALT
from tests.factories import ArticleFactory, CommentFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (flood keys, cached threads)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def article(db):
    return ArticleFactory()


@pytest.fixture
def staff_user(db):
    return StaffFactory(username="editor")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def comment_factory(db):
    return CommentFactory


def aged_timestamp(seconds=60):
    """A form timestamp signed ``seconds`` ago (as if the reader took that long to type)."""
    return signing.dumps(time.time() - seconds, salt=TIMESTAMP_SALT)


@pytest.fixture
def comment_data():
    """Valid POST data for the comment form; pass overrides as keyword arguments."""

    def make(**overrides):
        data = {
            "name": "Ada Reader",
            "email": "ada@example.org",
            "url": "",
            "body": "A thoughtful comment.",
            "parent": "",
            "timestamp": aged_timestamp(),
            "homepage": "",
        }
        data.update(overrides)
        return data

    return make
