"""The staff dashboard's numbers (CONTRACT §4's selectors where they exist, so the console and
the API always agree): platform spend today and yesterday, the last 24 hours of calls, the
tenants spending most today, and the tenants that cannot use AI right now."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ai.budget import minimal_call_cost
from ai.models import AIGlobalSettings, BudgetCounter, ModelPrice
from ai.pricing import to_micros
from ai.selectors import BudgetState, budget_states_today, days_that_may_be_today
from keybuzz.tenants.models import Tenant
from usage.models import AIUsage
from usage.selectors import percent_used, usage_history

TOP_TENANTS = 10
BLOCKED_SHOWN = 50


@dataclass(frozen=True)
class TenantToday:
    """A tenant's own local day so far."""

    tenant: Tenant
    state: BudgetState

    @property
    def percent_used(self) -> Decimal:
        return percent_used(used=self.state.used, daily=self.state.daily)


@dataclass(frozen=True)
class Dashboard:
    switch: AIGlobalSettings
    day: date
    spend_today: Decimal
    spend_yesterday: Decimal
    last_24h: dict[str, int]
    top_tenants: list[TenantToday]
    blocked_by_switch: list[Tenant]
    blocked_by_budget: list[TenantToday]


def dashboard_read(*, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    # The platform view of /admin/ai/usage (each tenant on its own local dates): same numbers.
    yesterday, today = usage_history(tenant=None, days=2)["byDay"]
    return Dashboard(
        switch=AIGlobalSettings.objects.get(pk=AIGlobalSettings.SINGLETON_ID),
        day=today["date"],
        spend_today=today["costUsd"],
        spend_yesterday=yesterday["costUsd"],
        last_24h=_last_24h(now),
        top_tenants=_top_tenants(now),
        blocked_by_switch=list(
            Tenant.objects.filter(ai_settings__kill_switch=True).select_related("ai_settings")[
                :BLOCKED_SHOWN
            ]
        ),
        blocked_by_budget=_blocked_by_budget(now),
    )


def _last_24h(now: datetime) -> dict[str, int]:
    counts = dict(
        AIUsage.objects.filter(created_at__gt=now - timedelta(hours=24))
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in AIUsage.Status.values}


def _top_tenants(now: datetime) -> list[TenantToday]:
    """The tenants that spent most on their own local day; counters of other days are skipped."""
    counters = (
        BudgetCounter.objects.filter(day__in=days_that_may_be_today(now), spent_micros__gt=0)
        .select_related("tenant__plan")
        .order_by("-spent_micros", "tenant_id")
    )
    top: list[TenantToday] = []
    for counter in counters.iterator(chunk_size=4 * TOP_TENANTS):
        if counter.day == counter.tenant.local_day(now):
            state = BudgetState.of(counter.tenant, counter.spent_micros,
                                   counter.reserved_micros, counter.granted_micros)  # fmt: skip
            top.append(TenantToday(counter.tenant, state))
            if len(top) == TOP_TENANTS:
                break
    return top


def _blocked_by_budget(now: datetime) -> list[TenantToday]:
    """Tenants to which a minimal request would be refused for budget right now.

    Candidates are found in SQL with the largest minimal call of any model as the margin (a
    superset, whatever each one's model), then checked exactly with the hard cap's own test.
    """
    minimal = {price.alias: to_micros(minimal_call_cost(price=price))
               for price in ModelPrice.objects.all()}  # fmt: skip
    margin = max(minimal.values(), default=0) + 1
    budget_micros = ExpressionWrapper(
        Coalesce("tenant__daily_budget_override", "tenant__plan__daily_budget_usd")
        * Value(Decimal(1_000_000)),
        output_field=DecimalField(max_digits=20, decimal_places=0),
    )
    near_the_cap = BudgetCounter.objects.filter(day__in=days_that_may_be_today(now)).alias(
        budget=budget_micros,
        held=F("spent_micros") + F("reserved_micros") - F("granted_micros") + Value(margin),
    )
    tenant_ids = set(near_the_cap.filter(held__gte=F("budget")).values_list("tenant_id", flat=True))
    small_budget = Decimal(margin) / 1_000_000  # below one call: blocked with nothing spent
    tenant_ids |= set(
        Tenant.objects.filter(daily_budget_override__lt=small_budget).values_list("id", flat=True)
    )
    tenant_ids |= set(
        Tenant.objects.filter(
            daily_budget_override__isnull=True, plan__daily_budget_usd__lt=small_budget
        ).values_list("id", flat=True)
    )
    tenants = list(Tenant.objects.filter(pk__in=tenant_ids).select_related("plan"))
    states = budget_states_today(tenants=tenants, now=now)
    blocked = [
        TenantToday(tenant, states[tenant.id])
        for tenant in tenants
        if not states[tenant.id].admits(minimal[tenant.plan.model_id])
    ]
    return sorted(blocked, key=lambda row: row.tenant.id)[:BLOCKED_SHOWN]
