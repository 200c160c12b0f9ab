"""Rebuild the usage rollups and the budget counters' spend from the ai_usage rows.

usage.recording keeps both exact by construction; this finds, and repairs, what went wrong
anyway: a row edited or deleted by hand, a row inserted around the service, a restore. A row
counts on the tenant's local day of its `created_at` (CONTRACT §5), like the recording service.

Days before the latest retention purge are never touched: their rows were deleted on purpose
and the rollups are the only history left.
"""

import time as clock
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from django.db import OperationalError, connection, transaction
from django.db.models import Max

from tenants.models import ModelPrice, Tenant
from usage.models import BudgetCounter
from usage.pricing import cost_usd, from_micros, to_micros

from .models import AIUsage, UsagePurge, UsageRollup
from .rollups import RollupSums

CHUNK_SIZE = 5000
# No timezone is more than 14 h ahead of UTC, so rows of local days from `start` on were all
# created after `start` 00:00 UTC minus a day; the exact local day is then decided in Python.
LOCAL_DAY_MARGIN = timedelta(days=1)
# PostgreSQL gave up a snapshot transaction (serialization failure, deadlock): retry it.
CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})
ATTEMPTS = 5


class Totals(NamedTuple):
    calls: int
    tokens: int
    cost_micros: int

    def __str__(self) -> str:
        return f"{self.calls} calls, {self.tokens} tokens, ${from_micros(self.cost_micros)}"


RollupKey = tuple[date, str, str, str]  # day, feature, model, status


@dataclass(frozen=True, kw_only=True)
class RollupDifference:
    tenant_id: str
    day: date
    feature: str
    model: str
    status: str
    old: Totals | None  # None: no rollup stored
    new: Totals | None  # None: no rows
    saved_micros: int = 0  # what a rewritten rollup is given as saved by routing

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def __str__(self) -> str:
        return (
            f"{self.tenant_id} {self.day} rollup {self.feature}/{self.model}/{self.status} "
            f"{self.kind}: {self.old or '-'} → {self.new or '-'}"
        )


@dataclass(frozen=True, kw_only=True)
class CounterDifference:
    tenant_id: str
    day: date
    old: int | None  # spent micro-dollars; None: no counter row
    new: int

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "changed"

    def __str__(self) -> str:
        old = "-" if self.old is None else f"${from_micros(self.old)}"
        return (
            f"{self.tenant_id} {self.day} budget counter {self.kind}: "
            f"spent {old} → ${from_micros(self.new)}"
        )


@dataclass(kw_only=True)
class RebuildReport:
    check: bool
    tenants: int = 0
    rows: int = 0
    purged_before: date | None = None  # days before it were left as they are
    rollups: list[RollupDifference] = field(default_factory=list)
    counters: list[CounterDifference] = field(default_factory=list)

    @property
    def differences(self) -> list[RollupDifference | CounterDifference]:
        return sorted([*self.rollups, *self.counters], key=lambda d: (d.tenant_id, d.day))


class RebuildConflict(Exception):
    """A tenant's usage kept changing under the repair; running it again is safe."""


def rollups_rebuild(
    *, tenant: Tenant | None = None, since: date | None = None, check: bool = False
) -> RebuildReport:
    """Compare every tenant's (or one tenant's) rollups and counters with its rows, and repair.

    Covers local days from `since` (default: all), never before the latest purge. With
    `check`, only reports. The repair writes only what differs and never `reserved_micros`.
    """
    report = RebuildReport(check=check)
    for each in [tenant] if tenant is not None else list(Tenant.objects.order_by("id")):
        _tenant_rebuild(report, tenant=each, since=since)
    return report


def _tenant_rebuild(report: RebuildReport, *, tenant: Tenant, since: date | None) -> None:
    """Read the rows and the stored figures in one snapshot; write the repair in it too.

    Recording goes on meanwhile. On PostgreSQL the snapshot is REPEATABLE READ: rows recorded
    after it are invisible to the comparison, and writing a rollup or counter that one of them
    changed fails with a serialization error instead of overwriting it; the tenant is then
    compared again. Inside a caller's transaction the caller's isolation applies, no retry.
    """
    owns_transaction = not connection.in_atomic_block
    if owns_transaction:
        connection.close_if_health_check_failed()  # its probe must not open the snapshot
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if owns_transaction and connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                rows, rollups, counters = _compare(report, tenant=tenant, since=since)
                if not report.check and (rollups or counters):
                    _repair(tenant=tenant, rollups=rollups, counters=counters)
        except OperationalError as exc:
            if not owns_transaction or not _is_conflict(exc):
                raise
            if attempt == ATTEMPTS:
                raise RebuildConflict(
                    f"the usage of tenant '{tenant.id}' kept changing during the rebuild "
                    f"({ATTEMPTS} attempts); run it again"
                ) from exc
            clock.sleep(0.05 * attempt)
            continue
        report.tenants += 1
        report.rows += rows
        report.rollups += rollups.values()
        report.counters += counters
        return


