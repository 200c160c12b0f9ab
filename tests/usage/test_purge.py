"""purge_usage: old ai_usage rows deleted in batches; rollups and counters kept."""

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from tests.usage.entries import PARIS, entry, noon
from usage import retention
from usage.models import AIUsage, BudgetCounter, Reservation, UsagePurge, UsageRollup
from usage.rebuild import rollups_rebuild
from usage.recording import usage_record, usage_record_many
from usage.retention import PurgeRefused, usage_purge

pytestmark = pytest.mark.django_db

MAR_1, MAR_2, MAR_3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def _derived() -> tuple[list[tuple], list[tuple]]:
    """Every rollup and every counter, as stored."""
    return (
        list(UsageRollup.objects.order_by("tenant", "day", "feature", "status").values_list(
            "tenant", "day", "feature", "model", "status", "calls", "tokens", "cost_micros")),
        list(BudgetCounter.objects.order_by("tenant", "day").values_list(
            "tenant", "day", "spent_micros", "reserved_micros")),
    )  # fmt: skip


@pytest.fixture(autouse=True)
def today_is_10_march():
    with freeze_time("2026-03-10 12:00:00"):
        yield


@pytest.fixture
def recorded(tenant):
    """Two calls on 1 March, one on 2 March and one on 3 March (Paris days)."""
    days = [MAR_1, MAR_1, MAR_2, MAR_3]
    usage_record_many(
        entries=[entry(tenant, at=noon(d), id=f"row-{n}") for n, d in enumerate(days)]
    )
    return tenant


def _purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_usage", *args, stdout=out)
    return out.getvalue()


# --- What is deleted, what stays ----------------------------------------------------------------


def test_rows_of_days_before_the_date_are_deleted_and_later_rows_stay(recorded):
    usage_purge(before=MAR_2)
    assert sorted(AIUsage.objects.values_list("id", flat=True)) == ["row-2", "row-3"]


def test_purge_returns_how_many_rows_it_deleted(recorded):
    assert usage_purge(before=MAR_2) == 2


def test_purge_keeps_rollups_and_counters(recorded):
    # given the rollups and counters of recorded usage
    before = _derived()
    # when old rows are purged, then every rollup and counter is as it was
    usage_purge(before=MAR_3)
    assert _derived() == before


def test_purge_records_one_purge_row(recorded):
    usage_purge(before=MAR_2)
    assert list(UsagePurge.objects.values_list("before", "rows_deleted")) == [(MAR_2, 2)]


@pytest.mark.parametrize(
    ("moment", "kept"),
    [
        (datetime(2026, 3, 1, 23, 30, tzinfo=PARIS), False),  # 22:30 UTC on 1 March
        (datetime(2026, 3, 2, 0, 30, tzinfo=PARIS), True),  # 23:30 UTC on 1 March
    ],
    ids=["Paris 1 March 23:30", "Paris 2 March 00:30"],
)
def test_rows_are_purged_by_the_tenants_local_day(tenant, moment, kept):
    usage_record(entry=entry(tenant, at=moment))
    usage_purge(before=MAR_2)
    assert AIUsage.objects.exists() is kept


def test_a_west_coast_evening_row_is_purged_with_its_local_day(make_tenant):
    # given a Los Angeles call at 23:30 on 1 March, 07:30 UTC on 2 March
    tenant = make_tenant("west-001", timezone="America/Los_Angeles")
    at = datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    usage_record(entry=entry(tenant, at=at))
    # when days before 2 March are purged, then it is gone
    usage_purge(before=MAR_2)
    assert not AIUsage.objects.exists()


def test_reservations_are_left_alone(recorded):
    # given an abandoned reservation of 1 March
    Reservation.objects.create(
        id="held-1", tenant=recorded, day=MAR_1, amount_micros=5000, created_at=noon(MAR_1),
        expires_at=noon(MAR_1) + timedelta(minutes=1), request_id="r-1", feature="assist",
        provider="litellm", model="kbz-standard",
    )  # fmt: skip
    # when that day is purged, then the reservation is still there
    usage_purge(before=MAR_2)
    assert Reservation.objects.filter(pk="held-1").exists()


