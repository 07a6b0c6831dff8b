from django.urls import path
from django.views.generic import RedirectView

from articles import feeds, views

app_name = "articles"

urlpatterns = [
    path("", views.ArticleListView.as_view(), name="list"),
    path("feed/", feeds.LatestArticlesFeed(), name="feed"),
    path("feed/atom/", feeds.LatestArticlesAtomFeed(), name="feed-atom"),
    path("articles/<slug:slug>/", views.ArticleDetailView.as_view(), name="detail"),
    path("sections/<slug:slug>/", views.SectionView.as_view(), name="section"),
    path("sections/<slug:slug>/feed/", feeds.SectionFeed(), name="section-feed"),
    path("sections/<slug:slug>/feed/atom/", feeds.SectionAtomFeed(), name="section-feed-atom"),
    path("tags/<slug:slug>/", views.TagView.as_view(), name="tag"),
    path("tags/<slug:slug>/feed/", feeds.TagFeed(), name="tag-feed"),
    path("tags/<slug:slug>/feed/atom/", feeds.TagAtomFeed(), name="tag-feed-atom"),
    # An article's comment feed is the comments app's (comments:article-feed); the
    # address it had here keeps working for the feed readers subscribed to it.
    path(
        "articles/<slug:slug>/comments/feed/",
        RedirectView.as_view(pattern_name="comments:article-feed", permanent=True),
        name="comments-feed",
    ),
]
