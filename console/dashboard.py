"""The staff dashboard's numbers (CONTRACT §4's selectors where they exist, so the console and
the API always agree): platform spend today and yesterday, the last 24 hours of calls, the
tenants spending most today, the tenants that cannot use AI right now, and the Autopilot queue."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from ai.models import AIGlobalSettings
from tenants.models import Tenant
from usage.budget import (
    BudgetState,
    budget_counter_state,
    budget_reached_today,
    days_that_may_be_today,
)
from usage.models import AIUsage, BudgetCounter
from usage.selectors import percent_used, usage_history

from .autopilot import QueueTotals, queue_totals

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
    saved_today: Decimal  # what routing saved, platform-wide (CONTRACT §8)
    last_24h: dict[str, int]
    route_shares: list[tuple[str, Decimal]]  # percent of the last 24 hours' calls per reason
    top_tenants: list[TenantToday]
    blocked_by_switch: list[Tenant]
    blocked_by_budget: list[TenantToday]
    autopilot: QueueTotals


def dashboard_read(*, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    # The platform view of /admin/ai/usage (each tenant on its own local dates): same numbers.
    yesterday, today = usage_history(tenant=None, days=2).by_day
    return Dashboard(
        switch=AIGlobalSettings.objects.get(pk=AIGlobalSettings.SINGLETON_ID),
        day=today.day,
        spend_today=today.cost_usd,
        spend_yesterday=yesterday.cost_usd,
        saved_today=today.saved_usd,
        last_24h=_last_24h(now),
        route_shares=_route_shares(now),
        top_tenants=_top_tenants(now),
        blocked_by_switch=list(
            Tenant.objects.filter(ai_settings__kill_switch=True).select_related("ai_settings")[
                :BLOCKED_SHOWN
            ]
        ),
        blocked_by_budget=_blocked_by_budget(now),
        autopilot=queue_totals(),
    )


def _last_24h(now: datetime) -> dict[str, int]:
    counts = dict(
        AIUsage.objects.filter(created_at__gt=now - timedelta(hours=24))
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in AIUsage.Status.values}


def _route_shares(now: datetime) -> list[tuple[str, Decimal]]:
    """The last 24 hours' calls by route reason, as percents, largest first."""
    counts = dict(
        AIUsage.objects.filter(created_at__gt=now - timedelta(hours=24))
        .values_list("route_reason")
        .annotate(n=Count("id"))
        .values_list("route_reason", "n")
    )
    total = sum(counts.values())
    return [
        (reason, Decimal(count) * 100 / total)
        for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


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
            top.append(TenantToday(counter.tenant, budget_counter_state(counter)))
            if len(top) == TOP_TENANTS:
                break
    return top


def _blocked_by_budget(now: datetime) -> list[TenantToday]:
    """Tenants to which a minimal request would be refused for budget right now."""
    states = budget_reached_today(now=now)
    tenants = Tenant.objects.filter(pk__in=states).select_related("plan").order_by("id")
    return [TenantToday(tenant, states[tenant.id]) for tenant in tenants[:BLOCKED_SHOWN]]
