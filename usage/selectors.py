"""Usage analytics, read from the daily rollups only: constant time whatever the history."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, F, Sum, When
from django.utils import timezone

from ai.pricing import MICRO_USD, from_micros
from ai.selectors import budget_state
from keybuzz.tenants.models import Tenant

from .models import AIUsage, UsageRollup

Status = AIUsage.Status


@dataclass
class Totals:
    """Calls by outcome, tokens and cost of a set of rollups; `calls` counts successes."""

    calls: int = 0
    blocked_calls: int = 0
    error_calls: int = 0
    tokens: int = 0
    cost_micros: int = 0

    def add(self, *, status: str, calls: int, tokens: int, cost_micros: int) -> None:
        if status == Status.SUCCESS:
            self.calls += calls
        elif status == Status.BLOCKED:
            self.blocked_calls += calls
        else:
            self.error_calls += calls
        self.tokens += tokens
        self.cost_micros += cost_micros

    @property
    def all_calls(self) -> int:
        return self.calls + self.blocked_calls + self.error_calls

    @property
    def cost_usd(self) -> Decimal:
        return from_micros(self.cost_micros)

    def as_json(self) -> dict:
        return {
            "calls": self.calls,
            "blockedCalls": self.blocked_calls,
            "errorCalls": self.error_calls,
            "tokens": self.tokens,
            "costUsd": self.cost_usd,
        }


def platform_today() -> date:
    """'Today' of platform-wide views: the day in AI_BUDGET_TIMEZONE."""
    return timezone.now().astimezone(ZoneInfo(settings.KEYBUZZ["AI_BUDGET_TIMEZONE"])).date()


def _sums(rollups, *keys: str):
    return rollups.values(*keys).annotate(
        n=Sum("calls"), token_sum=Sum("tokens"), cost_sum=Sum("cost_micros")
    )


def percent_used(*, used: Decimal, daily: Decimal) -> Decimal:
    """used / daily * 100, not capped; a zero budget is 0 % used while nothing is spent."""
    if not daily:
        return Decimal(0) if not used else Decimal(100)
    return (used / daily * 100).quantize(MICRO_USD, rounding=ROUND_HALF_UP)


def usage_today(*, tenant: Tenant) -> dict:
    """The tenant's local day so far (CONTRACT §4 /admin/ai/usage/today)."""
    day = tenant.local_day()
    totals = Totals()
    for group in _sums(UsageRollup.objects.filter(tenant=tenant, day=day), "status"):
        totals.add(status=group["status"], calls=group["n"], tokens=group["token_sum"],
                   cost_micros=group["cost_sum"])  # fmt: skip
    daily, used = budget_state(tenant=tenant, day=day).daily, totals.cost_usd
    return {
        "tenantId": tenant.id,
        "date": day,
        "plan": tenant.plan_id,
        "calls": totals.calls,
        "tokens": totals.tokens,
        "costUsd": used,
        "budget": {
            "daily": daily,
            "used": used,
            "remaining": max(Decimal(0), daily - used),
            "percentUsed": percent_used(used=used, daily=daily),
        },
    }


def usage_history(*, tenant: Tenant | None, days: int) -> dict:
    """The last `days` local days, today included (CONTRACT §4 /admin/ai/usage).

    Without a tenant: the whole platform, each tenant's rows on its own local dates, and
    `byTenant` ranked by cost.
    """
    to = tenant.local_day() if tenant else platform_today()
    since = to - timedelta(days=days - 1)
    rollups = UsageRollup.objects.filter(day__range=(since, to))
    if tenant is not None:
        rollups = rollups.filter(tenant=tenant)
    summary, by_feature, by_model = Totals(), {}, {}
    by_day = {since + timedelta(days=offset): Totals() for offset in range(days)}
    for group in _sums(rollups, "day", "feature", "model", "status"):
        amounts = dict(status=group["status"], calls=group["n"], tokens=group["token_sum"],
                       cost_micros=group["cost_sum"])  # fmt: skip
        for totals in (
            summary,
            by_feature.setdefault(group["feature"], Totals()),
            by_model.setdefault(group["model"], Totals()),
            by_day[group["day"]],
        ):
            totals.add(**amounts)
    history = {
        "tenantId": tenant.id if tenant else None,
        "from": since,
        "to": to,
        "summary": {
            "totalCalls": summary.all_calls,
            "totalTokens": summary.tokens,
            "totalCostUsd": summary.cost_usd,
            "successCalls": summary.calls,
            "blockedCalls": summary.blocked_calls,
            "errorCalls": summary.error_calls,
        },
        "byFeature": {name: totals.as_json() for name, totals in sorted(by_feature.items())},
        "byModel": {alias: totals.as_json() for alias, totals in sorted(by_model.items())},
        "byDay": [{"date": day, **totals.as_json()} for day, totals in by_day.items()],
    }
    if tenant is None:
        history["byTenant"] = _by_tenant(rollups)
    return history


def _by_tenant(rollups) -> list[dict]:
    # Aggregated per tenant first, then named: letting the ORM group by the joined tenant
    # columns makes PostgreSQL join every rollup row before grouping (3x slower at 10M rows).
    ranked = list(
        rollups.values("tenant_id")
        .annotate(
            successes=Sum(Case(When(status=Status.SUCCESS, then=F("calls")), default=0)),
            token_sum=Sum("tokens"),
            cost_sum=Sum("cost_micros"),
        )
        .order_by("-cost_sum", "tenant_id")
    )
    names = {
        tenant_id: (name, plan)
        for tenant_id, name, plan in Tenant.objects.filter(
            pk__in=[row["tenant_id"] for row in ranked]
        ).values_list("id", "name", "plan_id")
    }
    return [
        {
            "tenantId": row["tenant_id"],
            "name": names[row["tenant_id"]][0],
            "plan": names[row["tenant_id"]][1],
            "calls": row["successes"],
            "tokens": row["token_sum"],
            "costUsd": from_micros(row["cost_sum"]),
        }
        for row in ranked
    ]
