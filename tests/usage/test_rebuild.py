"""rebuild_usage_rollups: rollups and budget counters compared with the rows, and repaired."""

import threading
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.usage.entries import PARIS, entry, noon
from usage import rebuild
from usage.models import AIUsage, BudgetCounter, UsagePurge, UsageRollup
from usage.rebuild import rollups_rebuild
from usage.recording import UsageEntry, usage_record, usage_record_many

pytestmark = pytest.mark.django_db

MAR_1, MAR_2, MAR_3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
ROLLUPS = UsageRollup._meta.db_table
COUNTERS = BudgetCounter._meta.db_table


def _history(tenant) -> list[UsageEntry]:
    """Three Paris days: two successes, a blocked call, a costlier autopilot call, a fallback."""
    free = dict(prompt_tokens=0, completion_tokens=0, cost_usd=Decimal("0"))
    entries = [
        entry(tenant, at=noon(MAR_1)),
        entry(tenant, at=noon(MAR_1)),
        entry(tenant, at=noon(MAR_1), status="blocked", error_code="budget_exceeded", **free),
        entry(tenant, at=noon(MAR_2), feature="autopilot", cost_usd=Decimal("0.010000")),
        entry(tenant, at=noon(MAR_3), provider="fallback", **free),
    ]
    return [replace(e, id=f"{tenant.id}-{n}") for n, e in enumerate(entries)]


def _state(tenant) -> tuple[list[tuple], dict[date, int]]:
    """The tenant's rollups and its counters' spend; a counter at zero is the same as none."""
    rollups = UsageRollup.objects.filter(tenant=tenant).order_by("day", "feature", "status")
    spent = BudgetCounter.objects.filter(tenant=tenant, spent_micros__gt=0)
    return (
        list(rollups.values_list("day", "feature", "model", "status", "calls", "tokens",
                                 "cost_micros")),
        dict(spent.values_list("day", "spent_micros")),
    )  # fmt: skip


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _check(*args: str) -> str:
    """`rebuild_usage_rollups --check`'s output; raises CommandError when something differs."""
    out = StringIO()
    call_command("rebuild_usage_rollups", "--check", *args, stdout=out)
    return out.getvalue()


