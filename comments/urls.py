from django.urls import path

from comments import feeds, live, privacy_views, views

app_name = "comments"

urlpatterns = [
    path("feed/", feeds.LatestCommentsFeed(), name="feed"),
    path("feed/<slug:slug>/", feeds.ArticleCommentsFeed(), name="article-feed"),
    path("feed/replies/<str:key>/", feeds.RepliesFeed(), name="replies-feed"),
    path("post/<slug:slug>/", views.post_comment, name="post"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("follow/<slug:slug>/", views.follow, name="follow"),
    path("follow/confirm/<str:token>/", views.follow_confirm, name="follow-confirm"),
    path("follow/unsubscribe/<str:token>/", views.follow_unsubscribe, name="follow-unsubscribe"),
    path("readers/following/", views.follow_list, name="follows"),
    path("appeal/<str:token>/", views.appeal, name="appeal"),
    path("<int:pk>/", views.permalink, name="permalink"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/report/", views.report, name="report"),
    path("<int:pk>/react/", views.react, name="react"),
    path("live/<int:pk>/", live.version, name="live_version"),
    path("live/<int:pk>/new/", live.new_comments, name="live_new"),
    path("sort/<slug:slug>/", views.choose_sort, name="sort"),
    path("readers/<int:pk>/", views.profile, name="profile"),
    path("readers/settings/", views.account_settings, name="account"),
    path("readers/data/", privacy_views.your_data, name="privacy"),
    path("readers/data/download/", privacy_views.download, name="privacy-download"),
    path("readers/data/export/<str:token>/", privacy_views.export, name="privacy-export"),
    path("readers/data/erase/<str:token>/", privacy_views.erase, name="privacy-erase"),
    path("readers/data/erasure/<str:token>/", privacy_views.erasure, name="privacy-erasure"),
]
