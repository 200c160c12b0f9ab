from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from django.db import IntegrityError

from tenants.models import Tenant
from usage.models import AIUsage, BudgetCounter, UsageRollup
from usage.recording import (
    COPY_THRESHOLD,
    UsageEntry,
    usage_id_new,
    usage_record,
    usage_record_many,
)


def _entry(tenant: Tenant, **fields) -> UsageEntry:
    defaults = dict(
        tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
        status="success", prompt_tokens=198, completion_tokens=133, cost_usd=Decimal("0.002589"),
    )  # fmt: skip
    return UsageEntry(**{**defaults, **fields})


@pytest.mark.django_db
def test_a_recorded_row_derives_total_tokens_and_keeps_the_cost(tenant):
    row = usage_record(entry=_entry(tenant))
    stored = AIUsage.objects.get(pk=row.pk)
    assert (stored.total_tokens, stored.cost_usd_est) == (331, Decimal("0.002589"))


@pytest.mark.django_db
def test_a_recorded_row_gets_an_admission_time_when_none_is_given(tenant):
    assert usage_record(entry=_entry(tenant)).created_at is not None


@pytest.mark.django_db
def test_recorded_costs_are_added_to_the_tenants_local_day(tenant):
    # given a Paris tenant and a call at 23:30 UTC on 1 March, already 2 March in Paris
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    # when two calls are recorded
    usage_record_many(entries=[_entry(tenant, created_at=late), _entry(tenant, created_at=late)])
    # then the Paris day's counter holds both costs, in micro-dollars
    counter = BudgetCounter.objects.get(tenant=tenant)
    assert (counter.day, counter.spent_micros) == (date(2026, 3, 2), 2 * 2589)


@pytest.mark.django_db
def test_a_row_with_an_explicit_day_counts_on_that_day(tenant):
    usage_record(entry=_entry(tenant, day=date(2026, 1, 14)))
    assert BudgetCounter.objects.get(tenant=tenant).day == date(2026, 1, 14)


@pytest.mark.django_db
def test_rows_without_cost_do_not_touch_the_counters(tenant):
    usage_record(entry=_entry(tenant, status="blocked", cost_usd=Decimal("0")))
    assert not BudgetCounter.objects.exists()


def test_usage_ids_are_unique_and_sort_by_creation():
    ids = [usage_id_new() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_with_one_bad_row_writes_nothing(tenant):
    # given a batch whose second row names a tenant that does not exist
    ghost = Tenant(id="no-such-tenant", plan=tenant.plan, timezone="UTC")
    entries = [_entry(tenant), _entry(ghost)]
    # when it is recorded, then it fails as a whole: no row, no counter
    with pytest.raises(IntegrityError):
        usage_record_many(entries=entries)
    assert (AIUsage.objects.count(), BudgetCounter.objects.count()) == (0, 0)


def _rollups(tenant) -> dict:
    return {
        (r.day, r.feature, r.model, r.status): (r.calls, r.tokens, r.cost_micros)
        for r in UsageRollup.objects.filter(tenant=tenant)
    }


@pytest.mark.django_db
def test_rows_are_rolled_up_per_local_day_feature_model_and_status(tenant):
    # given a success and a blocked call on 2 March in Paris, one success on the 3rd
    march_2 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    usage_record_many(
        entries=[
            _entry(tenant, created_at=march_2),
            _entry(tenant, created_at=march_2, status="blocked", prompt_tokens=0,
                   completion_tokens=0, cost_usd=Decimal("0"), error_code="rate_limited"),
            _entry(tenant, created_at=datetime(2026, 3, 2, 23, 30, tzinfo=UTC)),
        ]
    )  # fmt: skip
    # then each key adds up its calls, tokens and micro-dollars
    assert _rollups(tenant) == {
        (date(2026, 3, 2), "assist", "kbz-standard", "success"): (1, 331, 2589),
        (date(2026, 3, 2), "assist", "kbz-standard", "blocked"): (1, 0, 0),
        (date(2026, 3, 3), "assist", "kbz-standard", "success"): (1, 331, 2589),
    }


@pytest.mark.django_db
def test_a_second_recording_adds_to_the_same_rollup(tenant):
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    usage_record(entry=_entry(tenant, created_at=at))
    usage_record(entry=_entry(tenant, created_at=at))
    assert list(_rollups(tenant).values()) == [(2, 662, 5178)]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_large_batch_is_copied_and_rolled_up_exactly(tenant, monkeypatch):
    # given a batch past the COPY threshold, and a spy on psycopg's COPY (Django does not log it)
    copies, copy = [], psycopg.Cursor.copy
    monkeypatch.setattr(
        psycopg.Cursor,
        "copy",
        lambda cursor, sql, *a, **k: copies.append(sql) or copy(cursor, sql, *a, **k),
    )
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    entries = [_entry(tenant, created_at=at) for _ in range(COPY_THRESHOLD + 1)]
    # when it is recorded
    usage_record_many(entries=entries)
    # then the rows went in with one COPY, and rollup and counter match them
    assert [sql.split(" (")[0] for sql in copies] == ["COPY ai_usage"]
    assert AIUsage.objects.count() == COPY_THRESHOLD + 1
    assert list(_rollups(tenant).values()) == [
        (COPY_THRESHOLD + 1, 331 * (COPY_THRESHOLD + 1), 2589 * (COPY_THRESHOLD + 1))
    ]
    assert BudgetCounter.objects.get(tenant=tenant).spent_micros == 2589 * (COPY_THRESHOLD + 1)
