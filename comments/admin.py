from django.contrib import admin

from comments.models import Comment


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["author_name", "article", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["article"]
    raw_id_fields = ["article", "parent", "user", "moderated_by"]
    search_fields = ["author_name", "author_email", "ip_address", "body"]