def _is_conflict(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in CONFLICT_SQLSTATES


def _compare(
    report: RebuildReport, *, tenant: Tenant, since: date | None
) -> tuple[int, dict[RollupKey, RollupDifference], list[CounterDifference]]:
    purged_before = UsagePurge.objects.aggregate(before=Max("before"))["before"]
    report.purged_before = purged_before
    start = max((d for d in (since, purged_before) if d is not None), default=None)
    rows, new_rollups, new_spent, saved = _recompute(tenant=tenant, start=start)
    stored = UsageRollup.objects.filter(tenant=tenant)
    counters = BudgetCounter.objects.filter(tenant=tenant)
    if start is not None:
        stored, counters = stored.filter(day__gte=start), counters.filter(day__gte=start)
    old_rollups = {
        (day, feature, model, status): Totals(*totals)
        for day, feature, model, status, *totals in stored.values_list(
            "day", "feature", "model", "status", "calls", "tokens", "cost_micros"
        )
    }
    old_spent = dict(counters.values_list("day", "spent_micros"))
    rollups = {
        key: RollupDifference(
            tenant_id=tenant.id,
            **dict(zip(("day", "feature", "model", "status"), key, strict=True)),
            old=old_rollups.get(key),
            new=new_rollups.get(key),
            saved_micros=saved.get(key, 0),
        )
        for key in sorted(old_rollups.keys() | new_rollups.keys())
        if old_rollups.get(key) != new_rollups.get(key)
    }
    counter_differences = [
        CounterDifference(tenant_id=tenant.id, day=day, old=old_spent.get(day), new=spent)
        for day in sorted(old_spent.keys() | new_spent.keys())
        if (spent := new_spent.get(day, 0)) != old_spent.get(day, 0)
    ]
    return rows, rollups, counter_differences


def _recompute(
    *, tenant: Tenant, start: date | None
) -> tuple[int, dict[RollupKey, Totals], dict[date, int], dict[RollupKey, int]]:
    """What recording the tenant's rows of days from `start` on adds up to (usage.recording),
    and what routing saved on them at today's prices (a row keeps its tokens, not the prices
    of its day: a rollup that is rewritten is given that; one that is right keeps its own)."""
    prices = ModelPrice.objects.in_bulk()
    rows = AIUsage.objects.filter(tenant=tenant).order_by()
    if start is not None:
        rows = rows.filter(
            created_at__gte=datetime.combine(start, time.min, tzinfo=UTC) - LOCAL_DAY_MARGIN
        )
    sums = RollupSums()
    count = 0
    for created_at, feature, model, status, cost, default, prompt, completion in rows.values_list(
        "created_at", "feature", "model", "status", "cost_usd_est", "default_model",
        "prompt_tokens", "completion_tokens",
    ).iterator(chunk_size=CHUNK_SIZE):  # fmt: skip
        day = tenant.local_day(created_at)
        if start is not None and day < start:
            continue
        price = prices.get(default or model)
        at_default = cost_usd(price=price, prompt_tokens=prompt, completion_tokens=completion)
        sums.add(tenant_id=tenant.id, day=day, feature=feature, model=model, status=status,
                 tokens=prompt + completion, cost_micros=to_micros(cost),
                 default_cost_micros=to_micros(at_default if price else cost))  # fmt: skip
        count += 1
    totals = {key[1:]: Totals(*value[:3]) for key, value in sums.rollups.items()}
    saved = {key[1:]: value[3] for key, value in sums.rollups.items()}
    return count, totals, {day: spent for (_, day), spent in sums.spent.items()}, saved


def _repair(
    *,
    tenant: Tenant,
    rollups: dict[RollupKey, RollupDifference],
    counters: list[CounterDifference],
) -> None:
    # Counters first, by day: the order settling a call locks them in (counter, then its
    # rollups), so a concurrent settle waits for the repair instead of deadlocking with it.
    days = sorted({key[0] for key in rollups} | {c.day for c in counters})
    list(
        BudgetCounter.objects.select_for_update()
        .filter(tenant=tenant, day__in=days)
        .order_by("day")
        .values_list("id", flat=True)
    )
    UsageRollup.objects.bulk_create(
        [
            UsageRollup(tenant=tenant, day=d.day, feature=d.feature, model=d.model,
                        status=d.status, saved_micros=d.saved_micros, **d.new._asdict())
            for d in rollups.values()
            if d.new is not None
        ],
        update_conflicts=True,
        unique_fields=["tenant", "day", "feature", "model", "status"],
        update_fields=["calls", "tokens", "cost_micros", "saved_micros"],
    )  # fmt: skip
    for key, difference in rollups.items():
        if difference.new is None:
            day, feature, model, status = key
            UsageRollup.objects.filter(
                tenant=tenant, day=day, feature=feature, model=model, status=status
            ).delete()
    # Only spent_micros is written: reserved_micros belongs to the calls in flight.
    BudgetCounter.objects.bulk_create(
        [BudgetCounter(tenant=tenant, day=c.day, spent_micros=c.new) for c in counters],
        update_conflicts=True,
        unique_fields=["tenant", "day"],
        update_fields=["spent_micros"],
    )
