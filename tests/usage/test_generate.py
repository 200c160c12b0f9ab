"""Synthetic usage (usage.synthetic, `manage.py generate_usage`): rows, rollups, budgets."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.models import Tenant
from usage.models import AIUsage, BudgetCounter, UsageRollup
from usage.pricing import cost_usd, to_micros
from usage.recording import COPY_THRESHOLD
from usage.synthetic import usage_generate

# A Monday: the Paris window holds Sunday 29 March 2026, a 23-hour day (clocks spring forward).
NOW = datetime(2026, 3, 30, 10, 30, tzinfo=UTC)
TENANTS, ROWS, DAYS = 3, 2000, 7
SYNTHETIC_IDS = ["synthetic-0001", "synthetic-0002", "synthetic-0003"]
CHUNKS = {
    "insert-sized-chunks": COPY_THRESHOLD // 2,  # every batch below COPY's threshold
    "copy-sized-chunks": COPY_THRESHOLD + 500,  # COPY on PostgreSQL, then a small remainder
}


def _generate(**options):
    defaults = dict(tenants=TENANTS, rows=ROWS, days=DAYS, seed=7, now=NOW)
    return usage_generate(**{**defaults, **options})


@pytest.fixture(params=CHUNKS.values(), ids=CHUNKS.keys())
def generated(request, db):
    """The small generation, recorded in chunks below or above the COPY threshold."""
    return _generate(chunk_size=request.param)


def _snapshot() -> list[tuple]:
    fields = [field.attname for field in AIUsage._meta.concrete_fields]
    return list(AIUsage.objects.order_by("id").values_list(*fields))


def _wipe_usage() -> None:
    AIUsage.objects.all().delete()
    UsageRollup.objects.all().delete()
    BudgetCounter.objects.all().delete()


def _zones() -> dict[str, Tenant]:
    return {tenant.id: tenant for tenant in Tenant.objects.select_related("plan__model")}


def _spent_by_tenant_day() -> dict[tuple, Decimal]:
    tenants, spent = _zones(), defaultdict(Decimal)
    for tenant_id, created_at, cost in AIUsage.objects.values_list(
        "tenant_id", "created_at", "cost_usd_est"
    ):
        spent[tenant_id, tenants[tenant_id].local_day(created_at)] += cost
    return spent


def _rollups_from_rows() -> dict[tuple, tuple[int, int, int]]:
    tenants, totals = _zones(), defaultdict(lambda: [0, 0, 0])
    rows = AIUsage.objects.values_list(
        "tenant_id", "created_at", "feature", "model", "status", "total_tokens", "cost_usd_est"
    )
    for tenant_id, created_at, feature, model, status, tokens, cost in rows:
        total = totals[tenant_id, tenants[tenant_id].local_day(created_at), feature, model, status]
        total[0] += 1
        total[1] += tokens
        total[2] += to_micros(cost)
    return {key: tuple(total) for key, total in totals.items()}


def _over_budget() -> dict[tuple, Decimal]:
    tenants = _zones()
    return {
        key: total
        for key, total in _spent_by_tenant_day().items()
        if total > tenants[key[0]].daily_budget
    }


def _counters_match_rows() -> bool:
    spent = {key: to_micros(total) for key, total in _spent_by_tenant_day().items()}
    counters = {(c.tenant_id, c.day): c for c in BudgetCounter.objects.all()}
    # A counter may exist at 0 (its day's rows all failed), as after a failed API call.
    return all(c.reserved_micros == 0 for c in counters.values()) and {
        key: c.spent_micros for key, c in counters.items() if c.spent_micros
    } == {key: amount for key, amount in spent.items() if amount}


def _written() -> tuple[int, int, int]:
    return Tenant.objects.count(), AIUsage.objects.count(), BudgetCounter.objects.count()


# --- what is written -------------------------------------------------------------------------


def test_generate_writes_exactly_the_rows_asked_for(generated):
    assert (generated.rows, AIUsage.objects.count()) == (ROWS, ROWS)


def test_generate_report_counts_every_row_once(generated):
    assert generated.success + generated.blocked + generated.errors == ROWS


def test_generate_spreads_rows_over_every_synthetic_tenant(generated):
    tenant_ids = AIUsage.objects.order_by().values_list("tenant_id", flat=True).distinct()
    assert sorted(tenant_ids) == SYNTHETIC_IDS


def test_generate_spreads_each_tenants_rows_over_its_last_local_days(generated):
    # given each tenant's last 7 local days at NOW, today included
    tenants = _zones()
    expected = {
        tenant_id: {tenant.local_day(NOW) - timedelta(days=n) for n in range(DAYS)}
        for tenant_id, tenant in tenants.items()
    }
    # when the rows are placed on their tenant's local days
    days = defaultdict(set)
    for tenant_id, created_at in AIUsage.objects.values_list("tenant_id", "created_at"):
        days[tenant_id].add(tenants[tenant_id].local_day(created_at))
    # then every tenant has rows on each of them and on no other
    assert days == expected


def test_generate_writes_nothing_in_the_future(generated):
    assert not AIUsage.objects.filter(created_at__gt=NOW).exists()


@pytest.mark.django_db
def test_generate_at_the_first_instant_of_a_local_day_still_writes_every_row():
    # given a clock at midnight UTC: synthetic-0003 (UTC) has no time yet on its only day
    midnight = datetime(2026, 3, 30, tzinfo=UTC)
    # when one day of usage is generated
    report = _generate(days=1, now=midnight)
    # then every row is written, none after the clock
    assert (report.rows, AIUsage.objects.filter(created_at__gt=midnight).count()) == (ROWS, 0)


def test_generate_uses_several_timezones_and_every_plan(generated):
    tenants = _zones().values()
    assert {t.plan_id for t in tenants} == {"starter", "pro", "autopilot"}
    assert {"Europe/Paris", "America/New_York"} <= {t.timezone for t in tenants}


def test_generate_rows_are_mock_rows_at_the_plans_alias(generated):
    aliases = {tenant_id: t.plan.model_id for tenant_id, t in _zones().items()}
    wrong = [
        row
        for row in AIUsage.objects.values_list("id", "tenant_id", "provider", "model")
        if row[2] != "mock" or row[3] != aliases[row[1]]
    ]
    assert wrong == []


def test_generate_prices_successes_with_the_plans_alias(generated):
    prices = {tenant_id: t.plan.model for tenant_id, t in _zones().items()}
    wrong = [
        row
        for row in AIUsage.objects.filter(status="success").values_list(
            "tenant_id", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd_est"
        )
        if row[4] != cost_usd(price=prices[row[0]], prompt_tokens=row[1], completion_tokens=row[2])
        or row[3] != row[1] + row[2]
    ]
    assert wrong == []


def test_generate_failed_and_blocked_rows_cost_nothing(generated):
    assert set(
        AIUsage.objects.exclude(status="success").values_list("cost_usd_est", flat=True)
    ) <= {Decimal(0)}


def test_generate_writes_a_few_percent_of_upstream_errors(generated):
    errors = AIUsage.objects.filter(status="error", error_code__startswith="upstream_").count()
    assert 0.005 * ROWS < errors < 0.08 * ROWS


def test_generate_assist_is_the_most_used_feature(generated):
    counts = {f: AIUsage.objects.filter(feature=f).count() for f in ("assist", "autopilot")}
    assert counts["assist"] > counts["autopilot"] > 0


# --- derived data stays exact ------------------------------------------------------------------


def test_generate_rollups_equal_the_rows(generated):
    stored = {
        (r.tenant_id, r.day, r.feature, r.model, r.status): (r.calls, r.tokens, r.cost_micros)
        for r in UsageRollup.objects.all()
    }
    assert stored == _rollups_from_rows()


def test_generate_counters_hold_each_tenant_days_spend_and_nothing_reserved(generated):
    assert _counters_match_rows()


def test_generate_keeps_every_tenant_day_within_its_budget(generated):
    assert _over_budget() == {}


# --- budgets ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_generate_blocks_calls_past_a_small_budget(make_tenant):
    # given a synthetic tenant that already exists, on a budget of a few calls a day
    make_tenant(
        "synthetic-0002", plan="pro", timezone="Asia/Tokyo", daily_budget_override=Decimal("0.02")
    )
    # when usage is generated
    report = _generate()
    # then its later calls are blocked for the budget, at no cost, and no day is over budget
    blocked = AIUsage.objects.filter(tenant_id="synthetic-0002", status="blocked")
    assert blocked.count() == report.blocked > 0
    assert set(blocked.values_list("error_code", "cost_usd_est", "total_tokens")) == {
        ("budget_exceeded", Decimal(0), 0)
    }
    assert _over_budget() == {}


@pytest.mark.django_db
def test_generate_counts_calls_in_flight_against_todays_budget(make_tenant):
    # given a tenant whose calls in flight hold all of today's budget but $0.005
    tenant = make_tenant("synthetic-0001", plan="pro", timezone="Europe/Paris")
    held = to_micros(tenant.daily_budget) - 5000
    BudgetCounter.objects.create(tenant=tenant, day=tenant.local_day(NOW), reserved_micros=held)
    # when usage is generated
    _generate()
    # then today's new spend fits in what was left, and the reservations are untouched
    counter = BudgetCounter.objects.get(tenant=tenant, day=tenant.local_day(NOW))
    assert (counter.spent_micros <= 5000, counter.reserved_micros) == (True, held)


# --- determinism and reuse ----------------------------------------------------------------------


@pytest.mark.django_db
def test_generate_is_deterministic_for_a_seed_whatever_the_chunk_size():
    # given a generation, and the same seed and clock run again on an empty history
    _generate(chunk_size=COPY_THRESHOLD // 2)
    first = _snapshot()
    _wipe_usage()
    # when it is run again with other chunks
    _generate(chunk_size=COPY_THRESHOLD * 2)
    # then the very same rows are written
    assert _snapshot() == first


@pytest.mark.django_db
def test_generate_differs_for_another_seed():
    _generate(seed=1)
    first = [row[1:] for row in _snapshot()]
    _wipe_usage()
    _generate(seed=2)
    assert [row[1:] for row in _snapshot()] != first


def test_generate_reuses_existing_synthetic_tenants_on_a_second_run(generated):
    # when it runs again an hour later
    report = _generate(rows=500, now=NOW + timedelta(hours=1))
    # then the same tenants get the new rows
    assert (report.tenants_created, report.tenants_reused, Tenant.objects.count()) == (0, 3, 3)
    assert AIUsage.objects.count() == ROWS + 500


def test_generate_second_run_keeps_counters_exact_and_within_budget(generated):
    _generate(rows=500, now=NOW + timedelta(hours=1))
    assert (_counters_match_rows(), _over_budget()) == (True, {})


def _usage_inserts(queries: CaptureQueriesContext) -> int:
    # executemany shows as "<n> times: INSERT ..."
    return sum('INSERT INTO "ai_usage"' in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
def test_generate_chunks_below_the_copy_threshold_are_inserted():
    with CaptureQueriesContext(connection) as queries:
        _generate(chunk_size=COPY_THRESHOLD // 2)
    assert _usage_inserts(queries) > 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_generate_chunks_at_the_copy_threshold_are_copied_on_postgresql():
    # COPY goes around Django's cursor wrapper: no INSERT is seen, yet every row is there
    with CaptureQueriesContext(connection) as queries:
        _generate(chunk_size=ROWS)
    assert (_usage_inserts(queries), AIUsage.objects.count()) == (0, ROWS)


def test_generate_reports_progress_after_each_chunk_up_to_the_total(db):
    calls = []
    _generate(chunk_size=600, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(600, ROWS), (1200, ROWS), (1800, ROWS), (2000, ROWS)]


@pytest.mark.django_db
def test_generate_rejects_zero_rows_and_writes_nothing():
    before = _written()
    with pytest.raises(ValueError):
        _generate(rows=0)
    assert _written() == before


# --- manage.py generate_usage --------------------------------------------------------------------


def _command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("generate_usage", "--force", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_generate_usage_command_writes_the_rows_and_prints_a_summary():
    out, _ = _command("--tenants", "2", "--rows", "300", "--days", "3", "--seed", "4")
    assert AIUsage.objects.count() == 300
    assert out.startswith("Generated 300 rows for 2 synthetic tenants (2 created, 0 reused)")
    assert "rows/s" in out


@pytest.mark.django_db
def test_generate_usage_command_writes_nothing_in_the_future():
    _command("--tenants", "2", "--rows", "300", "--days", "3")
    assert not AIUsage.objects.filter(created_at__gt=timezone.now()).exists()


@pytest.mark.django_db
def test_generate_usage_command_prints_progress_with_a_rate_per_chunk():
    _, err = _command("--tenants", "1", "--rows", "250", "--days", "2", "--chunk-size", "100")
    assert ["rows/s" in line for line in err.splitlines()] == [True, True, True]


BAD_ARGUMENTS = {
    "zero-tenants": ["--tenants", "0", "--rows", "10", "--days", "1"],
    "too-many-tenants": ["--tenants", "10000", "--rows", "10", "--days", "1"],
    "negative-rows": ["--tenants", "1", "--rows", "-5", "--days", "1"],
    "rows-not-a-number": ["--tenants", "1", "--rows", "many", "--days", "1"],
    "zero-days": ["--tenants", "1", "--rows", "10", "--days", "0"],
    "days-past-ten-years": ["--tenants", "1", "--rows", "10", "--days", "3651"],
    "seed-not-a-number": ["--tenants", "1", "--rows", "10", "--days", "1", "--seed", "x"],
    "rows-missing": ["--tenants", "1", "--days", "1"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("args", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_generate_usage_command_refuses_bad_arguments_and_writes_nothing(args):
    before = _written()
    with pytest.raises(CommandError):
        _command(*args)
    assert _written() == before


def test_cli_generate_usage_bad_argument_is_one_line_exit_2_and_writes_nothing(manage_cli):
    result = manage_cli("generate_usage", "--tenants", "2", "--rows", "0", "--days", "3")
    assert (result.returncode, len(result.stderr.splitlines())) == (2, 1)
    assert "--rows" in result.stderr
    assert [manage_cli.count(t) for t in ("tenants_tenant", "ai_usage")] == [0, 0]


@pytest.mark.django_db
def test_generate_usage_refuses_to_run_with_debug_off_without_force():
    before = _written()
    with pytest.raises(CommandError, match="--force"):
        call_command("generate_usage", "--tenants", "1", "--rows", "10", "--days", "1")
    assert _written() == before
