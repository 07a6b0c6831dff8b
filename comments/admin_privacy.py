"""Erasure requests in the admin, read-only: moderators see that an erasure was asked
for, when it runs or ran, and how many rows it changed, never what was erased (the
address is blanked once it is carried out). See ``comments.privacy``."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from comments.models import ErasureRequest


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "state",
        "requested_at",
        "execute_after",
        "completed_at",
        "comments_erased",
        "rows_cleared",
    ]
    list_filter = [("completed_at", admin.EmptyFieldListFilter), "requested_at"]
    date_hierarchy = "requested_at"
    fields = [
        "requested_at",
        "confirmed_at",
        "execute_after",
        "cancelled_at",
        "completed_at",
        "comments_erased",
        "rows_cleared",
    ]
    readonly_fields = fields

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.completed_at:
            return _("carried out")
        if obj.cancelled_at:
            return _("cancelled")
        return _("waiting")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
