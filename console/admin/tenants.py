"""Tenants in the staff console: today's spend and budget on the list, kill switches, plan and
budget changes logged with their values, and one-day top-ups."""

from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ai.models import AISettings
from console.admin.alerts import WebhookEndpointInline
from keybuzz.admin_audit import ValueChangesLogged
from keybuzz.money_display import usd
from tenants.models import Membership, Tenant
from usage.budget import budget_states_today, tenant_ids_using_at_least
from usage.models import AIUsage
from usage.selectors import percent_used

from .budget_display import budget_below_one_call, budget_check_html, percent_badge
from .kill_switches import AISettingsInline, KillSwitchActions, kill_switch_formset_save
from .top_ups import TopUpView


class BudgetUsedFilter(admin.SimpleListFilter):
    title = _("budget used today")
    parameter_name = "budget_used"

    def lookups(self, request, model_admin):
        return [
            (value, gettext("%(percent)s %% or more") % {"percent": value})
            for value in ("80", "100")
        ]

    def queryset(self, request, queryset):
        if self.value() not in {"80", "100"}:
            return queryset
        return queryset.filter(pk__in=tenant_ids_using_at_least(percent=Decimal(self.value())))


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(KillSwitchActions, TopUpView, ValueChangesLogged):
    list_display = [
        "id",
        "name",
        "plan",
        "model_alias",
        "ai_on",
        "spend_today",
        "budget_today",
        "percent_used_today",
        "last_call_at",
    ]
    list_select_related = ["plan", "ai_settings"]
    list_filter = [
        "plan",
        ("ai_settings__kill_switch", admin.BooleanFieldListFilter),
        BudgetUsedFilter,
        "is_active",
        "language",
    ]
    search_fields = ["id", "name"]
    actions = ["disable_ai", "enable_ai"]
    inlines = [AISettingsInline, MembershipInline, WebhookEndpointInline]
    fieldsets = [
        (None, {"fields": ["id", "name", "timezone", "language", "is_active", "created_at"]}),
        (_("Plan and budget"), {"fields": ["plan", "daily_budget_override", "budget_check"]}),
        (_("Cost alerts"), {"fields": ["alert_percents"]}),
    ]

    class Media:
        css = {"all": ["console/admin.css"]}

    def get_readonly_fields(self, request, obj=None):
        return ["id", "created_at", "budget_check"] if obj else ["created_at", "budget_check"]

    def get_queryset(self, request):
        # The latest row of each tenant: one backward step on the (tenant_id, created_at) index,
        # never an aggregate over its rows.
        last_call = AIUsage.objects.filter(tenant=OuterRef("pk")).order_by("-created_at")
        return (
            super()
            .get_queryset(request)
            .annotate(last_call=Subquery(last_call.values("created_at")[:1]))
        )

    def get_changelist_instance(self, request):
        """Today's spend and budget of the whole page from one query, set on each row."""
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)  # evaluated here once; the template reuses it
        states = budget_states_today(tenants=page)
        for tenant in page:
            tenant.today_budget_state = states[tenant.id]
        return changelist

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        AISettings.objects.get_or_create(tenant=obj)
        warning = budget_below_one_call(budget=obj.daily_budget, plan=obj.plan)
        if warning:
            self.message_user(request, warning, messages.WARNING)

    def save_formset(self, request, form, formset, change):
        if formset.model is AISettings:
            kill_switch_formset_save(formset, tenant=form.instance, actor=request.user.email)
        else:
            super().save_formset(request, form, formset, change)

    @admin.display(description=_("model"), ordering="plan__model")
    def model_alias(self, tenant: Tenant) -> str:
        return tenant.plan.model_id

    @admin.display(description=_("AI on"), boolean=True, ordering="-ai_settings__kill_switch")
    def ai_on(self, tenant: Tenant) -> bool | None:
        """Green when AI runs, red when the tenant's kill switch is on (a green tick for
        "kill switch: yes" would read as all is well)."""
        settings = getattr(tenant, "ai_settings", None)  # a missing row raises AttributeError
        return None if settings is None else not settings.kill_switch

    @admin.display(description=_("spend today (USD)"))
    def spend_today(self, tenant: Tenant) -> str:
        state = getattr(tenant, "today_budget_state", None)
        return usd(state.used) if state else "—"

    @admin.display(description=_("budget today (USD)"))
    def budget_today(self, tenant: Tenant) -> str:
        state = getattr(tenant, "today_budget_state", None)
        return usd(state.daily) if state else "—"

    @admin.display(description=_("used (%)"))
    def percent_used_today(self, tenant: Tenant) -> str:
        state = getattr(tenant, "today_budget_state", None)
        if state is None:
            return "—"
        return percent_badge(percent_used(used=state.used, daily=state.daily))

    @admin.display(description=_("last call"), ordering="last_call")
    def last_call_at(self, tenant: Tenant):
        return tenant.last_call

    @admin.display(description=_("budget check"))
    def budget_check(self, tenant: Tenant) -> str:
        if not tenant.plan_id:
            return "—"  # the add page: nothing to check yet
        return budget_check_html(budget=tenant.daily_budget, plan=tenant.plan)
