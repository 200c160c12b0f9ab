"""Synthetic usage for load tests and benchmarks (`manage.py generate_usage`).

Tenants `synthetic-0001`… (plans round-robin, a few timezones) get `rows` ai_usage rows spread
over their last `days` local days, today so far included, written chunk by chunk through the
one recording service, so rollups and budget counters match the rows by construction.

The budget holds by the rule of usage.budget (as in console/demo.py): a success that the rule
would not admit on its tenant-day (top-ups included) is recorded as blocked at $0. It is
decided inside each chunk's transaction with the
tenant-day counters locked, against what is already spent and reserved (earlier runs, the API,
calls in flight), so a reservation taken meanwhile waits for the chunk and then sees its spend.

Deterministic for a seed and a clock (`now`); the chunk size changes nothing but the batching.
Row ids carry the clock's millisecond, so runs at different moments never collide.
"""

# ruff: noqa: S311 (pseudo-random on purpose: synthetic data, reproducible from a seed)

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from itertools import repeat

from django.db import transaction
from django.utils import timezone

from tenants.models import ModelPrice, Plan, Tenant
from tenants.services import tenant_create
from usage.models import BudgetCounter
from usage.pricing import from_micros, to_micros

from .budget import budget_admits
from .recording import UsageEntry, usage_record_many

TENANT_PREFIX = "synthetic-"
MAX_TENANTS = 9999  # ids keep four digits, so they sort in creation order
MAX_DAYS = 3650
DEFAULT_CHUNK_SIZE = 50_000
PLANS = ("starter", "pro", "autopilot")
PLAN_ACTIVITY = {"starter": 1.0, "pro": 2.0, "autopilot": 4.0}  # bigger plans, more calls
TIMEZONES = ("Europe/Paris", "America/New_York", "UTC", "Asia/Tokyo")
FEATURES, FEATURE_CUM_WEIGHTS = ("assist", "autopilot", "journal"), (75, 90, 100)
# About 3 % of calls fail upstream (None: no error), as in the demo history.
OUTCOMES = (None, "upstream_timeout", "upstream_error", "upstream_rate_limited")
OUTCOME_CUM_WEIGHTS = (970, 980, 990, 1000)
PROMPT_TOKENS, COMPLETION_TOKENS = range(150, 1501), range(40, 451)
PIECE_ROWS = 10_000  # a busy tenant-day is drawn in time slices this large: bounded memory
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000
_PP, _HALF = 1_000_000, 500_000  # millionths of a micro-dollar in one; half of that
SUCCESS, BLOCKED, ERROR = "success", "blocked", "error"


@dataclass
class GenerationReport:
    """What a run did: tenants, rows by outcome, their cost and how long it took."""

    tenants_created: int = 0
    tenants_reused: int = 0
    rows: int = 0
    success: int = 0
    blocked: int = 0
    errors: int = 0
    cost_micros: int = 0
    seconds: float = 0.0

    @property
    def cost_usd(self) -> Decimal:
        return from_micros(self.cost_micros)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class _Cell:
    """One tenant-day: its model alias, its prices and its budget state in integers."""

    __slots__ = ("alias", "budget", "day", "granted", "held", "input_pp", "output_pp", "tenant")

    def __init__(self, tenant: Tenant, day: date):
        price: ModelPrice = tenant.plan.model
        self.tenant, self.day, self.alias = tenant, day, price.alias
        # Prices have 6 decimals, so in millionths of a micro-dollar per token they are exact
        # integers and a cost is exact integer arithmetic (usage.pricing.cost_usd, half-up).
        self.input_pp = int(price.input_usd_per_million.scaleb(6))
        self.output_pp = int(price.output_usd_per_million.scaleb(6))
        self.budget = to_micros(tenant.daily_budget)
        # What the day already holds (spent + reserved) and its top-ups: read under lock for
        # each chunk, then moved by the chunk's successes.
        self.held = self.granted = 0


