"""The reader's forms: the comment form (field rules, the honeypot and the signed render
timestamp), the edit form, the report form, the appeal form, and the reader account's
own fields (the display name at signup and in the account's settings)."""

import time

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from comments.conf import conf
from comments.models import (
    MAX_BODY_LENGTH,
    MAX_EXPLANATION_LENGTH,
    MAX_NAME_LENGTH,
    Comment,
    CommentReport,
    Follow,
    http_url_validator,
)
from comments.text import count_links, strip_control_characters

TIMESTAMP_SALT = "comments.form-timestamp"
# The fields a signed-in reader's comment form leaves out: the account says who they are.
ACCOUNT_FIELDS = ("name", "email", "url", "remember")


class CleanCharField(forms.CharField):
    """A CharField that drops control characters (NUL included) before validating."""

    def to_python(self, value):
        value = super().to_python(value)
        return strip_control_characters(value) if value else value


class TimestampField(forms.CharField):
    """The signed time the form was shown to the reader (hidden)."""

    widget = forms.HiddenInput

    def bound_data(self, data, initial):
        """A re-displayed form keeps the posted time while it is good, so the "too fast"
        rule still counts from when the reader first saw the form; an expired, missing
        or forged one is replaced by ``initial`` (see ``CommentForm.__init__``)."""
        try:
            age = timestamp_age(data)
        except signing.SignatureExpired:
            return initial
        return initial if age is None else data


class CommentForm(forms.Form):
    name = CleanCharField(
        label=_("Name"),
        max_length=MAX_NAME_LENGTH,
        error_messages={"required": _("Please enter your name.")},
    )
    email = forms.EmailField(
        label=_("Email"),
        help_text=_("Never shown publicly."),
        max_length=254,
        error_messages={
            "required": _("Please enter your email address."),
            "invalid": _("Enter a valid email address, like name@example.com."),
        },
    )
    url = CleanCharField(label=_("Website"), required=False, max_length=500)
    body = CleanCharField(
        label=_("Comment"),
        max_length=MAX_BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 45}),
        error_messages={"required": _("Please write a comment.")},
    )
    parent = forms.CharField(required=False, widget=forms.HiddenInput)
    remember = forms.BooleanField(
        label=_("Save my name, email and website for the next time I comment."),
        required=False,
    )
    notify = forms.BooleanField(label=_("Notify me of replies by email."), required=False)
    # Follow the article's discussion instantly (comments.follows): a guest confirms by email.
    follow = forms.ChoiceField(
        label=_("Follow this discussion by email"),
        required=False,
        choices=[
            ("", _("No")),
            (Follow.Scope.ALL, _("All new comments")),
            (Follow.Scope.REPLIES, _("Only replies to me")),
        ],
    )
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill every field.
    homepage = forms.CharField(label=_("Leave this field empty"), required=False)
    timestamp = TimestampField(required=False)

    error_messages = {
        "expired": _("This form has expired, please submit again."),
    }

    def __init__(self, *args, article, user=None, **kwargs):
        self.article = article
        self.user = user if user is not None and user.is_authenticated else None
        super().__init__(*args, **kwargs)
        self.fields["timestamp"].initial = sign_timestamp(self._redisplay_time())
        self.fields["homepage"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        self.fields["name"].widget.attrs.update({"autocomplete": "name"})
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})
        self.fields["url"].widget.attrs.update({"autocomplete": "url", "inputmode": "url"})
        self.fields["url"].widget.input_type = "url"
        if self.user is not None:
            # A signed-in reader doesn't retype who they are: their comment carries
            # their account's name and address (``clean``), and no website.
            for name in ACCOUNT_FIELDS:
                del self.fields[name]

    # --- field rules --------------------------------------------------------
    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Please enter your name."), code="required")
        return name

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if not url:
            return ""
        if "://" not in url and not url.lower().startswith(("javascript:", "data:", "vbscript:")):
            url = "https://" + url
        try:
            http_url_validator(url)
        except forms.ValidationError:
            raise forms.ValidationError(
                _("Enter a web address starting with http:// or https://."), code="invalid_url"
            ) from None
        return url

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError(_("Please write a comment."), code="required")
        if not self.article.allows_links_in_comments and count_links(body):
            raise forms.ValidationError(
                _(
                    "Links are not allowed in comments on this article. Please remove "
                    "the web addresses from your comment."
                ),
                code="links_not_allowed",
            )
        return body.strip("\n")

    def clean_parent(self):
        value = (self.cleaned_data.get("parent") or "").strip()
        if not value:
            return None
        if not value.isdigit():
            raise forms.ValidationError(
                _("The comment you replied to does not exist."), code="invalid"
            )
        parent = Comment.objects.filter(pk=int(value)).select_related("article").first()
        if parent is None:
            raise forms.ValidationError(
                _("The comment you replied to does not exist."), code="missing"
            )
        if parent.article_id != self.article.pk:
            raise forms.ValidationError(
                _("The comment you replied to belongs to another article."), code="other_article"
            )
        if not parent.is_public:
            raise forms.ValidationError(
                _("You can only reply to published comments."), code="not_public"
            )
        return parent

    def _redisplay_time(self):
        """The time to sign into the form shown now.

        A new form: now. A posted form shown again whose time expired: as if shown
        ``MIN_SUBMIT_SECONDS`` ago, since its reader has spent far longer than that
        on it, so clicking "Post Comment" again at once posts and is not taken for
        a bot (a still-good time is re-displayed as posted: ``TimestampField``).
        """
        now = time.time()
        if not self.is_bound:
            return now
        try:
            if timestamp_age(self.data.get(self.add_prefix("timestamp"))) is None:
                return now  # the posted time is missing or forged: no time credited
        except signing.SignatureExpired:
            pass
        return now - conf.MIN_SUBMIT_SECONDS

    def clean(self):
        cleaned_data = super().clean()
        if self.user is not None:
            from comments.accounts import author_for  # it reads allauth's models

            cleaned_data["name"], cleaned_data["email"] = author_for(self.user)
            cleaned_data["url"] = ""
        return cleaned_data

    def clean_timestamp(self):
        """Seconds since the form was rendered (None when missing or tampered with)."""
        try:
            return timestamp_age(self.cleaned_data.get("timestamp"))
        except signing.SignatureExpired:
            # A form-level error: the timestamp field is hidden, so an error attached
            # to it would never be shown to the reader.
            self.add_error(
                None, forms.ValidationError(self.error_messages["expired"], code="expired")
            )
            return None

    # --- what the rules need -------------------------------------------------
    @property
    def honeypot_filled(self):
        return bool((self.data.get("homepage") or "").strip())

    @property
    def seconds_since_render(self):
        return self.cleaned_data.get("timestamp")


