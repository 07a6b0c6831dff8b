from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView, TemplateView

from articles.sitemaps import ArticleSitemap, SectionSitemap, TagSitemap, sitemap_view
from site_config import edge
from site_config.health import healthz

sitemaps = {"articles": ArticleSitemap, "sections": SectionSitemap, "tags": TagSitemap}

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # The edge cache's per-reader fragments (ESI includes).
    path("_edge/fragment/", edge.fragment, name="edge-fragment"),
    path("comments/", include("comments.urls")),
    # Reader accounts (django-allauth: sign up, sign in and out, email, password);
    # the reader's profile and settings are the comments app's (comments:profile).
    path("accounts/", include("allauth.urls")),
    # set_language (the footer's language chooser posts here): the choice goes in a cookie.
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "sitemap.xml",
        sitemap_view,
        {"sitemaps": sitemaps},
        name="django.contrib.sitemaps.views.sitemap",
    ),
    # Browsers and feed readers ask for /favicon.ico whatever a page links. The static
    # URL is looked up per request (hashed by collectstatic), so the redirect is temporary.
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("favicon.ico"), permanent=False),
        name="favicon",
    ),
    path(
        "robots.txt",
        TemplateView.as_view(template_name="robots.txt", content_type="text/plain"),
        name="robots",
    ),
    path("", include("articles.urls")),
]

admin.site.site_header = _("threadpress moderation desk")
admin.site.site_title = _("threadpress admin")
admin.site.index_title = _("Moderation and publishing")
# The moderation queue needs the width more than the app list does.
admin.site.enable_nav_sidebar = False
