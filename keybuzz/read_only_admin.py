from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For records nobody edits by hand: accounting rows, audit trails, token digests."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
