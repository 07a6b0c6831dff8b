"""The queue's "By article" filter: an autocomplete and a title search, never every article."""

import html5lib
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from articles.models import Article
from comments.models import Comment
from tests.factories import ArticleFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status
CHANGELIST = "admin:comments_comment_changelist"
AUTOCOMPLETE = {"app_label": "comments", "model_name": "comment", "field_name": "article"}


def parse(response):
    return html5lib.parse(
        response.content.decode(), treebuilder="etree", namespaceHTMLElements=False
    )


def text(element):
    return " ".join("".join(element.itertext()).split())


def row_ids(response):
    table = parse(response).find(".//table[@id='result_list']")
    if table is None:
        return []
    return sorted(
        int(box.get("value")) for box in table.iterfind(".//input[@name='_selected_action']")
    )


def article_filter(response):
    return parse(response).find(".//details[@data-filter-title='article']")


def many_articles(count, *, title="Filler article {n}"):
    author = UserFactory(username="filler-author")
    start = Article.objects.count()
    Article.objects.bulk_create(
        Article(title=title.format(n=n), slug=f"filler-{start + n}", author=author)
        for n in range(count)
    )


@pytest.fixture
def admin_client_(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def moderator_client():
    moderator = StaffFactory(username="mod")
    moderator.groups.add(Group.objects.get(name="Moderators"))
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def river_and_budget(comment_factory):
    river = ArticleFactory(title="Council approves the riverside park", body="budget talk")
    budget = ArticleFactory(title="The city budget, line by line")
    on_river = comment_factory(article=river, status=Status.PENDING)
    on_budget = comment_factory(article=budget, status=Status.PENDING)
    return river, budget, on_river, on_budget


# --- size ----------------------------------------------------------------------------------
def test_article_filter_does_not_list_the_articles(admin_client_, comment_factory):
    """The filter's markup is the same with 3 articles or 300: no article is listed."""
    comment_factory(status=Status.PENDING)
    many_articles(2)
    few = article_filter(admin_client_.get(reverse(CHANGELIST)))
    many_articles(298, title="Another filler {n}")
    assert Article.objects.count() == 301
    response = admin_client_.get(reverse(CHANGELIST))
    many = article_filter(response)
    assert len(many.findall(".//li")) == 1  # "All"
    assert many.findall(".//option") == [many.find(".//option")]  # the empty choice
    assert "filler" not in text(many).lower()
    assert html5lib.serialize(few) == html5lib.serialize(many)
    assert b"Another filler" not in response.content


# --- filtering by the parameter --------------------------------------------------------------
def test_article_parameter_filters_the_queue_and_shows_the_article_chosen(
    admin_client_, river_and_budget
):
    river, _budget, on_river, _on_budget = river_and_budget
    response = admin_client_.get(reverse(CHANGELIST), {"article__id__exact": river.pk})
    assert row_ids(response) == [on_river.pk]
    spec = article_filter(response)
    selected = [text(li) for li in spec.iter("li") if li.get("class") == "selected"]
    assert selected == [river.title]
    option = spec.find(".//select/option[@selected]")
    assert (option.get("value"), text(option)) == (str(river.pk), river.title)


def test_all_choice_resets_the_article_and_keeps_the_other_filters(admin_client_, river_and_budget):
    river, *_ = river_and_budget
    response = admin_client_.get(
        reverse(CHANGELIST), {"article__id__exact": river.pk, "status": "all"}
    )
    spec = article_filter(response)
    reset = next(a for a in spec.iter("a") if text(a) == "All")
    assert reset.get("href") == "?status=all"
    autocomplete = spec.find(".//div[@class='comments-article-autocomplete']")
    assert autocomplete.get("data-reset-url") == "?status=all"
    assert autocomplete.get("data-parameter") == "article__id__exact"


def test_unknown_article_shows_an_empty_queue(admin_client_, river_and_budget):
    response = admin_client_.get(reverse(CHANGELIST), {"article__id__exact": 999999})
    assert response.status_code == 200
    assert row_ids(response) == []


def test_malformed_article_parameter_is_not_a_server_error(admin_client_):
    response = admin_client_.get(reverse(CHANGELIST), {"article__id__exact": "abc"})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


# --- the autocomplete it is built on ------------------------------------------------------------
def test_filter_select_is_wired_to_the_admin_autocomplete(admin_client_, river_and_budget):
    response = admin_client_.get(reverse(CHANGELIST))
    select = article_filter(response).find(".//select")
    assert "admin-autocomplete" in select.get("class").split()
    assert select.get("data-ajax--url") == reverse("admin:autocomplete")
    assert (
        select.get("data-app-label"),
        select.get("data-model-name"),
        select.get("data-field-name"),
    ) == ("comments", "comment", "article")
    scripts = [script.get("src") or "" for script in parse(response).iter("script")]
    assert any(src.endswith("select2.full.min.js") for src in scripts)
    assert any(src.endswith("admin/js/autocomplete.js") for src in scripts)
    assert any(src.endswith("comments/admin-article-filter.js") for src in scripts)
    assert article_filter(response).find(".//script") is None  # nothing inline (CSP)


@pytest.mark.parametrize("who", ["superuser", "moderator"])
def test_autocomplete_finds_articles_by_title(
    admin_client_, moderator_client, river_and_budget, who
):
    client = admin_client_ if who == "superuser" else moderator_client
    river, _budget, *_ = river_and_budget
    response = client.get(reverse("admin:autocomplete"), {**AUTOCOMPLETE, "term": "river"})
    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(river.pk), "text": river.title}]


