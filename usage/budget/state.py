"""Reads of the hard cap's state: a tenant-day's budget, spend and holds, for one tenant or for
many at once. No SUM over ai_usage: the tenant-day counters answer in one indexed read."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from keybuzz import fixed_sql
from tenants.models import ModelPrice, Plan, Tenant
from usage.models import BudgetCounter
from usage.pricing import from_micros

from .rule import BudgetState, minimal_call_micros_on_plan, plan_aliases

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


def budget_state_and_prices(
    *, tenant: Tenant, day: date, aliases: Sequence[str]
) -> tuple[BudgetState, dict[str, ModelPrice]]:
    """The tenant-day's budget and the prices of `aliases`, in one fixed statement: what the
    routing decision reads (CONTRACT §8: at most one statement more per call)."""
    marks = ", ".join(["%s"] * len(aliases))
    with connection.cursor() as cursor:
        cursor.execute(_STATE_AND_PRICES.format(marks=marks), [tenant.id, day, *aliases])
        rows = cursor.fetchall()
    prices = {}
    counter = ()
    for row in rows:
        price = fixed_sql.from_row(ModelPrice, row[:_PRICE_COLUMNS])
        prices[price.alias] = price
        counter = tuple(value for value in row[_PRICE_COLUMNS:] if value is not None)
    return BudgetState.of(tenant, *counter), prices


_PRICE_COLUMNS = fixed_sql.column_count(ModelPrice)
_STATE_AND_PRICES = (
    f"SELECT {fixed_sql.columns(ModelPrice, 'm')}, "  # noqa: S608 (names from _meta)
    + ", ".join(f'c."{column}"' for column in _COUNTER_COLUMNS)
    + f' FROM "{ModelPrice._meta.db_table}" m LEFT JOIN "{BudgetCounter._meta.db_table}" c '
    + 'ON c."tenant_id" = %s AND c."day" = %s WHERE m."alias" IN ({marks})'
)


def plan_prices(*, plans) -> dict[str, ModelPrice]:
    """The prices of every alias these plans may use, in one query."""
    aliases = {alias for plan in plans for alias in plan_aliases(plan)}
    return ModelPrice.objects.in_bulk(aliases)


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


def budget_counter_state(counter: BudgetCounter) -> BudgetState:
    """The state a counter row stands for (load it with its tenant and plan)."""
    return BudgetState.of(
        counter.tenant, counter.spent_micros, counter.reserved_micros, counter.granted_micros
    )


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


def budget_reached_today(*, now: datetime | None = None) -> dict[str, BudgetState]:
    """The tenants to which a minimal request would be refused for budget right now, with
    their state, by tenant id: asked of the rule, tenant by tenant.

    The candidates are the tenants with something spent or held today (one query, each on its
    own local day) and those whose budget alone is below the largest minimal call of any model.
    """
    now = now or timezone.now()
    plans = list(Plan.objects.all())
    prices = plan_prices(plans=plans)
    minimal = {plan.code: minimal_call_micros_on_plan(plan=plan, prices=prices) for plan in plans}
    counters = (
        BudgetCounter.objects.filter(day__in=days_that_may_be_today(now))
        .filter(Q(spent_micros__gt=0) | Q(reserved_micros__gt=0))
        .select_related("tenant__plan")
    )
    states = {
        counter.tenant_id: (counter.tenant, budget_counter_state(counter))
        for counter in counters
        if counter.day == counter.tenant.local_day(now)
    }
    small = from_micros(max(minimal.values(), default=0) + 1)  # below it: blocked at 0 spent
    tiny = Tenant.objects.filter(
        Q(daily_budget_override__lt=small)
        | Q(daily_budget_override__isnull=True, plan__daily_budget_usd__lt=small)
    ).exclude(pk__in=states)
    tiny = {tenant.id: tenant for tenant in tiny.select_related("plan")}
    for tenant_id, state in budget_states_today(tenants=list(tiny.values()), now=now).items():
        states[tenant_id] = (tiny[tenant_id], state)
    return {
        tenant_id: state
        for tenant_id, (tenant, state) in states.items()
        if not state.admits(minimal[tenant.plan_id])
    }