def synthetic_tenants_ensure(*, count: int) -> tuple[list[Tenant], int]:
    """synthetic-0001…synthetic-<count>, created if missing; returns them and how many new."""
    ids = [f"{TENANT_PREFIX}{number:04d}" for number in range(1, count + 1)]
    found = Tenant.objects.select_related("plan__model").in_bulk(ids)
    plans = Plan.objects.select_related("model").in_bulk(PLANS)
    created = 0
    with transaction.atomic():
        for index, tenant_id in enumerate(ids):
            if tenant_id not in found:
                zone = TIMEZONES[index % len(TIMEZONES)]
                found[tenant_id] = tenant_create(
                    tenant_id=tenant_id,
                    name=f"Synthetic Shop {index + 1:04d}",
                    plan=plans[PLANS[index % len(PLANS)]],
                    timezone=zone,
                    language="fr" if zone == "Europe/Paris" else "en",
                )
                created += 1
    return [found[tenant_id] for tenant_id in ids], created


def usage_generate(
    *,
    tenants: int,
    rows: int,
    days: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> GenerationReport:
    """Record `rows` synthetic usage rows over `tenants` tenants and their last `days` days."""
    if not (1 <= tenants <= MAX_TENANTS and rows >= 1 and 1 <= days <= MAX_DAYS):
        raise ValueError("tenants, rows and days must be positive (see MAX_TENANTS, MAX_DAYS)")
    started = time.monotonic()
    now = now or timezone.now()
    report = GenerationReport()
    population, report.tenants_created = synthetic_tenants_ensure(count=tenants)
    report.tenants_reused = tenants - report.tenants_created
    rng = random.Random(seed)
    weights = [PLAN_ACTIVITY.get(t.plan_id, 1.0) * rng.lognormvariate(0, 0.6) for t in population]
    per_tenant = _apportion(rows, weights, minimum=days if rows >= tenants * days else 1)
    writer = _ChunkWriter(report, now=now, chunk_size=chunk_size, progress=progress, total=rows)
    for tenant, tenant_rows in zip(population, per_tenant, strict=True):
        for cell, start_us, span_us, count in _cells(tenant, tenant_rows, days, now, seed):
            cell_rng = random.Random(f"{seed}/{tenant.id}/{cell.day.isoformat()}")
            pieces = math.ceil(count / PIECE_ROWS)
            for piece, piece_rows in enumerate(_apportion(count, [1.0] * pieces)):
                low = start_us + span_us * piece // pieces
                high = start_us + span_us * (piece + 1) // pieces
                writer.add(cell, _draw(cell_rng, piece_rows, low, max(high - low, 1)))
    writer.flush()
    report.seconds = time.monotonic() - started
    return report


def _cells(tenant: Tenant, count: int, days: int, now: datetime, seed: int):
    """(cell, window start, window length, rows) for the tenant's last `days` local days."""
    zone, today, now_us = tenant.zone, tenant.local_day(now), _epoch_us(now)
    rng = random.Random(f"{seed}/{tenant.id}")
    windows, weights = [], []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        start = _epoch_us(datetime.combine(day, clock.min, zone))
        end = _epoch_us(datetime.combine(day + timedelta(days=1), clock.min, zone))
        end = min(end, now_us)  # today only so far: nothing in the future
        windows.append((day, start, end - start))
        weekend = 0.55 if day.weekday() >= 5 else 1.0
        weights.append(weekend * rng.uniform(0.8, 1.2) * (end - start) / _DAY_US)
    for (day, start, span), day_rows in zip(
        windows, _apportion(count, weights, minimum=1 if count >= days else 0), strict=True
    ):
        if day_rows:
            yield _Cell(tenant, day), start, span, day_rows


def _epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch: exact integers, whatever the zone or DST."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _draw(rng: random.Random, count: int, start_us: int, span_us: int):
    """Columns of one time slice, in time order: time, feature, tokens in and out, error."""
    return (
        sorted(rng.choices(range(start_us, start_us + span_us), k=count)),
        rng.choices(FEATURES, cum_weights=FEATURE_CUM_WEIGHTS, k=count),
        rng.choices(PROMPT_TOKENS, k=count),
        rng.choices(COMPLETION_TOKENS, k=count),
        rng.choices(OUTCOMES, cum_weights=OUTCOME_CUM_WEIGHTS, k=count),
    )


def _apportion(total: int, weights: list[float], *, minimum: int = 0) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder), each at
    least `minimum` when the total allows it."""
    if not any(weights):  # e.g. only today, at its very first microsecond
        weights = [1.0] * len(weights)
    base = minimum if total >= minimum * len(weights) else 0
    rest, weight_sum = total - base * len(weights), sum(weights)
    quotas = [rest * weight / weight_sum for weight in weights]
    shares = [base + int(quota) for quota in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: (int(quotas[i]) - quotas[i], i))
    for index in by_remainder[: total - sum(shares)]:
        shares[index] += 1
    return shares


class _ChunkWriter:
    """Buffers drawn rows and records them `chunk_size` at a time, one transaction each."""

    def __init__(self, report: GenerationReport, *, now, chunk_size, progress, total):
        self.report, self.chunk_size, self.total = report, chunk_size, total
        self.progress = progress
        self.prefix = f"syn-{(now - _EPOCH) // timedelta(milliseconds=1):012x}-"
        self.sequence = 0
        self.pending: list[tuple] = []
        self.usd: dict[int, Decimal] = {}  # one Decimal per distinct cost, reused

    def add(self, cell: _Cell, columns: tuple[list, ...]) -> None:
        self.pending.extend(zip(repeat(cell), *columns))
        while len(self.pending) >= self.chunk_size:
            chunk, self.pending = self.pending[: self.chunk_size], self.pending[self.chunk_size :]
            self._record(chunk)

    def flush(self) -> None:
        if self.pending:
            chunk, self.pending = self.pending, []
            self._record(chunk)

    def _record(self, chunk: list[tuple]) -> None:
        with transaction.atomic():
            _lock_counters({row[0] for row in chunk})
            entries = self._entries(chunk)
            usage_record_many(entries=entries)
        self.report.rows += len(entries)
        if self.progress is not None:
            self.progress(self.report.rows, self.total)

    def _entries(self, chunk: list[tuple]) -> list[UsageEntry]:
        entries, usd, prefix, report = [], self.usd, self.prefix, self.report
        append, sequence, success, blocked, spent = entries.append, self.sequence, 0, 0, 0
        for cell, moment, feature, prompt, completion, error_code in chunk:
            sequence += 1
            row_id = f"{prefix}{sequence:010x}"
            if error_code is None:
                # cost_usd: tokens at the alias's prices, rounded half-up to the micro-dollar
                micros = (prompt * cell.input_pp + completion * cell.output_pp + _HALF) // _PP
                if budget_admits(spent=cell.held, reserved=0, amount=micros,
                                 budget=cell.budget, granted=cell.granted):  # fmt: skip
                    cell.held += micros
                    success, spent = success + 1, spent + micros
                    cost = usd.get(micros) or usd.setdefault(micros, from_micros(micros))
                    append(UsageEntry(
                        tenant=cell.tenant, day=cell.day, feature=feature, provider="mock",
                        model=cell.alias, status=SUCCESS, prompt_tokens=prompt,
                        completion_tokens=completion, cost_usd=cost, id=row_id,
                        request_id=row_id, created_at=_EPOCH + timedelta(microseconds=moment),
                    ))  # fmt: skip
                    continue
                status, error_code, blocked = BLOCKED, "budget_exceeded", blocked + 1
            else:
                status = ERROR
            append(UsageEntry(
                tenant=cell.tenant, day=cell.day, feature=feature, provider="mock",
                model=cell.alias, status=status, error_code=error_code, id=row_id,
                request_id=row_id, created_at=_EPOCH + timedelta(microseconds=moment),
            ))  # fmt: skip
        self.sequence = sequence
        report.success += success
        report.blocked += blocked
        report.errors += len(entries) - success - blocked
        report.cost_micros += spent
        return entries


def _lock_counters(cells: set[_Cell]) -> None:
    """Lock (creating if missing) the chunk's tenant-day counters and read each cell's state.

    Adding 0 through the counters' own upsert takes the row lock until the chunk commits: a
    reservation on the same day waits, then sees the chunk's spend, so the cap holds.
    """
    ordered = sorted(cells, key=lambda cell: (cell.tenant.id, cell.day))
    for cell in ordered:
        BudgetCounter.objects.add_spent(tenant_id=cell.tenant.id, day=cell.day, amount=0)
    counters = {
        (tenant_id, day): (spent + reserved, granted)
        for tenant_id, day, spent, reserved, granted in BudgetCounter.objects.filter(
            tenant_id__in={cell.tenant.id for cell in cells},
            day__in={cell.day for cell in cells},
        ).values_list("tenant_id", "day", "spent_micros", "reserved_micros", "granted_micros")
    }
    for cell in ordered:
        cell.held, cell.granted = counters[cell.tenant.id, cell.day]
