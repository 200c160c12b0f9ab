"""Plans in the staff console: editable, every change logged with its old and new values."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from keybuzz.admin_audit import ValueChangesLogged
from tenants.models import Plan

from .budget_display import budget_below_one_call, budget_check_html


@admin.register(Plan)
class PlanAdmin(ValueChangesLogged):
    list_display = [
        "code",
        "name",
        "daily_budget_usd",
        "model",
        "fallback_model",
        "requests_per_minute",
        "autopilot_enabled",
        "budget_warning",
    ]
    list_select_related = ["model"]  # the budget warning reads each plan's price
    fields = [
        "code",
        "name",
        "daily_budget_usd",
        "model",
        "fallback_model",
        "requests_per_minute",
        "autopilot_enabled",
        "autopilot_concurrency",
        "route_rules",
        "alert_percents",
        "budget_check",
    ]

    class Media:
        css = {"all": ["console/admin.css"]}

    def get_readonly_fields(self, request, obj=None):
        # The code is the key tenants point to: set once.
        return ["code", "budget_check"] if obj else ["budget_check"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        warning = budget_below_one_call(budget=obj.daily_budget_usd, plan=obj)
        if warning:
            self.message_user(request, warning, messages.WARNING)

    @admin.display(description=_("budget check"))
    def budget_warning(self, plan: Plan) -> str:
        warning = budget_below_one_call(budget=plan.daily_budget_usd, plan=plan)
        if not warning:
            return ""
        return format_html(
            '<span class="kbz-budget kbz-budget--reached" title="{}">⚠ {}</span>',
            warning,
            _("below one call"),
        )

    @admin.display(description=_("budget check"))
    def budget_check(self, plan: Plan) -> str:
        if plan.model_id is None or plan.daily_budget_usd is None:
            return "—"  # the add page: nothing to check yet
        return budget_check_html(budget=plan.daily_budget_usd, plan=plan)
