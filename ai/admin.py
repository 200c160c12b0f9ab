from django import forms
from django.contrib import admin

from keybuzz.read_only_admin import ReadOnlyModelAdmin

from .kill_switches import kill_switch_set
from .models import (
    AIGlobalSettings,
    AISettings,
    BudgetCounter,
    IdempotencyKey,
    KillSwitchChange,
    ModelPrice,
    RateLimitState,
    Reservation,
)


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["alias", "input_usd_per_million", "output_usd_per_million", "updated_at"]


class KillSwitchForm(forms.ModelForm):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Required.")


class KillSwitchAdmin(admin.ModelAdmin):
    """Kill switch pages: every save goes through kill_switch_set, which audits it."""

    form = KillSwitchForm
    readonly_fields = ["updated_by", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        kill_switch_set(
            tenant=self.switch_tenant(obj),
            on=self.switch_state(obj),
            reason=form.cleaned_data["reason"],
            actor=request.user.email,
        )


@admin.register(AIGlobalSettings)
class AIGlobalSettingsAdmin(KillSwitchAdmin):
    list_display = ["__str__", "global_kill_switch", "reason", "updated_by", "updated_at"]
    fields = ["global_kill_switch", "reason", "updated_by", "updated_at"]

    def switch_tenant(self, obj):
        return None

    def switch_state(self, obj):
        return obj.global_kill_switch


@admin.register(AISettings)
class AISettingsAdmin(KillSwitchAdmin):
    list_display = ["tenant", "kill_switch", "reason", "updated_by", "updated_at"]
    list_filter = ["kill_switch"]
    search_fields = ["tenant__id", "tenant__name"]
    fields = ["tenant", "kill_switch", "reason", "updated_by", "updated_at"]
    readonly_fields = ["tenant", *KillSwitchAdmin.readonly_fields]

    def switch_tenant(self, obj):
        return obj.tenant

    def switch_state(self, obj):
        return obj.kill_switch


@admin.register(KillSwitchChange)
class KillSwitchChangeAdmin(ReadOnlyModelAdmin):
    list_display = ["changed_at", "tenant", "old_value", "new_value", "reason", "changed_by"]
    list_filter = ["new_value"]
    search_fields = ["tenant__id", "reason", "changed_by"]


@admin.register(BudgetCounter)
class BudgetCounterAdmin(ReadOnlyModelAdmin):
    list_display = ["day", "tenant", "spent_micros", "reserved_micros"]
    search_fields = ["tenant__id"]
    date_hierarchy = "day"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "tenant", "amount_micros", "expires_at", "request_id"]
    search_fields = ["tenant__id", "request_id"]


@admin.register(RateLimitState)
class RateLimitStateAdmin(ReadOnlyModelAdmin):
    list_display = ["tenant", "tat_micros", "admitted"]
    search_fields = ["tenant__id"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyModelAdmin):
    """Keys and their state; the stored answers (tenant data) are not shown in the list."""

    list_display = ["claimed_at", "tenant", "key", "request_id", "completed_at"]
    search_fields = ["tenant__id", "key", "request_id"]
    exclude = ["response_body", "holder"]
