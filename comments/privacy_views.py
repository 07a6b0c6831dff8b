"""The pages of a reader's own data (docs/privacy.md): ask for a download or an erasure
by email, download signed in or by the emailed link. The rules are in
``comments.privacy``."""

import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from comments import accounts, privacy


class DataRequestForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        max_length=254,
        help_text=gettext_lazy("The address you comment with. We email the link there."),
    )


def _download(reader):
    data = privacy.export_data(reader)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"my-comments-data-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def your_data(request):
    """Anonymous: a form asking only an email address, answered the same whether or not
    anything is stored about it. Signed in: the download, and the way to erase."""
    signed_in = request.user.is_authenticated and accounts.profile_of(request.user) is not None
    erase = request.method == "POST" and request.POST.get("action") == "erase"
    form = None
    state = "signed_in" if signed_in else "form"
    status = 200
    if signed_in and erase:
        privacy.request_erasure_link(request.user.email, user=request.user)
        state = "sent"
    elif not signed_in:
        form = DataRequestForm(request.POST if request.method == "POST" else None)
        if form.is_bound:
            if form.is_valid():
                if erase:
                    privacy.request_erasure_link(form.cleaned_data["email"])
                else:
                    privacy.request_export_link(form.cleaned_data["email"])
                state = "sent"
            else:
                status = 400
    context = {"form": form, "state": state}
    response = render(request, "comments/privacy.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def download(request):
    """A signed-in reader's data as a JSON file."""
    if accounts.profile_of(request.user) is None:
        raise Http404(_("Staff accounts have no reader data to download."))
    return _download(privacy.Reader.for_user(request.user))


@require_GET
def export(request, token):
    """The emailed download link: a forged link is a 404, an expired one says so."""
    try:
        reader = privacy.reader_for_export_token(token)
    except privacy.LinkInvalid:
        raise Http404(_("This link is not valid.")) from None
    except privacy.LinkExpired:
        return render(request, "comments/privacy.html", {"state": "expired"}, status=400)
    return _download(reader)


def _see_other(url):
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _page(request, context, status=200):
    response = render(request, "comments/privacy.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def erase(request, token):
    """The emailed confirmation link. GET explains and asks (a mail scanner following
    the link erases nothing); POST schedules the erasure after the grace period."""
    try:
        email, user_id = privacy.read_erase_token(token)
    except privacy.LinkInvalid:
        raise Http404(_("This link is not valid.")) from None
    except privacy.LinkExpired:
        return _page(request, {"state": "expired"}, status=400)
    if request.method == "POST":
        erasure = privacy.schedule_erasure(email=email, user_id=user_id)
        return _see_other(reverse("comments:privacy-erasure", args=[privacy.cancel_token(erasure)]))
    grace_hours = int(privacy.GRACE_PERIOD.total_seconds() // 3600)
    return _page(request, {"state": "erase", "email": email, "grace_hours": grace_hours})


@require_http_methods(["GET", "HEAD", "POST"])
def erasure(request, token):
    """Where a scheduled erasure stands, with the button that cancels it."""
    try:
        request_row = privacy.erasure_for_cancel_token(token)
    except privacy.LinkInvalid:
        raise Http404(_("This link is not valid.")) from None
    except privacy.LinkExpired:
        return _page(request, {"state": "expired"}, status=400)
    if request.method == "POST":
        privacy.cancel_erasure(request_row)
        return _see_other(request.path)
    return _page(request, {"state": "erasure", "erasure": request_row})
