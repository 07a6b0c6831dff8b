"""``?cpage=`` and ``?csort=`` are read once, before any cache: junk redirects to the one
canonical address of the page and a page past the end to the last page, so no value
an attacker types can render uncached or add an entry to a cache."""

from fnmatch import fnmatch

import pytest
from django.core.cache import caches
from django.test import Client

from comments import threads
from site_config import pagecache
from tests.factories import CommentFactory
from tests.html import comment_ids, parse

pytestmark = pytest.mark.django_db

JUNK_PAGES = ["1x", "abc", "0", "00", "-1", "+2", " 2", "2.0", "1e3", "٢", "0x2", "%00", ""]


@pytest.fixture
def paged(article, settings):
    """An article whose three threads make three comments pages."""
    settings.COMMENTS_THREADS_PER_PAGE = 1
    for _ in range(3):
        CommentFactory(article=article)
    return article


def cache_keys():
    """Every key in the shared cache (local memory or Redis) and this worker's copy."""
    backend = caches["default"]
    pattern = backend.make_key("*")
    store = getattr(backend, "_cache", None)
    if isinstance(store, dict):  # LocMemCache
        keys = list(store)
    else:  # RedisCache
        client = store.get_client(None, write=False)
        keys = [key.decode() for key in client.scan_iter(match=pattern)]
    shared = {key for key in keys if fnmatch(key, pattern)}
    return shared | {("process", key) for key in pagecache.process_cache.entries}


def get(article, query):
    return Client().get(f"{article.get_absolute_url()}{query}")


@pytest.mark.parametrize("junk", JUNK_PAGES)
def test_a_junk_page_number_redirects_to_the_first_page(paged, junk):
    response = get(paged, f"?cpage={junk}")
    assert response.status_code == 301
    assert response["Location"] == paged.get_absolute_url()


@pytest.mark.parametrize("junk", ["x", "NEWEST", "newest ", "", "oldest\x00"])
def test_an_unknown_sort_is_dropped(paged, junk):
    response = get(paged, f"?cpage=2&csort={junk}")
    assert response.status_code == 301
    assert response["Location"] == f"{paged.get_absolute_url()}?cpage=2"


def test_a_page_number_with_leading_zeros_redirects_to_its_plain_spelling(paged):
    response = get(paged, "?cpage=002&csort=newest")
    assert response.status_code == 301
    assert response["Location"] == f"{paged.get_absolute_url()}?cpage=2&csort=newest"


def test_a_repeated_parameter_redirects_to_one(paged):
    response = get(paged, "?cpage=2&cpage=3")
    assert response.status_code == 301
    assert response["Location"] == f"{paged.get_absolute_url()}?cpage=3"


def test_other_parameters_survive_the_redirect(paged):
    response = get(paged, "?cpage=2x&replyto=7")
    assert response["Location"] == f"{paged.get_absolute_url()}?replyto=7"


@pytest.mark.parametrize(
    ("query", "last"),
    [("?cpage=4", "?cpage=3"), ("?cpage=99&csort=newest", "?cpage=3&csort=newest"),
     (f"?cpage={'9' * 40}", "?cpage=3"), (f"?cpage={'1' * 4000}", "?cpage=3")],
)  # fmt: skip
def test_a_page_past_the_end_redirects_to_the_last_page(paged, query, last):
    response = get(paged, query)
    assert response.status_code == 302  # temporary: the page may exist later
    assert response["Location"] == f"{paged.get_absolute_url()}{last}"
    assert len(comment_ids(parse(get(paged, last)))) == 1


def test_a_page_past_the_end_redirects_for_a_reader_with_a_session_too(paged):
    reader = Client()
    reader.cookies["comment_author"] = "someone"  # a personal, uncached render
    response = reader.get(f"{paged.get_absolute_url()}?cpage=5")
    assert response.status_code == 302
    assert response["Location"] == f"{paged.get_absolute_url()}?cpage=3"


def test_every_canonical_page_is_served(paged):
    for query in ("", "?cpage=2", "?cpage=3", "?csort=newest", "?cpage=3&csort=newest"):
        assert get(paged, query).status_code == 200


def test_junk_page_numbers_add_no_cache_entries(paged):
    get(paged, "")  # the canonical page, cached once
    assert cache_keys(), "the cache is in use (or this test proves nothing)"
    before = cache_keys()
    junk = [f"1{'x' * n}" for n in range(1, 101)] + [f"{n}y" for n in range(100)]
    assert len(set(junk)) == 200
    for value in junk:
        response = get(paged, f"?cpage={value}")
        assert response.status_code == 301, value
        assert response["Location"] == paged.get_absolute_url()
    assert cache_keys() == before


def test_pages_past_the_end_and_junk_sorts_add_no_cache_entries(paged):
    get(paged, "")
    before = cache_keys()
    for number in range(4, 54):
        assert get(paged, f"?cpage={number}").status_code == 302
    for n in range(50):
        assert get(paged, f"?csort=s{n}").status_code == 301
    assert cache_keys() == before


def test_page_params_read_the_query_once():
    from django.http import QueryDict

    params = threads.PageParams.from_query(QueryDict("cpage=3&csort=newest"))
    assert (params.number, params.sort, params.canonical) == (3, "newest", True)
    assert params.query == "cpage=3&csort=newest"
    assert threads.PageParams.from_query(QueryDict("")).query == ""
    assert threads.PageParams.from_query(QueryDict("csort=oldest")).canonical
