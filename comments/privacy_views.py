"""The pages of a reader's own data (docs/privacy.md): ask for a download or an erasure
by email, download signed in or by the emailed link. The rules are in
``comments.privacy``."""

import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import render
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
    form = None
    state = "signed_in" if signed_in else "form"
    status = 200
    if not signed_in:
        form = DataRequestForm(request.POST if request.method == "POST" else None)
        if form.is_bound:
            if form.is_valid():
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
