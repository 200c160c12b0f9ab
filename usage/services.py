"""The one recording path for AI usage: the API, seed_demo and generate_usage all write here.

In the transaction that inserts the ai_usage rows it also adds them to what is derived from
them, the daily rollups and the budget counters' `spent`, so those are exact by construction,
and raises the cost alerts those rows cause (alerts.detection: the outbox).
"""

import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from ai.models import BudgetCounter
from ai.pricing import to_micros
from alerts.detection import (
    BLOCKED_BY_BUDGET,
    alerts_day_watched,
    alerts_detect_blocked,
    alerts_detect_spend,
)
from keybuzz import fixed_sql
from keybuzz.metrics import usage_rows_count_on_commit
from keybuzz.tenants.models import Tenant

from .models import AIUsage, UsageRollup

# Batches this large go to PostgreSQL with COPY, an order of magnitude faster than INSERT.
COPY_THRESHOLD = 1000
_COLUMNS = (
    "id", "tenant_id", "user_id", "feature", "provider", "model", "prompt_tokens",
    "completion_tokens", "total_tokens", "cost_usd_est", "status", "error_code", "request_id",
    "created_at",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class UsageEntry:
    """What happened to one request, as the recording service takes it."""

    tenant: Tenant
    feature: str
    provider: str
    model: str
    status: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    user_id: str | None = None
    error_code: str | None = None
    request_id: str | None = None
    created_at: datetime | None = None
    day: date | None = None  # the budget day; by default the tenant's day at created_at
    id: str | None = None
    # The hold of the reservation this row settles (ai.budget), released from the day's counter
    # by the same statement that adds the row's cost to it.
    released_micros: int = 0


def usage_id_new() -> str:
    """A unique id that sorts by creation time, which keeps the primary-key index compact."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def usage_record(*, entry: UsageEntry) -> AIUsage:
    """Record one request's row (see usage_record_many); a live call: its day may alert."""
    return AIUsage(**dict(zip(_COLUMNS, _record([entry], live=True)[0], strict=True)))


def usage_record_many(*, entries: Sequence[UsageEntry]) -> int:
    """Record a batch: the rows, their rollups and their spend, all of it or none of it.

    History it backfills raises no alert: only the tenants' current local day may.
    """
    return len(_record(entries, live=False))


def _record(entries: Sequence[UsageEntry], *, live: bool) -> list[tuple]:
    now = timezone.now()
    rows: list[tuple] = []
    rollups: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    spent: dict[tuple[str, date], int] = defaultdict(int)
    released: dict[tuple[str, date], int] = defaultdict(int)
    tenants: dict[str, Tenant] = {}  # of the tenant-days that may alert
    blocked: set[tuple[str, date]] = set()  # tenant-days with a row refused by the budget
    for entry in entries:
        created_at = entry.created_at or now
        day = entry.day or entry.tenant.local_day(created_at)
        tokens = entry.prompt_tokens + entry.completion_tokens
        cost = to_micros(entry.cost_usd)
        rows.append((
            entry.id or usage_id_new(), entry.tenant.id, entry.user_id, entry.feature,
            entry.provider, entry.model, entry.prompt_tokens, entry.completion_tokens, tokens,
            entry.cost_usd, entry.status, entry.error_code, entry.request_id, created_at,
        ))  # fmt: skip
        rollup = rollups[entry.tenant.id, day, entry.feature, entry.model, entry.status]
        rollup[0] += 1
        rollup[1] += tokens
        rollup[2] += cost
        if entry.released_micros:
            released[entry.tenant.id, day] += entry.released_micros
        if cost:
            spent[entry.tenant.id, day] += cost
            tenants[entry.tenant.id] = entry.tenant
        elif entry.error_code == BLOCKED_BY_BUDGET and entry.status == AIUsage.Status.BLOCKED:
            blocked.add((entry.tenant.id, day))
            tenants[entry.tenant.id] = entry.tenant
    # savepoint=False: inside a caller's transaction this adds no SAVEPOINT round trips; a
    # failure still aborts everything, which is what "all or none" asks for.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        _insert_rows(cursor, rows)
        # Counters before rollups, each in sorted order: the order in which settling a call
        # (ai.budget) and rebuilding (usage.rebuild) lock them too, so writers never deadlock.
        moved = {}
        for tenant_id, day in sorted(spent.keys() | released.keys()):
            amount = spent.get((tenant_id, day), 0)
            after, granted = BudgetCounter.objects.add_spent(
                tenant_id=tenant_id,
                day=day,
                amount=amount,
                released=released.get((tenant_id, day), 0),
            )
            if amount:
                moved[tenant_id, day] = (after - amount, after, granted)
        fixed_sql.execute_rows(
            cursor, _ROLLUP_UPSERT, [(*key, *totals) for key, totals in sorted(rollups.items())]
        )
        _alerts_detect(tenants, moved, blocked, now=now, live=live)
        usage_rows_count_on_commit(entries)  # the metrics move only if these rows commit
    return rows


def _alerts_detect(tenants, moved: dict, blocked: set, *, now: datetime, live: bool) -> None:
    """Raise the alerts of the tenant-days this write moved (no query unless one is due)."""
    for tenant_id, day in sorted(moved.keys() | blocked):
        tenant = tenants[tenant_id]
        if not alerts_day_watched(tenant=tenant, day=day, now=now, live=live):
            continue
        if (tenant_id, day) in blocked:
            alerts_detect_blocked(tenant=tenant, day=day)
        if (tenant_id, day) in moved:
            before, after, granted = moved[tenant_id, day]
            alerts_detect_spend(
                tenant=tenant,
                day=day,
                before_micros=before,
                after_micros=after,
                granted_micros=granted,
            )


def _insert_rows(cursor, rows: list[tuple]) -> None:
    if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
        columns = ", ".join(_COLUMNS)
        with cursor.cursor.copy(f"COPY {AIUsage._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        fixed_sql.insert_rows(AIUsage, _COLUMNS, rows)


_ROLLUP_TABLE = UsageRollup._meta.db_table
_ROLLUP_UPSERT = (
    f"INSERT INTO {_ROLLUP_TABLE} "  # noqa: S608 (a constant table name)
    "(tenant_id, day, feature, model, status, calls, tokens, cost_micros) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (tenant_id, day, feature, model, status) DO UPDATE SET "
    f"calls = {_ROLLUP_TABLE}.calls + excluded.calls, "
    f"tokens = {_ROLLUP_TABLE}.tokens + excluded.tokens, "
    f"cost_micros = {_ROLLUP_TABLE}.cost_micros + excluded.cost_micros"
)