def test_purging_up_to_today_keeps_todays_rows(tenant):
    usage_record(entry=entry(tenant, at=datetime(2026, 3, 10, 11, 0, tzinfo=ZoneInfo("UTC"))))
    usage_purge(before=date(2026, 3, 10))
    assert AIUsage.objects.count() == 1


# --- Batches ------------------------------------------------------------------------------------


@pytest.fixture
def five_rows(tenant):
    usage_record_many(entries=[entry(tenant, at=noon(MAR_1)) for _ in range(5)])


def test_small_batches_still_delete_every_row(five_rows):
    assert (usage_purge(before=MAR_2, batch_size=2), AIUsage.objects.count()) == (5, 0)


def test_rows_are_deleted_in_batches_of_the_given_size(five_rows):
    with CaptureQueriesContext(connection) as queries:
        usage_purge(before=MAR_2, batch_size=2)
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "ai_usage"')]
    assert len(deletes) == 3  # 2 + 2 + 1


def test_an_interrupted_purge_still_protects_its_days_from_a_rebuild(five_rows, monkeypatch):
    # given a purge that fails after its first batch
    delete_batch = retention._delete_batch
    batches = []

    def one_batch_then_fail(*args, **kwargs):
        if batches:
            raise RuntimeError("connection lost")
        batches.append(delete_batch(*args, **kwargs))
        return batches[-1]

    monkeypatch.setattr(retention, "_delete_batch", one_batch_then_fail)
    with pytest.raises(RuntimeError):
        usage_purge(before=MAR_2, batch_size=2)
    # when the rollups are checked, then the half-purged day is left alone
    assert rollups_rebuild(check=True).differences == []


def test_a_rebuild_after_a_purge_keeps_the_purged_days_rollups(recorded):
    # given purged rows
    before = _derived()
    usage_purge(before=MAR_3)
    # when the rollups are rebuilt, then those of the purged days are still there
    rollups_rebuild()
    assert _derived() == before


# --- The command --------------------------------------------------------------------------------


def test_the_command_says_how_many_rows_it_deleted(recorded):
    assert _purge("--before", "2026-03-02", "--batch-size", "1").startswith(
        "Deleted 2 ai_usage row(s) of local days before 2026-03-02"
    )


def test_a_future_date_is_refused(recorded):
    with pytest.raises(PurgeRefused, match="2026-03-11 is in the future"):
        usage_purge(before=date(2026, 3, 11))


@pytest.mark.parametrize(
    "args",
    [
        ["--before", "2026-03-11"],
        ["--before", "2026-03-02", "--batch-size", "0"],
        ["--before", "2026-03-02", "--batch-size", "many"],
        ["--before", "2 March"],
        [],
    ],
    ids=["future date", "zero batch size", "batch size not a number", "not a date", "no date"],
)
def test_bad_arguments_delete_and_record_nothing(recorded, args):
    # when the command is given a bad argument, then it fails, rows stay, no purge is recorded
    with pytest.raises(CommandError):
        _purge(*args)
    assert (AIUsage.objects.count(), UsagePurge.objects.count()) == (4, 0)


def test_a_bad_batch_size_is_one_line_and_exit_2(manage_cli):
    result = manage_cli("purge_usage", "--before", "2026-03-02", "--batch-size", "0")
    assert (result.returncode, result.stderr) == (
        2,
        "manage.py purge_usage: error: argument --batch-size: "
        "'0' is not a whole number of at least 1\n",
    )


def test_a_future_date_is_one_line_and_exit_1(manage_cli):
    result = manage_cli("purge_usage", "--before", "2999-01-01")
    assert (result.returncode, result.stderr.count("\n"), result.stderr[:41]) == (
        1,
        1,
        "CommandError: 2999-01-01 is in the future",
    )


def test_a_future_date_from_the_command_line_records_no_purge(manage_cli):
    manage_cli("purge_usage", "--before", "2999-01-01")
    assert manage_cli.count(UsagePurge._meta.db_table) == 0