def test_autocomplete_matches_titles_not_bodies(admin_client_, river_and_budget):
    _river, budget, *_ = river_and_budget  # "budget" is also in the river article's body
    response = admin_client_.get(reverse("admin:autocomplete"), {**AUTOCOMPLETE, "term": "budget"})
    assert [result["id"] for result in response.json()["results"]] == [str(budget.pk)]


def test_autocomplete_pages_through_many_articles(admin_client_):
    many_articles(300)
    response = admin_client_.get(reverse("admin:autocomplete"), {**AUTOCOMPLETE, "term": "filler"})
    payload = response.json()
    assert len(payload["results"]) == 20
    assert payload["pagination"] == {"more": True}


def test_autocomplete_is_not_for_readers(client, river_and_budget):
    client.force_login(UserFactory(username="reader"))
    response = client.get(reverse("admin:autocomplete"), {**AUTOCOMPLETE, "term": "river"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- without JavaScript: the title search ------------------------------------------------
def test_title_search_filters_the_queue(admin_client_, river_and_budget):
    river, _budget, on_river, _on_budget = river_and_budget
    response = admin_client_.get(reverse(CHANGELIST), {"article_q": "RIVERSIDE"})
    assert row_ids(response) == [on_river.pk]
    spec = article_filter(response)
    selected = [text(li) for li in spec.iter("li") if li.get("class") == "selected"]
    assert selected == ["Title contains “RIVERSIDE”"]
    assert spec.find(".//input[@name='article_q']").get("value") == "RIVERSIDE"


def test_title_search_offers_the_matching_articles_as_links(admin_client_, river_and_budget):
    river, *_ = river_and_budget
    response = admin_client_.get(reverse(CHANGELIST), {"article_q": "riverside", "status": "all"})
    links = {text(a): a.get("href") for a in article_filter(response).iter("a")}
    assert links[river.title] == f"?article__id__exact={river.pk}&status=all"
    assert "The city budget, line by line" not in links
    following = admin_client_.get(reverse(CHANGELIST) + links[river.title])
    assert row_ids(following) == [river.comments.get().pk]


def test_title_search_offers_a_bounded_number_of_matches(admin_client_, comment_factory):
    many_articles(300)
    response = admin_client_.get(reverse(CHANGELIST), {"article_q": "filler"})
    assert len(article_filter(response).findall(".//li")) <= 12


def test_title_search_form_keeps_the_other_filters(admin_client_, river_and_budget):
    response = admin_client_.get(
        reverse(CHANGELIST), {"status": "all", "q": "someone", "article__id__exact": "1"}
    )
    form = article_filter(response).find(".//form")
    assert form.get("method") == "get"
    hidden = {i.get("name"): i.get("value") for i in form.iterfind(".//input[@type='hidden']")}
    assert hidden == {"status": "all", "q": "someone"}
    assert form.find(".//input[@type='search']").get("name") == "article_q"


def test_staff_who_cannot_view_articles_get_only_the_title_search(comment_factory):
    from django.contrib.auth.models import Permission

    staff = StaffFactory(username="comments-only")
    staff.user_permissions.add(Permission.objects.get(codename="view_comment"))
    client = Client()
    client.force_login(staff)
    response = client.get(reverse(CHANGELIST))
    spec = article_filter(response)
    assert spec.find(".//select") is None
    assert spec.find(".//input[@name='article_q']") is not None
