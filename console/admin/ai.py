from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from ai.kill_switches import kill_switch_set
from ai.models import AIGlobalSettings, AISettings, IdempotencyKey, KillSwitchChange, RateLimitState
from keybuzz.admin_audit import ValueChangesLogged
from keybuzz.money_display import usd
from keybuzz.read_only_admin import ReadOnlyModelAdmin
from tenants.models import ModelPrice, Plan
from usage.budget import plan_aliases
from usage.models import BudgetCounter, BudgetTopUp, Reservation

from .budget_display import budget_covers_one_call, minimal_call_on_plan


@admin.register(ModelPrice)
class ModelPriceAdmin(ValueChangesLogged):
    """Prices per million tokens. A call is priced at admission, so a change applies to calls
    admitted after it; the change message keeps the old and new prices."""

    list_display = ["alias", "input_usd_per_million", "output_usd_per_million", "updated_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for plan in Plan.objects.select_related("model"):
            if obj.alias not in plan_aliases(plan):
                continue
            alias, minimal = minimal_call_on_plan(plan)
            if not budget_covers_one_call(budget=plan.daily_budget_usd, minimum=minimal):
                values = {"plan": plan, "budget": usd(plan.daily_budget_usd),
                          "alias": alias, "minimal": usd(minimal)}  # fmt: skip
                messages.warning(
                    request,
                    _(
                        "The daily budget of plan %(plan)s (%(budget)s) is now below one "
                        "worst-case call of %(alias)s (%(minimal)s): all its requests will get "
                        "402."
                    )
                    % values,
                )


class KillSwitchForm(forms.ModelForm):
    """A change needs a reason (the audit trail keeps it); the last one is not reused."""

    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required: why you change the switch. Kept in the audit trail."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["reason"] = ""


class GlobalKillSwitchForm(KillSwitchForm):
    confirm = forms.BooleanField(
        label=_("I understand that this stops AI suggestions for every tenant."),
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        turning_on = cleaned.get("global_kill_switch") and not self.instance.global_kill_switch
        if turning_on and not cleaned.get("confirm"):
            self.add_error("confirm", _("Confirm that AI must stop for every tenant."))
        return cleaned


class KillSwitchAdmin(ValueChangesLogged):
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
    """A single-object page: the list goes straight to the one row."""

    form = GlobalKillSwitchForm
    fields = ["global_kill_switch", "reason", "confirm", "updated_by", "updated_at"]

    def changelist_view(self, request, extra_context=None):
        return redirect("admin:ai_aiglobalsettings_change", AIGlobalSettings.SINGLETON_ID)

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


@admin.register(BudgetTopUp)
class BudgetTopUpAdmin(ReadOnlyModelAdmin):
    """Granted from a tenant's page or `manage.py grant_budget`; the audit trail is read-only."""

    list_display = ["granted_at", "tenant", "day", "amount_usd", "reason", "granted_by"]
    list_filter = ["day"]
    search_fields = ["tenant__id", "tenant__name", "reason", "granted_by"]
    date_hierarchy = "granted_at"
    list_select_related = ["tenant"]


@admin.register(BudgetCounter)
class BudgetCounterAdmin(ReadOnlyModelAdmin):
    list_display = ["day", "tenant", "spent_micros", "reserved_micros", "granted_micros"]
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
