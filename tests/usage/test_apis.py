"""GET /admin/ai/usage/today and /admin/ai/usage: the seed's shapes, local days, from rollups."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from usage.recording import UsageEntry, usage_record

pytestmark = pytest.mark.django_db


def record(tenant, *, at=None, status="success", feature="assist", model="kbz-standard",
           prompt=198, completion=133, cost="0.002589", error_code=None):  # fmt: skip
    usage_record(
        entry=UsageEntry(
            tenant=tenant, feature=feature, provider="litellm", model=model, status=status,
            prompt_tokens=prompt, completion_tokens=completion, cost_usd=Decimal(cost),
            error_code=error_code, created_at=at,
        )
    )  # fmt: skip


@pytest.fixture
def reader(client_for, member):
    return client_for(member)


def today(client, tenant_id="ecomlg-001"):
    return client.get("/admin/ai/usage/today", {"tenantId": tenant_id})


def history(client, **params):
    return client.get("/admin/ai/usage", params)


# --- /admin/ai/usage/today ------------------------------------------------------------------


@freeze_time("2026-01-14 10:00:00")
def test_today_after_the_seed_call_equals_the_seed_example(reader, tenant):
    # given the seed's one 331-token call of the day
    record(tenant)
    # when the tenant's day is read
    response = today(reader)
    # then it is the seed's example, numbers as numbers
    assert response.status_code == 200
    assert response.json() == {
        "tenantId": "ecomlg-001", "date": "2026-01-14", "plan": "pro", "calls": 1,
        "tokens": 331, "costUsd": 0.002589,
        "budget": {"daily": 10, "used": 0.002589, "remaining": 9.997411, "percentUsed": 0.02589},
    }  # fmt: skip


def test_today_counts_successes_but_sums_every_rows_tokens_and_cost(reader, tenant):
    record(tenant)
    record(tenant, status="blocked", prompt=0, completion=0, cost="0",
           error_code="budget_exceeded")  # fmt: skip
    record(tenant, status="error", prompt=0, completion=0, cost="0", error_code="abandoned")
    body = today(reader).json()
    assert (body["calls"], body["tokens"], body["costUsd"]) == (1, 331, 0.002589)


def test_today_is_the_tenants_local_day(reader, tenant):
    # given a Paris tenant, a call at 23:30 Paris time on 14 January (22:30 UTC)
    record(tenant, at=datetime(2026, 1, 14, 22, 30, tzinfo=UTC))
    # when it is read at 00:30 Paris time on the 15th
    with freeze_time("2026-01-14 23:30:00"):
        body = today(reader).json()
    # then the Paris day has begun: the call belongs to yesterday
    assert (body["date"], body["calls"]) == ("2026-01-15", 0)


def test_percent_used_is_not_capped(reader, make_tenant, make_user, client_for):
    tenant = make_tenant("over-1", plan="starter", daily_budget_override=Decimal("0.001"))
    record(tenant, cost="0.002")  # written around the cap, as after a budget was lowered
    body = today(client_for(make_user("a@over.test", tenant=tenant)), "over-1").json()
    assert (body["budget"]["percentUsed"], body["budget"]["remaining"]) == (200, 0)


# --- /admin/ai/usage ------------------------------------------------------------------------


@freeze_time("2026-01-14 10:00:00")
def test_history_after_the_seed_call_has_the_seed_shapes(reader, tenant):
    record(tenant)
    body = history(reader, tenantId="ecomlg-001", days=7).json()
    seed = {"calls": 1, "blockedCalls": 0, "errorCalls": 0, "tokens": 331, "costUsd": 0.002589}
    zero = {"calls": 0, "blockedCalls": 0, "errorCalls": 0, "tokens": 0, "costUsd": 0}
    assert body == {
        "tenantId": "ecomlg-001", "from": "2026-01-08", "to": "2026-01-14",
        "summary": {"totalCalls": 1, "totalTokens": 331, "totalCostUsd": 0.002589,
                    "successCalls": 1, "blockedCalls": 0, "errorCalls": 0, "savedUsd": 0},
        "byFeature": {"assist": seed},
        "byModel": {"kbz-standard": seed},
        "byDay": [{"date": f"2026-01-{d:02d}", **zero, "savedUsd": 0} for d in range(8, 14)]
        + [{"date": "2026-01-14", **seed, "savedUsd": 0}],
    }  # fmt: skip


@pytest.mark.parametrize("days", [7, 30])
@freeze_time("2026-01-14 10:00:00")
def test_by_day_has_every_day_zero_filled_oldest_first(reader, tenant, days):
    record(tenant, at=datetime(2026, 1, 10, 12, tzinfo=UTC))
    by_day = history(reader, tenantId="ecomlg-001", days=days).json()["byDay"]
    dates = [date.fromisoformat(day["date"]) for day in by_day]
    assert len(by_day) == days
    assert dates == sorted(dates) and dates[-1] == date(2026, 1, 14)
    assert [day["calls"] for day in by_day if day["date"] == "2026-01-10"] == [1]
    assert sum(day["calls"] for day in by_day) == 1


def test_days_defaults_to_7(reader, tenant):
    assert len(history(reader, tenantId="ecomlg-001").json()["byDay"]) == 7


@freeze_time("2026-01-14 10:00:00")
def test_history_breaks_down_success_blocked_and_error(reader, tenant):
    # given a day with each outcome, on two features and two models
    record(tenant)
    record(tenant, feature="journal", model="kbz-cheap", prompt=10, completion=5, cost="0.000005")
    record(tenant, status="blocked", prompt=0, completion=0, cost="0", error_code="rate_limited")
    record(tenant, status="error", feature="journal", prompt=0, completion=0, cost="0",
           error_code="upstream_timeout")  # fmt: skip
    # when
    body = history(reader, tenantId="ecomlg-001", days=1).json()
    # then
    assert body["summary"] == {
        "totalCalls": 4, "totalTokens": 346, "totalCostUsd": 0.002594,
        "successCalls": 2, "blockedCalls": 1, "errorCalls": 1, "savedUsd": 0,
    }  # fmt: skip
    assert body["byFeature"] == {
        "assist": {"calls": 1, "blockedCalls": 1, "errorCalls": 0, "tokens": 331,
                   "costUsd": 0.002589},
        "journal": {"calls": 1, "blockedCalls": 0, "errorCalls": 1, "tokens": 15,
                    "costUsd": 0.000005},
    }  # fmt: skip
    assert sorted(body["byModel"]) == ["kbz-cheap", "kbz-standard"]
    assert body["byDay"] == [{"date": "2026-01-14", "calls": 2, "blockedCalls": 1, "errorCalls": 1,
                              "tokens": 346, "costUsd": 0.002594, "savedUsd": 0}]  # fmt: skip


@freeze_time("2026-03-30 12:00:00")
def test_days_follow_the_tenants_clock_across_the_spring_dst_change(reader, tenant):
    # given calls at 23:30 Paris time on 28 March (UTC+1) and on 29 March (UTC+2, DST day)
    record(tenant, at=datetime(2026, 3, 28, 22, 30, tzinfo=UTC))
    record(tenant, at=datetime(2026, 3, 29, 21, 30, tzinfo=UTC))
    # and one at 00:30 Paris time on 30 March
    record(tenant, at=datetime(2026, 3, 29, 22, 30, tzinfo=UTC))
    # when
    by_day = history(reader, tenantId="ecomlg-001", days=3).json()["byDay"]
    # then each call is on its Paris date
    assert [(d["date"], d["calls"]) for d in by_day] == [
        ("2026-03-28", 1), ("2026-03-29", 1), ("2026-03-30", 1),
    ]  # fmt: skip


@freeze_time("2026-10-26 12:00:00")
def test_the_autumn_dst_day_has_25_hours_on_one_date(reader, tenant):
    # 25 October 2026 in Paris runs from 22:00 UTC on the 24th to 23:00 UTC on the 25th
    record(tenant, at=datetime(2026, 10, 24, 22, 0, tzinfo=UTC))
    record(tenant, at=datetime(2026, 10, 25, 22, 59, tzinfo=UTC))
    record(tenant, at=datetime(2026, 10, 25, 23, 0, tzinfo=UTC))
    by_day = history(reader, tenantId="ecomlg-001", days=2).json()["byDay"]
    assert [(d["date"], d["calls"]) for d in by_day] == [("2026-10-25", 2), ("2026-10-26", 1)]


# --- the platform view ----------------------------------------------------------------------


@freeze_time("2026-01-14 10:00:00")
def test_staff_see_the_whole_platform_ranked_by_cost(client_for, staff, make_tenant):
    # given two tenants, the starter one spending more
    pro = make_tenant("shop-pro", plan="pro", name="Pro Shop")
    starter = make_tenant("shop-starter", plan="starter", name="Starter Shop")
    record(pro)
    record(starter, model="kbz-cheap", cost="0.004")
    record(starter, status="blocked", prompt=0, completion=0, cost="0", error_code="rate_limited")
    # when staff read the platform without tenantId
    body = history(client_for(staff), days=7).json()
    # then one summary for all, and tenants by cost, highest first
    assert body["tenantId"] is None
    assert body["summary"]["totalCalls"] == 3
    assert body["byTenant"] == [
        {"tenantId": "shop-starter", "name": "Starter Shop", "plan": "starter", "calls": 1,
         "tokens": 331, "costUsd": 0.004},
        {"tenantId": "shop-pro", "name": "Pro Shop", "plan": "pro", "calls": 1, "tokens": 331,
         "costUsd": 0.002589},
    ]  # fmt: skip


def test_a_tenants_own_view_has_no_by_tenant(reader, tenant):
    assert "byTenant" not in history(reader, tenantId="ecomlg-001").json()


def test_a_tenant_user_cannot_read_the_platform(reader):
    response = history(reader, days=7)
    assert (response.status_code, response.json()["status"]) == (403, "forbidden")


def test_staff_read_any_tenants_history(client_for, staff, tenant):
    assert history(client_for(staff), tenantId="ecomlg-001").status_code == 200


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["0", "91", "abc", "7.5", "-1", "1e3"])
def test_days_outside_1_to_90_is_400_with_field_errors(reader, tenant, days):
    response = history(reader, tenantId="ecomlg-001", days=days)
    assert (response.status_code, list(response.json()["errors"])) == (400, ["days"])


@pytest.mark.parametrize("path", ["/admin/ai/usage/today", "/admin/ai/usage"])
def test_an_unknown_tenant_is_404(reader, path):
    assert reader.get(path, {"tenantId": "nope"}).status_code == 404


@pytest.mark.parametrize("path", ["/admin/ai/usage/today", "/admin/ai/usage"])
def test_another_tenant_is_403(client_for, make_user, tenant, path):
    outsider = client_for(make_user("outsider@else.test"))
    assert outsider.get(path, {"tenantId": "ecomlg-001"}).status_code == 403


@pytest.mark.parametrize("path", ["/admin/ai/usage/today", "/admin/ai/usage"])
def test_anonymous_callers_are_401(api_client, tenant, path):
    assert api_client.get(path, {"tenantId": "ecomlg-001"}).status_code == 401


def test_today_without_tenant_id_is_400(reader):
    assert today(reader, tenant_id="").status_code == 400


# --- constant cost --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "queries"),
    [({"tenantId": "ecomlg-001", "days": 30}, 3), ({"days": 90}, 4)],
    ids=["tenant", "platform"],
)
@freeze_time("2026-01-20 12:00:00")
def test_history_makes_a_constant_number_of_queries(client_for, staff, member, tenant,
                                                   params, queries):  # fmt: skip
    # given a member who is also staff, and usage on many days
    member.is_staff = True
    member.save()
    for day in range(1, 20):
        record(tenant, at=datetime(2026, 1, day, 12, tzinfo=UTC))
    client = client_for(member)
    # then auth + tenant with membership + the rollups, or auth + rollups + byTenant + names
    with CaptureQueriesContext(connection) as captured:
        assert history(client, **params).status_code == 200
    assert len(captured) == queries


def test_today_makes_four_queries(reader, tenant):
    record(tenant)
    with CaptureQueriesContext(connection) as captured:
        today(reader)
    # auth, tenant with membership, today's rollups, today's counter (its top-ups)
    assert len(captured) == 4