def _check_failure(*args: str) -> str:
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("rebuild_usage_rollups", "--check", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def recorded(tenant):
    usage_record_many(entries=_history(tenant))
    return tenant


@pytest.fixture
def twin(make_tenant):
    """A second Paris tenant: what recording the same rows through the service produces."""
    return make_tenant("twin-001", plan="pro", timezone="Europe/Paris")


# --- Tamperings: each edits the database around the service and says what the rows now are ---


def _row_cost_edited(tenant):
    _execute("UPDATE ai_usage SET cost_usd_est = %s WHERE id = %s", [Decimal("0.5"), "t-0"])
    return lambda rows: [replace(rows[0], cost_usd=Decimal("0.5")), *rows[1:]]


def _row_status_edited(tenant):
    _execute("UPDATE ai_usage SET status = 'error' WHERE id = %s", ["t-1"])
    return lambda rows: [rows[0], replace(rows[1], status="error"), *rows[2:]]


def _row_deleted(tenant):
    _execute("DELETE FROM ai_usage WHERE id = %s", ["t-3"])
    return lambda rows: [*rows[:3], rows[4]]


def _row_inserted(tenant):
    late = entry(tenant, at=noon(MAR_2), feature="journal", prompt_tokens=10, completion_tokens=5)
    # bulk_create is a bare INSERT: no rollup, no counter, as a hand-made row would be.
    AIUsage.objects.bulk_create([AIUsage(
        id="t-extra", tenant=tenant, feature="journal", provider="litellm", model="kbz-standard",
        prompt_tokens=10, completion_tokens=5, total_tokens=15, cost_usd_est=Decimal("0.002589"),
        status="success", created_at=late.created_at,
    )])  # fmt: skip
    return lambda rows: [*rows, replace(late, tenant=rows[0].tenant)]


def _rollup_deleted(tenant):
    _execute(f"DELETE FROM {ROLLUPS} WHERE tenant_id = %s AND day = %s", [tenant.id, MAR_1])  # noqa: S608
    return lambda rows: rows


def _counter_spent_tampered(tenant):
    _execute(f"UPDATE {COUNTERS} SET spent_micros = 1 WHERE tenant_id = %s", [tenant.id])  # noqa: S608
    return lambda rows: rows


def _counter_deleted(tenant):
    _execute(f"DELETE FROM {COUNTERS} WHERE tenant_id = %s AND day = %s", [tenant.id, MAR_2])  # noqa: S608
    return lambda rows: rows


TAMPERINGS = {
    "row cost edited": (_row_cost_edited, "2026-03-01 budget counter changed: spent $0.005178"),
    "row status edited": (_row_status_edited, "rollup assist/kbz-standard/error added"),
    "row deleted": (_row_deleted, "2026-03-02 rollup autopilot/kbz-standard/success removed"),
    "row inserted": (_row_inserted, "2026-03-02 rollup journal/kbz-standard/success added"),
    "rollup deleted": (_rollup_deleted, "2026-03-01 rollup assist/kbz-standard/blocked added"),
    "counter spent tampered": (_counter_spent_tampered, "counter changed: spent $0.000001"),
    "counter deleted": (_counter_deleted, "2026-03-02 budget counter added: spent -"),
}


@pytest.fixture(params=list(TAMPERINGS))
def tampering(request, make_tenant, twin):
    """A tenant 't' whose database was edited around the service; the twin got the true rows."""
    tamper, line = TAMPERINGS[request.param]
    tenant = make_tenant("t", plan="pro", timezone="Europe/Paris")
    usage_record_many(entries=[replace(e, id=f"t-{n}") for n, e in enumerate(_history(tenant))])
    rows_now = tamper(tenant)
    usage_record_many(entries=[replace(e, id=None) for e in rows_now(_history(twin))])
    return tenant, line


# --- Consistent usage -------------------------------------------------------------------------


def test_usage_recorded_by_the_service_has_no_differences(recorded):
    assert rollups_rebuild(check=True).differences == []


def test_check_of_consistent_usage_exits_zero_and_says_so(recorded):
    assert "match the rows (1 tenant(s), 5 row(s) read)" in _check()


def test_rebuild_of_consistent_usage_writes_nothing_different(recorded):
    # given consistent usage
    before = _state(recorded)
    # when it is rebuilt, then it is as it was
    rollups_rebuild()
    assert _state(recorded) == before


# --- Tampered usage: found by --check, repaired by the rebuild ---------------------------------


def test_check_prints_the_difference_and_exits_non_zero(tampering):
    tenant, line = tampering
    assert line in _check_failure("--tenant", tenant.id)


def test_rebuild_makes_the_check_clean(tampering):
    tenant, _ = tampering
    rollups_rebuild(tenant=tenant)
    assert rollups_rebuild(tenant=tenant, check=True).differences == []


def test_rebuild_produces_what_recording_the_rows_would_have(tampering, twin):
    tenant, _ = tampering
    call_command("rebuild_usage_rollups", "--tenant", tenant.id, stdout=StringIO())
    assert _state(tenant) == _state(twin)


def test_check_repairs_nothing(tampering):
    # given a tampered tenant
    tenant, _ = tampering
    before = _state(tenant)
    # when it is only checked, then nothing changed
    _check_failure("--tenant", tenant.id)
    assert _state(tenant) == before


def test_rebuild_says_what_it_repaired(recorded):
    # given the lost rollups of 1 March (a success one and a blocked one)
    UsageRollup.objects.filter(day=MAR_1).delete()
    # when rebuilt, then its last line says so
    out = StringIO()
    call_command("rebuild_usage_rollups", stdout=out)
    assert out.getvalue().splitlines()[-1] == (
        "Repaired 2 rollup(s) and 0 budget counter(s) (1 tenant(s), 5 row(s) read)."
    )


def test_the_report_gives_old_and_new_values(recorded):
    _execute(f"UPDATE {ROLLUPS} SET calls = 7 WHERE day = %s AND status = 'success'", [MAR_1])  # noqa: S608
    (difference,) = rollups_rebuild(check=True).rollups
    assert (difference.kind, difference.old.calls, difference.new.calls) == ("changed", 7, 2)


def test_a_long_report_prints_fifty_lines_and_how_many_more(make_tenant):
    # given 60 days of one call each whose rollups were lost
    tenant = make_tenant("busy-001", timezone="UTC")
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(60)]
    usage_record_many(entries=[entry(tenant, at=noon(day), cost_usd=Decimal(0)) for day in days])
    UsageRollup.objects.all().delete()
    # when checked, then 50 lines are printed, then the rest is counted
    lines = _check_failure().splitlines()
    assert (len(lines), lines[50]) == (52, "… and 10 more.")


