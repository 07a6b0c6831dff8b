from django.urls import path

from articles import feeds, views
from comments.feeds import ArticleCommentsFeed

app_name = "articles"

urlpatterns = [
    path("", views.ArticleListView.as_view(), name="list"),
    path("feed/", feeds.LatestArticlesFeed(), name="feed"),
    path("feed/atom/", feeds.LatestArticlesAtomFeed(), name="feed-atom"),
    path("articles/<slug:slug>/", views.ArticleDetailView.as_view(), name="detail"),
    path(
        "articles/<slug:slug>/comments/feed/",
        ArticleCommentsFeed(),
        name="comments-feed",
    ),
]
