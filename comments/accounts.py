"""Reader accounts: who a signed-in reader is on the site, and what keeps them a reader.

django-allauth does the accounts (sign up, verify the address, sign in and out, reset
a password; ``site_config/settings.py``: ``ACCOUNT_*``); this module is the site's side:

- every reader account has a ``ReaderProfile`` (display name, hidden or not), made at
  signup (``ReaderAccountAdapter.save_user``, and ``user_signed_up`` for any other way in);
- a reader account is never staff: signup makes none, and saving a user that has a
  reader profile with ``is_staff``/``is_superuser`` set clears them (``_never_staff``).
  Staff sign in on the admin's login page, never on the readers' (``pre_login``), and
  get no password reset mail from it either;
- what a signed-in reader posts as (``author_for``), and whether they may post now
  (``posting_refusal``: their address must be verified);
- the public profile (``profile_comments``, ``profile_url``) and the reader's own
  settings (``update_profile``: a new name reaches their comments, a hidden profile
  unlinks them, and every article page showing them is invalidated);
- the login throttling both login pages share (``axes_username``), and
  ``PersonalPagesMiddleware``: a signed-in reader's pages are theirs
  (``Cache-Control: private``), never kept by a shared cache.
"""

import logging
from typing import NamedTuple

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.signals import user_signed_up
from allauth.core import context as allauth_context
from allauth.core.internal import ratelimit as allauth_ratelimit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, F, Q, When
from django.db.models.signals import pre_save
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from articles.models import Article
from comments.cachefailures import log_cache_failure
from comments.conf import conf
from comments.forms import normalize_display_name
from comments.models import Comment, ReaderProfile
from comments.signals import invalidate

logger = logging.getLogger("threadpress")

PROFILE_COMMENTS_PER_PAGE = 25

# A comment's poster's profile when it is shown (its pk, else NULL): a column of the
# thread's one query (``threads.NODE_FIELDS``), two joins and no query per comment.
VISIBLE_PROFILE = Case(
    When(
        Q(user__reader_profile__profile_hidden=False, user__is_active=True),
        then=F("user__reader_profile__id"),
    ),
    default=None,
)


# --- who a reader is ---------------------------------------------------------------
def profile_of(user):
    """``user``'s ``ReaderProfile``, or None (anonymous, staff, an account made elsewhere)."""
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.reader_profile  # cached on the user after the first read
    except ReaderProfile.DoesNotExist:
        return None


def display_name(user):
    """How the site names a signed-in person: a reader's display name, else the
    account's full name or username (staff). ``ACCOUNT_USER_DISPLAY`` too."""
    profile = profile_of(user)
    if profile is not None:
        return profile.display_name
    return user.get_full_name() or user.get_username()


def author_for(user):
    """``(name, email)`` a comment posted from ``user``'s account carries."""
    return display_name(user), user.email or f"{user.get_username()}@users.invalid"


def has_verified_email(user):
    """Whether ``user``'s address (the one their comments carry) is verified."""
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def posting_refusal(user):
    """Why ``user``, signed in, may not post now (a message for them), or None.

    A reader posts once their address is verified: allauth signs nobody in before
    that (``ACCOUNT_EMAIL_VERIFICATION = "mandatory"``), but an address changed
    since, or an account made in the admin, can be unverified. Staff post as before.
    """
    if user is None or not user.is_authenticated or user.is_staff:
        return None
    if has_verified_email(user):
        return None
    return _(
        "Please verify your email address before you comment: follow the link we sent "
        "you, or send a new one from your account's email page. Your text is kept below."
    )


def anonymous_refusal(user):
    """Why an anonymous reader may not post (``COMMENTS_REQUIRE_ACCOUNT``), or None."""
    if conf.REQUIRE_ACCOUNT and not (user is not None and user.is_authenticated):
        return _("Sign in or create an account to comment.")
    return None


