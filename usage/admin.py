from django.contrib import admin

from keybuzz.read_only_admin import ReadOnlyModelAdmin

from .models import AIUsage, UsagePurge, UsageRollup


@admin.register(AIUsage)
class AIUsageAdmin(ReadOnlyModelAdmin):
    list_display = [
        "created_at",
        "tenant",
        "feature",
        "provider",
        "model",
        "status",
        "error_code",
        "total_tokens",
        "cost_usd_est",
        "request_id",
    ]
    list_filter = ["status", "feature", "provider", "model"]
    search_fields = ["request_id", "tenant__id", "user_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over the whole table on every page


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyModelAdmin):
    list_display = ["day", "tenant", "feature", "model", "status", "calls", "tokens",
                    "cost_micros"]  # fmt: skip
    list_filter = ["status", "feature", "model"]
    search_fields = ["tenant__id"]
    date_hierarchy = "day"


@admin.register(UsagePurge)
class UsagePurgeAdmin(ReadOnlyModelAdmin):
    list_display = ["purged_at", "before", "rows_deleted"]