def sign_timestamp(at=None):
    """The form's signed render time: now, or ``at`` (seconds since the epoch)."""
    return signing.dumps(time.time() if at is None else at, salt=TIMESTAMP_SALT)


def timestamp_age(token):
    """Seconds since the time ``token`` (a ``sign_timestamp``) carries; None when missing
    or forged.

    Raises ``signing.SignatureExpired`` when the token was signed more than
    ``COMMENTS_FORM_MAX_AGE_SECONDS`` ago (``signing.loads(max_age=…)``). The time it
    carries, not the signature's, is what the "too fast" rule counts from: a form shown
    again after it expired is signed now but dated back ``MIN_SUBMIT_SECONDS``.
    """
    try:
        signed_time = signing.loads(
            token or "", salt=TIMESTAMP_SALT, max_age=conf.FORM_MAX_AGE_SECONDS
        )
    except signing.SignatureExpired:
        raise
    except signing.BadSignature:
        return None
    try:
        return time.time() - float(signed_time)
    except (TypeError, ValueError):
        return None


class CommentEditForm(forms.Form):
    body = CleanCharField(
        label=_("Comment"),
        max_length=MAX_BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 45}),
    )

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError(_("Please write a comment."), code="required")
        return body.strip("\n")


class ReportForm(forms.Form):
    """A reader's report: a reason (an explanation too for illegal content) and, for a
    reader who is not logged in, an optional email for the moderators."""

    reason = forms.ChoiceField(
        label=_("Why should a moderator look at this comment?"),
        choices=CommentReport.Reason.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose a reason."),
            "invalid_choice": _("Please choose one of the reasons listed."),
        },
    )
    explanation = CleanCharField(
        label=_("Explanation"),
        required=False,
        max_length=MAX_EXPLANATION_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 45}),
        help_text=_("Required for illegal content: say what is illegal about it."),
    )
    email = forms.EmailField(
        label=_("Your email (optional)"),
        required=False,
        max_length=254,
        help_text=_("Only moderators see it, in case they need to ask you about this report."),
        error_messages={"invalid": _("Enter a valid email address, like name@example.com.")},
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})
        if user is not None and user.is_authenticated:
            del self.fields["email"]  # the account is who they are

    def clean_explanation(self):
        return self.cleaned_data["explanation"].strip()

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned_data = super().clean()
        if (
            cleaned_data.get("reason") == CommentReport.Reason.ILLEGAL
            and not cleaned_data.get("explanation")
            and "explanation" not in self.errors
        ):
            self.add_error(
                "explanation",
                forms.ValidationError(
                    _("Please explain what is illegal about this comment."),
                    code="explanation_required",
                ),
            )
        return cleaned_data