def section_context(request, *, next_url):
    """What the comment form's part of an article page says about accounts
    (``comments/_section.html``): the sign-in and sign-up links (back to ``next_url``),
    whether an account is required, and who is signed in. Nothing personal for an
    anonymous reader, so the page stays the one every anonymous reader is served."""
    query = urlencode({"next": next_url})
    user = request.user
    context = {
        "login_url": f"{reverse('account_login')}?{query}",
        "signup_url": f"{reverse('account_signup')}?{query}",
        "required": bool(conf.REQUIRE_ACCOUNT),
        "signed_in": user.is_authenticated,
    }
    if user.is_authenticated:
        profile = profile_of(user)
        context.update(
            name=display_name(user),
            is_reader=profile is not None,
            profile_url=(
                profile_url(profile.pk)
                if profile is not None and not profile.profile_hidden
                else ""
            ),
            settings_url=reverse("comments:account"),
            logout_url=reverse("account_logout"),
            email_url=reverse("account_email"),
            unverified=posting_refusal(user) is not None,
        )
    return context


# --- profiles -----------------------------------------------------------------------
def profile_url(profile_id):
    return reverse("comments:profile", args=[profile_id])


def create_profile(user, *, display_name=""):
    """``user``'s reader profile (made once), named ``display_name`` or else after their
    address's local part."""
    name = normalize_display_name(display_name) or (user.email or "").partition("@")[0]
    profile, _created = ReaderProfile.objects.get_or_create(
        user=user, defaults={"display_name": name or user.get_username()}
    )
    return profile


def shown_profile(pk):
    """The profile ``pk`` when it is shown to the public, else None (hidden, none, or
    its account deactivated)."""
    return (
        ReaderProfile.objects.select_related("user")
        .filter(pk=pk, profile_hidden=False, user__is_active=True)
        .first()
    )


def profile_comments(profile):
    """The reader's public comments, on public articles, newest first."""
    return (
        Comment.objects.approved()
        .filter(user_id=profile.user_id, article__in=Article.objects.published())
        .select_related("article")
        .order_by("-created_at", "-pk")
    )


def update_profile(profile, *, display_name, profile_hidden):
    """Save the reader's choices. A new name is carried by every comment they posted
    from their account; hiding or showing the profile links or unlinks their name.
    Either way, every article page that shows one of their comments gets a new
    version (``comments.signals.invalidate``)."""
    name = normalize_display_name(display_name)
    renamed = name != profile.display_name
    visibility_changed = bool(profile_hidden) != profile.profile_hidden
    if not renamed and not visibility_changed:
        return profile
    with transaction.atomic():
        profile.display_name = name
        profile.profile_hidden = bool(profile_hidden)
        profile.save(update_fields=["display_name", "profile_hidden"])
        theirs = Comment.objects.filter(user_id=profile.user_id)
        if renamed:
            # One UPDATE, no comment signals: the articles are invalidated below.
            theirs.update(author_name=name)
        invalidate(theirs.order_by().values_list("article_id", flat=True).distinct())
    return profile


# --- allauth -------------------------------------------------------------------------
class SiteName(NamedTuple):
    """What allauth's email templates read of ``current_site``."""

    name: str
    domain: str


class ReaderAccountAdapter(DefaultAccountAdapter):
    """allauth's adapter with the site's rules for reader accounts."""

    def save_user(self, request, user, form, commit=True):
        # A signup makes a reader: never staff, whatever a crafted form carries.
        user.is_staff = user.is_superuser = False
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            create_profile(user, display_name=form.cleaned_data.get("display_name", ""))
        return user

    def pre_login(self, request, user, **kwargs):
        # Staff sign in on the admin's login page (username, the admin's throttling),
        # so a reader's sign-in or a leaked staff address never opens an admin session.
        if user.is_staff or user.is_superuser:
            messages.error(request, _("Staff accounts sign in on the admin's login page."))
            return redirect("admin:login")
        return super().pre_login(request, user, **kwargs)

    def send_password_reset_mail(self, user, email, context):
        # A staff password is not reset through the readers' pages (manage.py
        # changepassword does it); the page says the same as for any address.
        if user.is_staff or user.is_superuser:
            logger.info("Password reset for a staff account refused (user %s)", user.pk)
            return None
        return super().send_password_reset_mail(user, email, context)

    def send_mail(self, template_prefix, email, context):
        # The emails greet and sign with the site's name ("Hello from threadpress!"),
        # not its host name (there is no django.contrib.sites to name it).
        site = context.get("current_site")
        if site is None:
            from django.contrib.sites.shortcuts import get_current_site

            site = get_current_site(context.get("request") or allauth_context.request)
        named = SiteName(name=settings.SITE_NAME, domain=site.domain)
        return super().send_mail(template_prefix, email, {**context, "current_site": named})

    def get_client_ip(self, request):
        # The site's one reading of the client's address (TRUSTED_PROXY_COUNT), as
        # comments and django-axes see it.
        from site_config.http import client_ip

        return client_ip(request) or super().get_client_ip(request)