# --- What the repair leaves alone ---------------------------------------------------------------


def test_repair_leaves_reserved_micros_alone(recorded):
    # given a call in flight on 1 March and a tampered spend of that day
    BudgetCounter.objects.filter(day=MAR_1).update(spent_micros=1, reserved_micros=7000)
    # when rebuilt
    rollups_rebuild()
    # then the spend is repaired and the hold kept
    counter = BudgetCounter.objects.get(tenant=recorded, day=MAR_1)
    assert (counter.spent_micros, counter.reserved_micros) == (2 * 2589, 7000)


def test_tenant_option_leaves_other_tenants_alone(recorded, twin):
    # given two tenants whose rollups were both lost
    usage_record_many(entries=_history(twin))
    UsageRollup.objects.all().delete()
    # when only the first is rebuilt
    call_command("rebuild_usage_rollups", "--tenant", recorded.id, stdout=StringIO())
    # then the other still has none
    assert not UsageRollup.objects.filter(tenant=twin).exists()


def test_tenant_option_repairs_that_tenant(recorded, twin):
    usage_record_many(entries=_history(twin))
    UsageRollup.objects.all().delete()
    call_command("rebuild_usage_rollups", "--tenant", recorded.id, stdout=StringIO())
    assert rollups_rebuild(tenant=recorded, check=True).differences == []


def test_since_leaves_earlier_days_alone(recorded):
    # given lost rollups on 1 and 3 March
    UsageRollup.objects.filter(day__in=[MAR_1, MAR_3]).delete()
    # when rebuilt from 2 March
    call_command("rebuild_usage_rollups", "--since", "2026-03-02", stdout=StringIO())
    # then 1 March is still without rollups
    assert not UsageRollup.objects.filter(day=MAR_1).exists()


def test_since_repairs_later_days(recorded):
    UsageRollup.objects.filter(day__in=[MAR_1, MAR_3]).delete()
    call_command("rebuild_usage_rollups", "--since", "2026-03-02", stdout=StringIO())
    assert UsageRollup.objects.filter(day=MAR_3).exists()


def test_days_before_a_purge_are_never_touched(recorded):
    # given rows of 1 March purged, and rollups and a counter of that day edited since
    AIUsage.objects.filter(created_at__lt=noon(MAR_2)).delete()
    UsagePurge.objects.create(before=MAR_2, rows_deleted=3)
    UsageRollup.objects.filter(day=MAR_1, status="blocked").delete()
    BudgetCounter.objects.filter(day=MAR_1).update(spent_micros=42)
    before = _state(recorded)
    # when rebuilt from a day before the purge
    report = rollups_rebuild(since=date(2026, 2, 1))
    # then the purged day is neither reported nor changed
    assert (report.differences, _state(recorded)) == ([], before)


def test_an_older_purge_does_not_reopen_the_days_of_a_later_one(recorded):
    # given a purge before 2 March, then one before 1 February
    AIUsage.objects.filter(created_at__lt=noon(MAR_2)).delete()
    UsagePurge.objects.create(before=MAR_2, rows_deleted=3)
    UsagePurge.objects.create(before=date(2026, 2, 1), rows_deleted=0)
    # when checked, then 1 March (rows gone, rollups kept) is still left alone
    assert rollups_rebuild(check=True).differences == []


# --- Local days ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "local", "day"),
    [
        ("Europe/Paris", datetime(2026, 3, 1, 23, 30), MAR_1),
        ("Europe/Paris", datetime(2026, 3, 2, 0, 30), MAR_2),  # 23:30 UTC on 1 March
        ("America/Los_Angeles", datetime(2026, 3, 1, 23, 30), MAR_1),  # 07:30 UTC on 2 March
    ],
)
def test_a_row_is_rebuilt_onto_the_tenants_local_day(make_tenant, zone, local, day):
    # given a call near midnight, local time, whose rollup was lost
    tenant = make_tenant("zoned-001", timezone=zone)
    usage_record(entry=entry(tenant, at=local.replace(tzinfo=ZoneInfo(zone))))
    UsageRollup.objects.all().delete()
    # when rebuilt, then its rollup is on the tenant's local day
    rollups_rebuild()
    assert list(UsageRollup.objects.values_list("day", flat=True)) == [day]


