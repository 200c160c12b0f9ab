"""Reads of the hard cap's state: a tenant-day's budget, spend and holds, for one tenant or a
page of them. The budget of a day is the tenant's daily budget plus that day's top-ups."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from keybuzz.tenants.models import Tenant

from .models import BudgetCounter
from .pricing import from_micros, to_micros


@dataclass(frozen=True)
class BudgetState:
    """A tenant-day's budget as the API shows it; `daily_micros` includes the day's top-ups."""

    daily_micros: int
    spent_micros: int
    reserved_micros: int
    granted_micros: int = 0

    @classmethod
    def of(cls, tenant: Tenant, spent: int = 0, reserved: int = 0, granted: int = 0):
        return cls(to_micros(tenant.daily_budget) + granted, spent, reserved, granted)

    def admits(self, amount_micros: int) -> bool:
        return self.spent_micros + self.reserved_micros + amount_micros <= self.daily_micros

    @property
    def daily(self) -> Decimal:
        return from_micros(self.daily_micros)

    @property
    def used(self) -> Decimal:
        return from_micros(self.spent_micros)

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.daily - self.used)

    def as_json(self, *, allowed: bool) -> dict:
        return {
            "dailyBudget": self.daily,
            "used": self.used,
            "reserved": from_micros(self.reserved_micros),
            "remaining": self.remaining,
            "allowed": allowed,
        }


_COUNTER_COLUMNS = ("spent_micros", "reserved_micros", "granted_micros")


def budget_state(*, tenant: Tenant, day: date) -> BudgetState:
    """The tenant-day's counter: one fixed statement on its unique index (the status endpoint
    and every refusal read it; keybuzz.fixed_sql explains why not a QuerySet)."""
    with connection.cursor() as cursor:
        cursor.execute(_COUNTER_OF_DAY, [tenant.id, day])
        counter = cursor.fetchone()
    return BudgetState.of(tenant, *(counter or ()))


_COUNTER_OF_DAY = (
    f"SELECT {', '.join(_COUNTER_COLUMNS)} "  # noqa: S608 (names from _meta)
    f'FROM "{BudgetCounter._meta.db_table}" WHERE "tenant_id" = %s AND "day" = %s'
)


def budget_states_today(
    *, tenants: Sequence[Tenant], now: datetime | None = None
) -> dict[str, BudgetState]:
    """Each tenant's state on its own local day, from one query whatever the number of tenants
    (pages that list tenants). Load the tenants with their plan (select_related)."""
    days = {tenant.id: tenant.local_day(now) for tenant in tenants}
    counters = {
        (tenant_id, day): values
        for tenant_id, day, *values in BudgetCounter.objects.filter(
            tenant_id__in=days, day__in=set(days.values())
        ).values_list("tenant_id", "day", *_COUNTER_COLUMNS)
    }
    return {
        tenant.id: BudgetState.of(tenant, *counters.get((tenant.id, days[tenant.id]), ()))
        for tenant in tenants
    }


def days_that_may_be_today(now: datetime | None = None) -> list[date]:
    """Every timezone's local today (UTC-12 to UTC+14) is UTC's yesterday, today or tomorrow:
    the only counter days a "today" view across tenants needs to read."""
    utc_day = (now or timezone.now()).astimezone(UTC).date()
    return [utc_day + timedelta(days=offset) for offset in (-1, 0, 1)]


def tenant_ids_using_at_least(*, percent: Decimal, now: datetime | None = None) -> list[str]:
    """Tenants that have spent `percent` of today's budget or more (each on its own local day,
    top-ups included), in two queries whatever the number of tenants."""
    now = now or timezone.now()
    spending = BudgetCounter.objects.filter(day__in=days_that_may_be_today(now), spent_micros__gt=0)
    tenants = Tenant.objects.filter(pk__in=spending.values("tenant_id")).select_related("plan")
    states = budget_states_today(tenants=list(tenants), now=now)
    return [
        tenant_id
        for tenant_id, state in states.items()
        if state.spent_micros * 100 >= percent * state.daily_micros  # exact, even for 0
    ]
