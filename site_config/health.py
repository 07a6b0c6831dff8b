"""``/healthz``: the load balancer's liveness probe (and the trivial view load tests compare
against). It touches neither the database nor the cache, so a slow dependency never makes
a healthy app server look dead."""

from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")
