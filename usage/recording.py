"""The one recording path for AI usage: the API, seed_demo and generate_usage all write here.

In the transaction that inserts the ai_usage rows it also adds them to what is derived from
them, the daily rollups and the budget counters' `spent`, so those are exact by construction,
and announces what it moved (usage.signals.usage_recorded: cost alerts listen, in the same
transaction, so an alert exists exactly when its rows do).
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

from keybuzz import fixed_sql
from tenants.models import Tenant

from .exceptions import BudgetExceeded
from .metrics import usage_rows_count_on_commit
from .models import AIUsage, BudgetCounter, UsageRollup
from .pricing import to_micros
from .rollups import RollupSums
from .signals import usage_recorded

# Batches this large go to PostgreSQL with COPY, an order of magnitude faster than INSERT.
COPY_THRESHOLD = 1000
_COLUMNS = (
    "id", "tenant_id", "user_id", "feature", "provider", "model", "prompt_tokens",
    "completion_tokens", "total_tokens", "cost_usd_est", "status", "error_code", "request_id",
    "created_at", "default_model", "route_reason", "max_tokens", "upstream_model",
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
    # Routing (CONTRACT §8): the plan's default model ("" = `model`), why `model` was called,
    # the max_tokens sent, the model LiteLLM answered with, and what the tokens would have cost
    # at the default model (None: the cost itself): what routing saved is the difference, which
    # the rollups keep.
    default_model: str = ""
    route_reason: str = "default"
    max_tokens: int | None = None
    upstream_model: str = ""
    default_cost_usd: Decimal | None = None


def usage_id_new() -> str:
    """A unique id that sorts by creation time, which keeps the primary-key index compact."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def usage_record(*, entry: UsageEntry, released_micros: int = 0) -> AIUsage:
    """Record one request's row (see usage_record_many); a live call: its day may alert.

    `released_micros` is the hold of the reservation this row settles (usage.budget): the
    statement that adds the row's cost to the day's counter also takes the hold off it.
    """
    row = _record([entry], live=True, released_micros=released_micros)[0]
    return AIUsage(**dict(zip(_COLUMNS, row, strict=True)))


def usage_record_many(*, entries: Sequence[UsageEntry]) -> int:
    """Record a batch: the rows, their rollups and their spend, all of it or none of it.

    History it backfills raises no alert: only the tenants' current local day may.
    """
    return len(_record(entries, live=False))


def _record(entries: Sequence[UsageEntry], *, live: bool, released_micros: int = 0) -> list[tuple]:
    now = timezone.now()
    rows: list[tuple] = []
    sums = RollupSums()
    released: dict[tuple[str, date], int] = defaultdict(int)
    tenants: dict[str, Tenant] = {}  # of the tenant-days that moved or were refused
    refused: set[tuple[str, date]] = set()  # tenant-days with a row refused by the budget
    for entry in entries:
        created_at = entry.created_at or now
        day = entry.day or entry.tenant.local_day(created_at)
        tokens = entry.prompt_tokens + entry.completion_tokens
        cost = to_micros(entry.cost_usd)
        rows.append((
            entry.id or usage_id_new(), entry.tenant.id, entry.user_id, entry.feature,
            entry.provider, entry.model, entry.prompt_tokens, entry.completion_tokens, tokens,
            entry.cost_usd, entry.status, entry.error_code, entry.request_id, created_at,
            entry.default_model or entry.model, entry.route_reason, entry.max_tokens,
            entry.upstream_model,
        ))  # fmt: skip
        sums.add(
            tenant_id=entry.tenant.id, day=day, feature=entry.feature, model=entry.model,
            status=entry.status, tokens=tokens, cost_micros=cost,
            default_cost_micros=to_micros(
                entry.cost_usd if entry.default_cost_usd is None else entry.default_cost_usd
            ),
        )  # fmt: skip
        if released_micros:
            released[entry.tenant.id, day] += released_micros
        if cost:
            tenants[entry.tenant.id] = entry.tenant
        elif entry.error_code == BudgetExceeded.reason and entry.status == AIUsage.Status.BLOCKED:
            refused.add((entry.tenant.id, day))
            tenants[entry.tenant.id] = entry.tenant
    spent = sums.spent
    # savepoint=False: inside a caller's transaction this adds no SAVEPOINT round trips; a
    # failure still aborts everything, which is what "all or none" asks for.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        _insert_rows(cursor, rows)
        # Counters before rollups, each in sorted order: the order in which settling a call
        # (usage.budget) and rebuilding (usage.rebuild) lock them too, so writers never deadlock.
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
            cursor,
            _ROLLUP_UPSERT,
            [(*key, *totals) for key, totals in sorted(sums.rollups.items())],
        )
        if moved or refused:
            usage_recorded.send(
                sender=AIUsage, spend_moved=moved, budget_refused=refused, tenants=tenants,
                now=now, live=live,
            )  # fmt: skip
        usage_rows_count_on_commit(entries)  # the metrics move only if these rows commit
    return rows


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
    "(tenant_id, day, feature, model, status, calls, tokens, cost_micros, saved_micros) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (tenant_id, day, feature, model, status) DO UPDATE SET "
    f"calls = {_ROLLUP_TABLE}.calls + excluded.calls, "
    f"tokens = {_ROLLUP_TABLE}.tokens + excluded.tokens, "
    f"cost_micros = {_ROLLUP_TABLE}.cost_micros + excluded.cost_micros, "
    f"saved_micros = {_ROLLUP_TABLE}.saved_micros + excluded.saved_micros"
)