class AppealForm(forms.Form):
    """A commenter's one appeal against a moderator's removal (``comments.appeals``)."""

    body = CleanCharField(
        label=_("Why should your comment be reinstated?"),
        max_length=MAX_EXPLANATION_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 45}),
        help_text=_(
            "A moderator reads your appeal, looks at your comment again and answers you by email."
        ),
        error_messages={"required": _("Please say why the removal was wrong.")},
    )

    def clean_body(self):
        body = self.cleaned_data["body"].strip()
        if not body:
            raise forms.ValidationError(_("Please say why the removal was wrong."), code="required")
        return body


class ReaderSignupForm(forms.Form):
    """The display name, added to allauth's signup form (``ACCOUNT_SIGNUP_FORM_CLASS``:
    allauth's form inherits from this one). The profile is made with it by
    ``comments.accounts.ReaderAccountAdapter.save_user``."""

    display_name = CleanCharField(
        label=_("Display name"),
        max_length=MAX_NAME_LENGTH,
        help_text=_("Shown with your comments and on your profile page."),
        error_messages={"required": _("Please choose a display name.")},
    )
    field_order = ["display_name", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["display_name"].widget.attrs.update({"autocomplete": "nickname"})

    def clean_display_name(self):
        return _required_display_name(self.cleaned_data["display_name"])

    def signup(self, request, user):
        """allauth's hook after the account is saved; the adapter made the profile."""


class ProfileSettingsForm(forms.Form):
    """A reader's choices about their public face (``comments.accounts.update_profile``)."""

    display_name = CleanCharField(
        label=_("Display name"),
        max_length=MAX_NAME_LENGTH,
        help_text=_("Shown with your comments, the earlier ones too, and on your profile page."),
        error_messages={"required": _("Please choose a display name.")},
    )
    profile_hidden = forms.BooleanField(
        label=_("Hide my profile"),
        required=False,
        help_text=_(
            "Hidden, your profile page is not shown and your name in comments links nowhere."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["display_name"].widget.attrs.update({"autocomplete": "nickname"})

    def clean_display_name(self):
        return _required_display_name(self.cleaned_data["display_name"])


def normalize_display_name(value):
    """A display name as stored: whitespace runs collapsed, ends trimmed, cut to length."""
    return " ".join((value or "").split())[:MAX_NAME_LENGTH]


def _required_display_name(value):
    name = normalize_display_name(value)
    if not name:
        raise forms.ValidationError(_("Please choose a display name."), code="required")
    return name


class FollowForm(forms.Form):
    """Follow an article's discussion: what (all comments, replies to me) and when
    (instantly, a daily digest); the address for a reader who is not signed in."""

    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        error_messages={
            "required": _("Please enter your email address."),
            "invalid": _("Enter a valid email address, like name@example.com."),
        },
    )
    scope = forms.ChoiceField(
        label=_("Follow"), choices=Follow.Scope, initial=Follow.Scope.ALL, widget=forms.RadioSelect
    )
    delivery = forms.ChoiceField(
        label=_("Email me"),
        choices=Follow.Delivery,
        initial=Follow.Delivery.INSTANT,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user if user is not None and user.is_authenticated else None
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})
        if self.user is not None:
            # A signed-in reader follows with their account's address.
            del self.fields["email"]

    def clean(self):
        data = super().clean()
        if self.user is not None:
            data["email"] = self.user.email
        return data
