from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.utils.translation import gettext_lazy as _

from keybuzz.read_only_admin import ReadOnlyModelAdmin


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyModelAdmin):
    """Django's own audit trail of admin edits, readable by staff, editable by nobody."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag",
                    "change_message_shown"]  # fmt: skip
    list_filter = ["action_flag", "content_type"]
    search_fields = ["object_repr", "object_id", "user__email", "change_message"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]

    @admin.display(description=_("change"))
    def change_message_shown(self, entry: LogEntry) -> str:
        return entry.get_change_message()
