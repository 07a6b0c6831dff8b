from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path
from django.views.generic import TemplateView

from articles.sitemaps import ArticleSitemap
from site_config.health import healthz

sitemaps = {"articles": ArticleSitemap}

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("comments/", include("comments.urls")),
    path(
        "sitemap.xml",
        sitemap,
        {"sitemaps": sitemaps},
        name="django.contrib.sitemaps.views.sitemap",
    ),
    path(
        "robots.txt",
        TemplateView.as_view(template_name="robots.txt", content_type="text/plain"),
        name="robots",
    ),
    path("", include("articles.urls")),
]

admin.site.site_header = "threadpress moderation desk"
admin.site.site_title = "threadpress admin"
admin.site.index_title = "Moderation and publishing"
# The moderation queue needs the width more than the app list does.
admin.site.enable_nav_sidebar = False
