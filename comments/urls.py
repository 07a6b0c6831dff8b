from django.urls import path

from comments import feeds, views

app_name = "comments"

urlpatterns = [
    path("feed/", feeds.LatestCommentsFeed(), name="feed"),
    path("feed/<slug:slug>/", feeds.ArticleCommentsFeed(), name="article-feed"),
    path("post/<slug:slug>/", views.post_comment, name="post"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("appeal/<str:token>/", views.appeal, name="appeal"),
    path("<int:pk>/", views.permalink, name="permalink"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/report/", views.report, name="report"),
]
