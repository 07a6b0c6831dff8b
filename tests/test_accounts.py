"""Reader accounts (django-allauth and comments.accounts): signing up, verifying,
signing in, resetting a password without saying which addresses have accounts, the
rate limits and lockout, posting as a signed-in reader, and reader accounts kept apart
from staff."""

import re

import pytest
from allauth.account.models import EmailAddress
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from comments.models import Comment, ReaderProfile
from tests.conftest import aged_timestamp
from tests.factories import ArticleFactory, CommentFactory, StaffFactory, UserFactory
from tests.html import parse

pytestmark = pytest.mark.django_db

PASSWORD = "a long reader passphrase 42"
User = get_user_model()


def make_reader(email="ada@example.org", *, name="Ada Reader", verified=True, hidden=False):
    """A reader account as signup and verification leave it: a user (never staff) with a
    password, its address (verified or not) and a reader profile."""
    user = User.objects.create_user(
        username=email.partition("@")[0], email=email, password=PASSWORD
    )
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=verified)
    ReaderProfile.objects.create(user=user, display_name=name, profile_hidden=hidden)
    return user


def signed_in(user):
    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client


def link_in(message, path_start):
    """The path of the first link in ``message`` whose path starts with ``path_start``."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path_start)}\S+)", message.body)
    assert match, message.body
    return match.group(1)


def signup(client, email="ada@example.org", name="Ada Reader", **extra):
    return client.post(
        reverse("account_signup"),
        {"display_name": name, "email": email, "password1": PASSWORD, "password2": PASSWORD}
        | extra,
    )


def login(client, email="ada@example.org", password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


@pytest.fixture
def open_settings(settings):
    """A signed-in test posts at once: no spam timing, no flood interval."""
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 0
    settings.COMMENTS_FLOOD_SECONDS = 0
    return settings


def post(client, article, **data):
    return client.post(
        reverse("comments:post", args=[article.slug]),
        {
            "body": "Signed in, I only write.",
            "parent": "",
            "homepage": "",
            "timestamp": aged_timestamp(),
        }
        | data,
    )


# --- signing up and in ------------------------------------------------------------------
def test_signup_makes_a_reader_profile_and_sends_a_verification_link(client):
    response = signup(client, name="  Ada   Reader ")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="ada@example.org")
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert user.reader_profile.display_name == "Ada Reader"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert link_in(mail.outbox[0], "/accounts/confirm-email/")
    assert mail.outbox[0].body.startswith("Hello from threadpress!")  # SITE_NAME, not the host
    assert "_auth_user_id" not in client.session  # not signed in before verifying


def test_signup_asks_for_a_display_name(client):
    response = signup(client, name="   ")
    assert response.status_code == 200
    field = parse(response.content).find(".//*[@id='id_display_name_error']")
    assert field is not None and "display name" in "".join(field.itertext())
    assert not User.objects.exists()


def test_signup_with_staff_flags_posted_still_makes_a_reader(client):
    signup(client, is_staff="on", is_superuser="on")
    user = User.objects.get(email="ada@example.org")
    assert (user.is_staff, user.is_superuser) == (False, False)


def test_signup_with_a_taken_address_says_the_same_and_makes_nothing(client):
    make_reader()
    response = signup(Client(), name="Someone else")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.count() == 1
    assert "already" in mail.outbox[-1].body.lower()  # the owner is told, by email


def test_a_reader_signs_in_only_after_verifying(client):
    signup(client)
    refused = login(Client())
    assert refused["Location"] == reverse("account_email_verification_sent")
    confirm = link_in(mail.outbox[0], "/accounts/confirm-email/")
    assert client.get(confirm).status_code == 200
    assert client.post(confirm).status_code == 302
    reader = Client()
    response = login(reader)
    assert response.status_code == 302
    assert response["Location"] == reverse("comments:account")
    assert int(reader.session["_auth_user_id"]) == User.objects.get().pk


def test_account_pages_use_the_site_layout_in_the_readers_language(client):
    """allauth's pages in base.html (header, footer, stylesheet), German from allauth's
    own catalogue, our strings through ours."""
    for name in ("account_login", "account_signup", "account_reset_password"):
        doc = parse(client.get(reverse(name)).content)
        assert doc.find(".//*[@class='site-header']") is not None, name
        assert doc.find(".//*[@class='site-footer']") is not None, name
        assert doc.find(".//*[@class='comment-form account-form']") is not None, name
    german = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="de")
    assert parse(german.content).get("lang") == "de"
    assert parse(german.content).find(".//{*}h1").text.strip() == "Anmeldung"  # allauth's


# --- password reset -----------------------------------------------------------------------
def test_password_reset_for_an_unknown_address_sends_nothing_and_reads_the_same(client):
    make_reader()
    known = client.post(reverse("account_reset_password"), {"email": "ada@example.org"})
    assert len(mail.outbox) == 1
    cache.clear()  # the per-address rate limit is not what this test is about
    unknown = Client().post(reverse("account_reset_password"), {"email": "nobody@example.org"})
    assert len(mail.outbox) == 1  # nothing sent to an address without an account
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    done = [Client().get(response["Location"]).content for response in (known, unknown)]
    assert without_holes(done[0]) == without_holes(done[1])


def test_password_reset_link_sets_a_new_password(client):
    make_reader()
    client.post(reverse("account_reset_password"), {"email": "ada@example.org"})
    link = link_in(mail.outbox[0], "/accounts/password/reset/key/")
    form_page = client.get(link, follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    new = "another long passphrase 77"
    response = client.post(action, {"password1": new, "password2": new})
    assert response.status_code == 302
    assert login(Client(), password=new).status_code == 302
    assert User.objects.get().check_password(new)


def test_no_password_reset_mail_for_a_staff_address(client):
    StaffFactory(username="editor", email="editor@example.org")
    response = client.post(reverse("account_reset_password"), {"email": "editor@example.org"})
    assert response.status_code == 302
    assert mail.outbox == []


# --- throttling ----------------------------------------------------------------------------
def test_repeated_failed_sign_ins_lock_out_like_the_admin(client, settings):
    """django-axes counts the readers' sign-ins under their address, as it counts the
    admin's under the username: the fifth failure locks it out (429), the right password
    too, until an administrator resets it or the cool-off ends."""
    make_reader()
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        response = login(Client(REMOTE_ADDR=f"198.51.100.{attempt}"), password=f"wrong{attempt}")
        assert response.status_code == 200
    locked = login(Client(REMOTE_ADDR="198.51.100.9"), email="ADA@example.org", password="wrong")
    assert locked.status_code == 429
    assert AccessAttempt.objects.filter(username="ada@example.org").exists()
    # allauth's own limit refuses the next attempt too; without it (a cleared cache),
    # axes's lock, kept in the database, still does.
    cache.clear()
    right = Client(REMOTE_ADDR="198.51.100.10")
    assert login(right).status_code == 429
    assert "_auth_user_id" not in right.session


def test_a_successful_sign_in_forgets_earlier_failures(client, settings):
    make_reader()
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, password=f"wrong{attempt}")
    assert login(client).status_code == 302
    assert not AccessAttempt.objects.filter(username="ada@example.org").exists()


def test_allauth_limits_failed_sign_ins_per_address_in_the_shared_cache(client, settings):
    """allauth's own rate limit (5 failures in 5 minutes per address) answers the next
    attempt with "too many", even with the right password. Its counts live in the
    Django cache (Redis in production: every worker counts together): clearing the
    cache lifts it."""
    settings.AXES_ENABLED = False
    make_reader()
    for attempt in range(5):
        response = login(Client(REMOTE_ADDR=f"192.0.2.{attempt}"), password=f"wrong{attempt}")
        assert response.status_code == 200
    limited = login(Client(REMOTE_ADDR="192.0.2.99"))
    assert limited.status_code == 200
    assert "Too many failed login attempts" in limited.content.decode()
    cache.clear()
    assert login(Client(REMOTE_ADDR="192.0.2.99")).status_code == 302


# --- staff and readers kept apart -------------------------------------------------------------
def test_a_reader_at_the_admin_gets_the_admin_login_page():
    reader = signed_in(make_reader())
    response = reader.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    page = reader.get(response["Location"])
    assert page.status_code == 200
    assert parse(page.content).find(".//*[@id='login-form']") is not None
    assert reader.get(reverse("admin:comments_comment_changelist")).status_code == 302


def test_a_reader_cannot_sign_in_to_the_admin_with_their_password(client):
    user = make_reader()
    response = client.post(
        reverse("admin:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200  # the form again, with the admin's refusal
    assert client.get("/admin/").status_code == 302


def test_a_reader_account_is_never_saved_as_staff():
    user = make_reader()
    user.is_staff = user.is_superuser = True
    user.save()
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (False, False)


def test_staff_sign_in_on_the_admins_page_not_the_readers(client):
    staff = StaffFactory(username="editor", email="editor@example.org")
    staff.set_password(PASSWORD)
    staff.save()
    EmailAddress.objects.create(user=staff, email=staff.email, primary=True, verified=True)
    response = login(client, email="editor@example.org")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:login")
    assert "_auth_user_id" not in client.session


# --- posting as a signed-in reader ------------------------------------------------------------
def test_a_signed_in_readers_form_has_no_name_email_or_website(open_settings):
    user = make_reader()
    article = ArticleFactory()
    doc = parse(signed_in(user).get(article.get_absolute_url()).content)
    form = doc.find(".//*[@id='comment-form']")
    names = {field.get("name") for field in form.iter() if field.get("name")}
    assert {"name", "email", "url", "remember"}.isdisjoint(names)
    assert {"body", "notify"} <= names
    signed = doc.find(".//*[@class='logged-in-as']")
    link = signed.find(".//{*}a")
    assert link.text == "Ada Reader"
    assert link.get("href") == reverse("comments:profile", args=[user.reader_profile.pk])


def test_a_reader_posts_with_their_profiles_name_and_verified_address(open_settings):
    user = make_reader()
    article = ArticleFactory()
    response = post(signed_in(user), article, name="Mallory", email="x@example.com", url="x.io")
    assert response.status_code == 303
    comment = Comment.objects.get()
    assert (comment.author_name, comment.author_email, comment.author_url) == (
        "Ada Reader",
        "ada@example.org",
        "",
    )
    assert comment.user == user
    # Judged as any newcomer's first comment (held until a moderator approves one).
    assert comment.status == Comment.Status.PENDING


def test_an_unverified_reader_is_refused_with_their_text_kept(open_settings):
    user = make_reader(verified=False)
    article = ArticleFactory()
    reader = signed_in(user)
    page = parse(reader.get(article.get_absolute_url()).content)
    assert page.find(".//*[@id='account-unverified']") is not None
    response = post(reader, article, body="Words I do not want to lose.")
    assert response.status_code == 403
    doc = parse(response.content)
    assert "verify your email" in "".join(doc.find(".//*[@id='comment-form-errors']").itertext())
    assert doc.find(".//*[@id='id_body']").text.strip() == "Words I do not want to lose."
    assert not Comment.objects.exists()


def test_staff_signed_in_on_the_site_post_as_staff(open_settings):
    staff = StaffFactory(username="editor", first_name="Eda", last_name="Tor")
    article = ArticleFactory()
    client = Client()
    client.force_login(staff)
    assert post(client, article).status_code == 303
    comment = Comment.objects.get()
    assert (comment.author_name, comment.user) == ("Eda Tor", staff)
    assert comment.status == Comment.Status.APPROVED


# --- COMMENTS_REQUIRE_ACCOUNT -----------------------------------------------------------------
def test_with_accounts_required_anonymous_readers_get_the_sign_in_links(client, open_settings):
    open_settings.COMMENTS_REQUIRE_ACCOUNT = True
    article = ArticleFactory()
    doc = parse(client.get(article.get_absolute_url()).content)
    assert doc.find(".//*[@id='comment-form']") is None
    prompt = doc.find(".//*[@class='account-required']")
    assert "".join(prompt.itertext()).strip() == "Sign in or create an account to comment."
    hrefs = [a.get("href") for a in prompt.findall(".//{*}a")]
    assert hrefs[0].startswith(reverse("account_login") + "?next=")
    assert hrefs[1].startswith(reverse("account_signup") + "?next=")


def test_with_accounts_required_an_anonymous_post_is_refused_with_its_text(
    client, open_settings, comment_data
):
    open_settings.COMMENTS_REQUIRE_ACCOUNT = True
    article = ArticleFactory()
    response = client.post(
        reverse("comments:post", args=[article.slug]), comment_data(body="Keep me, please.")
    )
    assert response.status_code == 403
    doc = parse(response.content)
    assert doc.find(".//*[@id='kept-body']").text == "Keep me, please."
    assert doc.find(".//*[@id='comment-form']") is None
    assert not Comment.objects.exists()


def test_turning_accounts_required_on_is_not_hidden_by_the_page_cache(client, open_settings):
    """The setting is part of the cached page's key: the page cached with the form is not
    served once accounts are required (nor the other way round)."""
    article = ArticleFactory()
    url = article.get_absolute_url()
    assert parse(client.get(url).content).find(".//*[@id='comment-form']") is not None
    open_settings.COMMENTS_REQUIRE_ACCOUNT = True
    assert parse(Client().get(url).content).find(".//*[@id='comment-form']") is None
    open_settings.COMMENTS_REQUIRE_ACCOUNT = False
    assert parse(Client().get(url).content).find(".//*[@id='comment-form']") is not None


def test_with_accounts_required_a_signed_in_reader_still_posts(open_settings):
    open_settings.COMMENTS_REQUIRE_ACCOUNT = True
    article = ArticleFactory()
    assert post(signed_in(make_reader()), article).status_code == 303
    assert Comment.objects.count() == 1


def test_without_accounts_required_anonymous_readers_post_and_see_the_links(
    client, open_settings, comment_data
):
    article = ArticleFactory()
    doc = parse(client.get(article.get_absolute_url()).content)
    assert doc.find(".//*[@id='id_name']") is not None
    offer = doc.find(".//*[@class='comment-account']")
    assert {a.get("href").split("?")[0] for a in offer.findall(".//{*}a")} == {
        reverse("account_login"),
        reverse("account_signup"),
    }
    response = client.post(reverse("comments:post", args=[article.slug]), comment_data())
    assert response.status_code == 303


# --- own comments on every device, and the page cache ---------------------------------------
def test_a_readers_pending_comment_shows_and_edits_on_their_other_device(open_settings):
    open_settings.COMMENTS_PREMODERATE_ALL = True
    user = make_reader()
    article = ArticleFactory()
    assert post(signed_in(user), article, body="Held for now.").status_code == 303
    comment = Comment.objects.get()
    assert comment.status == Comment.Status.PENDING
    other_device = signed_in(user)
    doc = parse(other_device.get(article.get_absolute_url()).content)
    item = doc.find(f".//*[@id='comment-{comment.pk}']")
    assert item is not None and "Held for now." in "".join(item.itertext())
    edit_link = item.find(".//*[@class='comment-edit-link']")
    assert edit_link.get("href") == reverse("comments:edit", args=[comment.pk])
    assert other_device.post(edit_link.get("href"), {"body": "Reworded."}).status_code == 303
    comment.refresh_from_db()
    assert comment.body == "Reworded."
    assert other_device.get(reverse("comments:withdraw", args=[comment.pk])).status_code == 200
    # Someone else, signed in or not, neither sees nor edits it.
    stranger = signed_in(make_reader("bob@example.org", name="Bob"))
    assert f"comment-{comment.pk}" not in stranger.get(article.get_absolute_url()).content.decode()
    assert stranger.get(reverse("comments:edit", args=[comment.pk])).status_code == 404


def test_own_comments_cost_one_query_for_a_signed_in_reader(
    open_settings, django_assert_num_queries
):
    from django.test import RequestFactory

    from comments import session

    user = make_reader()
    article = ArticleFactory()
    CommentFactory(article=article, user=user, status=Comment.Status.PENDING)
    request = RequestFactory().get("/")
    request.user = user
    request.session = {}
    with django_assert_num_queries(1):
        own = session.own_comment_ids(request, article)
    assert len(own) == 1


def test_a_signed_in_readers_page_is_private_and_never_served_to_others(client, open_settings):
    article = ArticleFactory()
    CommentFactory(article=article)
    url = article.get_absolute_url()
    before = client.get(url)
    assert "private" not in before.get("Cache-Control", "")
    reader = signed_in(make_reader())
    personal = reader.get(url)
    assert "private" in personal["Cache-Control"]
    assert "Cookie" in personal["Vary"]
    assert b"Signed in as" in personal.content
    after = Client().get(url)
    assert "private" not in after.get("Cache-Control", "")
    # Byte for byte the page served before, but for each reader's own holes.
    assert without_holes(after.content) == without_holes(before.content)
    assert b"Signed in as" not in after.content


def without_holes(content):
    """``content`` with the values each anonymous reader gets their own of (the CSRF
    token, the form's signed time) blanked out."""
    return re.sub(rb'(name="(?:csrfmiddlewaretoken|timestamp)" value=")[^"]*', rb"\1", content)


def test_a_reader_signing_out_is_anonymous_again(open_settings):
    reader = signed_in(make_reader())
    assert reader.post(reverse("account_logout")).status_code == 302
    assert "_auth_user_id" not in reader.session


def test_a_user_made_elsewhere_gets_a_profile_on_signup_signal(rf):
    from allauth.account.signals import user_signed_up

    user = UserFactory(username="imported", email="imported@example.org")
    user_signed_up.send(sender=User, request=rf.get("/"), user=user)
    assert ReaderProfile.objects.get(user=user).display_name == "imported"