def axes_username(request, credentials=None):
    """What django-axes counts a login attempt under: the admin's ``username``, or the
    email address a reader signs in with (allauth posts it as ``login`` and passes it
    on as ``email``), lower-cased. Both login pages lock out alike."""
    posted = getattr(request, "POST", None) or {}
    credentials = credentials or {}
    value = (
        posted.get("login")  # allauth's form; on success axes passes the username only
        or credentials.get("username")
        or credentials.get("email")
        or posted.get("username")
        or ""
    ).strip()
    if not value:
        return None
    return value.lower() if "@" in value else value


# --- signals and middleware -------------------------------------------------------------
def _never_staff(sender, instance, update_fields=None, **kwargs):
    """A reader account is never staff: the flags are cleared before any save that
    would set them on a user with a reader profile (make a separate staff account)."""
    if not (instance.is_staff or instance.is_superuser) or instance.pk is None:
        return
    if update_fields is not None and not {"is_staff", "is_superuser"} & set(update_fields):
        return
    if ReaderProfile.objects.filter(user_id=instance.pk).exists():
        logger.warning("Reader account %s kept from staff status", instance.pk)
        instance.is_staff = instance.is_superuser = False


def _signed_up(sender, request, user, **kwargs):
    create_profile(user)  # made by the adapter already; any other way in gets one too


class FailOpenCache:
    """The cache as allauth's rate limits see it: when the cache is down, the limits are
    not enforced (logged once a minute) instead of every sign-in failing with a 500.
    Failed sign-ins stay throttled meanwhile by django-axes, which counts in the
    database."""

    def __init__(self, cache):
        self._cache = cache

    def _call(self, name, fallback, *args, **kwargs):
        try:
            return getattr(self._cache, name)(*args, **kwargs)
        except Exception:
            log_cache_failure("reader sign-in rate limits are not enforced")
            return fallback

    def add(self, *args, **kwargs):
        return self._call("add", True, *args, **kwargs)  # the lock: taken

    def get(self, key, default=None, *args, **kwargs):
        return self._call("get", default, key, default, *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._call("set", None, *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", False, *args, **kwargs)


def connect():
    """Connect the receivers (``CommentsConfig.ready``)."""
    pre_save.connect(_never_staff, sender=get_user_model(), dispatch_uid="reader-never-staff")
    user_signed_up.connect(_signed_up, dispatch_uid="reader-profile-on-signup")
    # allauth's rate limits read the cache through this module attribute (pinned
    # version: requirements/run.txt); a dead cache must not make sign-in a 500.
    if not isinstance(allauth_ratelimit.cache, FailOpenCache):
        allauth_ratelimit.cache = FailOpenCache(allauth_ratelimit.cache)


class PersonalPagesMiddleware:
    """A response to a signed-in person is personal: ``Cache-Control: private``, so no
    cache between them and the site keeps it for anyone else. (The site's own page
    cache serves only readers without a session: ``site_config.pagecache``.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(response, "same_for_everyone", False):
            # Public by design (comments.live): asking who the reader is would read the
            # session and add ``Vary: Cookie``, and no HTTP cache could share it.
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True)
        return response
