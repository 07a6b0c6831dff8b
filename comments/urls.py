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
    path("<int:pk>/react/", views.react, name="react"),
    path("sort/<slug:slug>/", views.choose_sort, name="sort"),
    path("readers/<int:pk>/", views.profile, name="profile"),
    path("readers/settings/", views.account_settings, name="account"),
]
