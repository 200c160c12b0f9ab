"""The console's dashboard (/staff/): its numbers are the API's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from console.dashboard import dashboard_read
from usage.recording import UsageEntry, usage_record

pytestmark = pytest.mark.django_db

NOON = "2026-03-10 12:00:00"


def _record(tenant, usd="0", status="success", at=None, **fields):
    usage_record(entry=UsageEntry(
        tenant=tenant, feature="assist", provider="litellm", model="kbz-standard", status=status,
        cost_usd=Decimal(usd), created_at=at or timezone.now(), **fields,
    ))  # fmt: skip


@pytest.fixture
def shops(make_tenant):
    return [make_tenant(f"shop-{n:02}", name=f"Shop {n}") for n in range(12)]


@freeze_time(NOON)
def test_spend_today_and_yesterday_equal_the_platform_api(console, client_for, staff, shops):
    # given spend today and yesterday
    _record(shops[0], "1.5")
    _record(shops[1], "0.25")
    _record(shops[2], "2", at=timezone.now() - timedelta(days=1))
    # when the dashboard and the API are read
    board = dashboard_read()
    api = client_for(staff).get("/admin/ai/usage", {"days": 2}).json()
    # then they agree
    yesterday, today = api["byDay"]
    assert (board.spend_today, board.spend_yesterday) == (Decimal("1.75"), Decimal("2"))
    assert (float(board.spend_today), float(board.spend_yesterday)) == (
        today["costUsd"], yesterday["costUsd"],
    )  # fmt: skip
    page = console.get("/staff/").text
    assert '<span data-value="spend-today">$1.75</span>' in page
    assert '<span data-value="spend-yesterday">$2.00</span>' in page


@freeze_time(NOON)
def test_the_last_24_hours_count_calls_blocked_and_errors(console, shops):
    _record(shops[0], "0.1")
    _record(shops[0], "0.1", at=timezone.now() - timedelta(hours=23))
    _record(shops[0], status="blocked", error_code="budget_exceeded")
    _record(shops[1], status="error", error_code="upstream_timeout")
    _record(shops[1], "0.1", at=timezone.now() - timedelta(hours=25))  # too old
    assert dashboard_read().last_24h == {"success": 2, "blocked": 1, "error": 1}
    page = console.get("/staff/").text
    assert '<p class="figure" data-value="calls-24h">2 calls</p>' in page
    assert '<span data-value="blocked-24h">1 blocked</span>' in page
    assert '<span data-value="errors-24h">1 error</span>' in page


@freeze_time(NOON)
def test_the_top_ten_tenants_by_spend_show_the_apis_percent_of_budget(client_for, staff, shops):
    # given twelve tenants that spent 0.1, 0.2, ... 1.2 of their 10 USD
    for rank, shop in enumerate(shops, start=1):
        _record(shop, str(Decimal("0.1") * rank))
    # when the dashboard is read
    top = dashboard_read().top_tenants
    # then the ten biggest spenders come first, each with usage/today's figures
    assert [row.tenant.id for row in top] == [f"shop-{n:02}" for n in range(11, 1, -1)]
    for row in top:
        today = client_for(staff).get("/admin/ai/usage/today", {"tenantId": row.tenant.id}).json()
        assert float(row.state.used) == today["costUsd"]
        assert float(row.percent_used) == today["budget"]["percentUsed"]


def test_each_tenant_counts_on_its_own_local_day(make_tenant):
    # given a Tokyo tenant whose local day is already the 11th at 23:00 UTC on the 10th
    tokyo = make_tenant("tokyo-1", timezone="Asia/Tokyo")
    with freeze_time("2026-03-10 14:00:00"):
        _record(tokyo, "3")  # 23:00 in Tokyo on the 10th
    # when the dashboard is read an hour later, on Tokyo's 11th
    with freeze_time("2026-03-10 15:30:00"):
        top = dashboard_read().top_tenants
    # then yesterday's (Tokyo) spend is not today's
    assert top == []


@freeze_time(NOON)
def test_blocked_tenants_are_listed_with_why(console, make_tenant, shops):
    # given one tenant switched off, one whose budget is spent, and one merely busy
    call_command("kill_switch", "on", "--tenant", "shop-00", "--reason", "abuse", stdout=None)
    spent = make_tenant("spent-1", daily_budget_override=Decimal("0.5"))
    _record(spent, "0.5")
    _record(shops[1], "5")
    # when the dashboard is read
    board = dashboard_read()
    # then
    assert [tenant.id for tenant in board.blocked_by_switch] == ["shop-00"]
    assert [row.tenant.id for row in board.blocked_by_budget] == ["spent-1"]
    page = console.get("/staff/").text
    assert "Tenant kill switch: abuse" in page
    assert "Budget reached: $0.50 of $0.50" in page


@freeze_time(NOON)
def test_a_budget_below_one_call_is_blocked_with_nothing_spent(make_tenant):
    make_tenant("tiny-1", daily_budget_override=Decimal("0.000001"))
    assert [row.tenant.id for row in dashboard_read().blocked_by_budget] == ["tiny-1"]


@freeze_time(NOON)
def test_the_dashboard_makes_the_same_queries_for_3_or_30_tenants(console, make_tenant):
    def queries(count: int) -> int:
        for n in range(count):
            tenant = make_tenant(f"t{count}-{n}", daily_budget_override=Decimal("0.2"))
            _record(tenant, "0.2")  # spent: in the top ten and blocked
        with CaptureQueriesContext(connection) as captured:
            assert console.get("/staff/").status_code == 200
        return len(captured)

    assert queries(3) == queries(30)


@freeze_time(NOON)
def test_the_autopilot_card_counts_the_platforms_jobs_and_links_to_the_queue(
    console, shops, make_job
):
    # given waiting, running and failed jobs on two tenants, the oldest due for 3 hours
    make_job(shops[0], "queued", waited=timedelta(hours=3))
    make_job(shops[1], "queued", waited=timedelta(minutes=10))
    make_job(shops[1], "deferred", next_run_at=timezone.now() + timedelta(hours=12))
    make_job(shops[0], "paused")
    make_job(shops[0], "running")
    make_job(shops[1], "failed")
    make_job(shops[1], "succeeded")  # finished: not on the card
    # when the dashboard is read
    autopilot = dashboard_read().autopilot
    # then the card has the platform's counts and the oldest wait
    counts = {state.status: state.count for state in autopilot.states}
    assert counts == {"queued": 2, "deferred": 1, "paused": 1, "running": 1, "failed": 1}
    assert autopilot.waiting == 4
    assert autopilot.oldest_waiting == timezone.now() - timedelta(hours=3)
    page = console.get("/staff/").text
    assert '<p class="figure" data-value="autopilot-waiting">4 jobs waiting</p>' in page
    assert '<dd data-autopilot-status="failed">1</dd>' in page
    assert "Oldest waiting: 3\xa0hours" in page
    assert 'href="/staff/ai/autopilotjob/queue/"' in page


def test_the_autopilot_card_says_when_no_job_is_due(console):
    page = console.get("/staff/").text
    assert '<p class="figure" data-value="autopilot-waiting">0 jobs waiting</p>' in page
    assert "No job is due to run now." in page