def test_since_includes_a_local_day_that_began_the_utc_day_before(tenant):
    # given a Paris call at 00:30 on 2 March (23:30 UTC on 1 March) whose rollup was lost
    usage_record(entry=entry(tenant, at=datetime(2026, 3, 2, 0, 30, tzinfo=PARIS)))
    UsageRollup.objects.all().delete()
    # when rebuilt from 2 March, then its rollup is back
    rollups_rebuild(since=MAR_2)
    assert UsageRollup.objects.filter(day=MAR_2).exists()


def test_since_excludes_a_local_day_that_ended_the_utc_day_after(make_tenant):
    # given a Los Angeles call at 23:30 on 1 March (07:30 UTC on 2 March) whose rollup was lost
    tenant = make_tenant("west-001", timezone="America/Los_Angeles")
    at = datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    usage_record(entry=entry(tenant, at=at))
    UsageRollup.objects.all().delete()
    # when checked from 2 March, then 1 March is out of scope
    assert rollups_rebuild(since=MAR_2, check=True).differences == []


# --- Bad arguments ------------------------------------------------------------------------------


def test_a_bad_since_date_is_one_line_and_exit_2(manage_cli):
    result = manage_cli("rebuild_usage_rollups", "--since", "2026-02-30")
    assert (result.returncode, result.stderr) == (
        2,
        "manage.py rebuild_usage_rollups: error: argument --since: "
        "'2026-02-30' is not a date (YYYY-MM-DD)\n",
    )


def test_an_unknown_tenant_is_one_line_and_exit_1(manage_cli):
    result = manage_cli("rebuild_usage_rollups", "--tenant", "nobody")
    assert (result.returncode, result.stderr) == (1, "CommandError: unknown tenant 'nobody'\n")


def test_check_exits_1_from_the_command_line_when_something_differs(manage_cli):
    # given a rollup without any row, in the command line's own database
    created = manage_cli("create_tenant", "cli-001", "--name", "CLI", "--plan", "pro")
    assert created.returncode == 0, created.stderr
    manage_cli.query(
        f"INSERT INTO {ROLLUPS} (tenant_id, day, feature, model, status, calls, tokens, "  # noqa: S608
        "cost_micros, saved_micros) VALUES ('cli-001', '2026-03-01', 'assist', 'kbz-standard', "
        "'success', 1, 331, 2589, 0)"
    )
    # when checked, then the difference is printed and the exit code is 1
    result = manage_cli("rebuild_usage_rollups", "--check", "--tenant", "cli-001")
    assert (result.returncode, result.stdout.splitlines()[0]) == (
        1,
        "cli-001 2026-03-01 rollup assist/kbz-standard/success removed: "
        "1 calls, 331 tokens, $0.002589 → -",
    )


@pytest.mark.parametrize(
    "args",
    [["--tenant", "nobody"], ["--since", "yesterday"], ["--since", "20260301"]],
    ids=["unknown tenant", "not a date", "not YYYY-MM-DD"],
)
def test_bad_arguments_repair_nothing(recorded, args):
    # given lost rollups
    UsageRollup.objects.all().delete()
    # when the command is given a bad argument, then it fails and writes nothing
    with pytest.raises(CommandError):
        call_command("rebuild_usage_rollups", *args, stdout=StringIO())
    assert not UsageRollup.objects.exists()


# --- Concurrency (PostgreSQL) -------------------------------------------------------------------


def _record_elsewhere(entry: UsageEntry) -> None:
    """Record on another connection, committed, as another process would."""
    try:
        usage_record(entry=entry)
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_call_recorded_while_the_repair_runs_is_not_lost(tenant, monkeypatch):
    # given a tampered rollup, and a call on that rollup recorded by another process once the
    # rebuild has read the rows
    usage_record(entry=entry(tenant, at=noon(MAR_1)))
    UsageRollup.objects.update(calls=99)
    recompute, recorded = rebuild._recompute, []

    def recompute_then_record(**kwargs):
        result = recompute(**kwargs)
        if not recorded:
            recorded.append(threading.Thread(target=_record_elsewhere,
                                             args=(entry(tenant, at=noon(MAR_1)),)))  # fmt: skip
            recorded[0].start()
            recorded[0].join()
        return result

    monkeypatch.setattr(rebuild, "_recompute", recompute_then_record)
    # when rebuilt
    rollups_rebuild()
    # then the rollup counts both calls
    assert UsageRollup.objects.get(tenant=tenant).calls == 2
