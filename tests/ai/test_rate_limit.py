"""The per-tenant rate limit of POST /ai/assist: the plan's requests per minute (GCRA)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from ai.exceptions import TenantRateLimited
from ai.models import RateLimitState
from ai.rate_limit import rate_limit_take
from tenants.models import Plan
from tests.ai.conftest import answer, post, seed_request
from tests.fakes.upstream import FakeUpstream
from usage.models import AIUsage, BudgetCounter, Reservation

pytestmark = pytest.mark.django_db

NOON = "2026-03-10 12:00:00"


@pytest.fixture
def pro_limit():
    """Set the pro plan's requests per minute (the default tenant is on pro)."""

    def set_limit(requests_per_minute: int) -> None:
        Plan.objects.filter(pk="pro").update(requests_per_minute=requests_per_minute)

    return set_limit


def _blocked_rows():
    return AIUsage.objects.filter(status="blocked")


# --- the plans -------------------------------------------------------------------------------


def test_the_plans_are_seeded_with_their_requests_per_minute():
    limits = dict(Plan.objects.values_list("code", "requests_per_minute"))
    assert limits == {"starter": 30, "pro": 120, "autopilot": 600}


@pytest.mark.parametrize("plan", ["starter", "pro", "autopilot"])
def test_a_burst_admits_exactly_the_plans_requests_per_minute(make_tenant, plan):
    # given a tenant on the plan, and one instant
    tenant = make_tenant(f"shop-{plan}", plan=plan)
    limit, at = tenant.plan.requests_per_minute, timezone.now()
    # when it asks that many times at once, then once more
    for _ in range(limit):
        rate_limit_take(tenant=tenant, at=at)
    # then the next one is refused
    with pytest.raises(TenantRateLimited):
        rate_limit_take(tenant=tenant, at=at)


def test_a_plan_limit_changed_by_staff_applies_to_the_next_request(make_tenant):
    tenant = make_tenant("shop-1", plan="starter")
    at = timezone.now()
    rate_limit_take(tenant=tenant, at=at)
    Plan.objects.filter(pk="starter").update(requests_per_minute=1)
    tenant.plan.refresh_from_db()
    with pytest.raises(TenantRateLimited):
        rate_limit_take(tenant=tenant, at=at)


def test_staff_edit_the_limit_on_the_plan_page_of_the_console(client, make_user):
    client.force_login(make_user("root@keybuzz.test", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:tenants_plan_change", args=["pro"]))
    assert page.status_code == 200
    assert b'name="requests_per_minute"' in page.content


# --- the limiter -----------------------------------------------------------------------------


def test_the_limit_is_one_statement_whether_admitted_or_refused(make_tenant):
    tenant, at = make_tenant("shop-1", plan="starter"), timezone.now()
    Plan.objects.filter(pk="starter").update(requests_per_minute=1)
    tenant.plan.refresh_from_db()
    with CaptureQueriesContext(connection) as admitted:
        rate_limit_take(tenant=tenant, at=at)
    with CaptureQueriesContext(connection) as refused, pytest.raises(TenantRateLimited):
        rate_limit_take(tenant=tenant, at=at)
    assert (len(admitted), len(refused)) == (1, 1)


def test_retry_after_is_the_wait_until_the_next_admission_in_whole_seconds(make_tenant):
    # given a limit of 4 a minute (one every 15 s), spent at 12:00:00
    tenant = make_tenant("shop-1", plan="starter")
    Plan.objects.filter(pk="starter").update(requests_per_minute=4)
    tenant.plan.refresh_from_db()
    start = timezone.now()
    for _ in range(4):
        rate_limit_take(tenant=tenant, at=start)
    # then Retry-After counts down to the next slot, rounded up, never below 1
    for elapsed, retry_after in [(0, 15), (0.5, 15), (10, 5), (14.2, 1), (14.999, 1)]:
        with pytest.raises(TenantRateLimited) as refused:
            rate_limit_take(tenant=tenant, at=start + timedelta(seconds=elapsed))
        assert refused.value.retry_after == retry_after
        assert refused.value.headers == {"Retry-After": str(retry_after)}
    # and at 15 s one more is admitted, then the next one waits 15 s again
    rate_limit_take(tenant=tenant, at=start + timedelta(seconds=15))
    with pytest.raises(TenantRateLimited) as refused:
        rate_limit_take(tenant=tenant, at=start + timedelta(seconds=15))
    assert refused.value.retry_after == 15


def test_a_refused_request_does_not_push_the_next_admission_back(make_tenant):
    # given a limit of 1 a minute, spent
    tenant = make_tenant("shop-1", plan="starter")
    Plan.objects.filter(pk="starter").update(requests_per_minute=1)
    tenant.plan.refresh_from_db()
    start = timezone.now()
    rate_limit_take(tenant=tenant, at=start)
    tat = RateLimitState.objects.get(tenant=tenant).tat_micros
    # when a client keeps knocking
    for second in range(1, 60, 7):
        with pytest.raises(TenantRateLimited):
            rate_limit_take(tenant=tenant, at=start + timedelta(seconds=second))
    # then the state has not moved, and the minute after the first request it is admitted
    assert RateLimitState.objects.get(tenant=tenant).tat_micros == tat
    rate_limit_take(tenant=tenant, at=start + timedelta(seconds=60))


def test_a_tenant_keeps_one_state_row_whatever_the_traffic(make_tenant):
    tenant, start = make_tenant("shop-1", plan="autopilot"), timezone.now()
    for minute in range(5):
        for _ in range(20):
            rate_limit_take(tenant=tenant, at=start + timedelta(minutes=minute))
    assert RateLimitState.objects.filter(tenant=tenant).count() == 1


# --- POST /ai/assist -------------------------------------------------------------------------


def test_the_request_over_the_limit_is_429_rate_limited_with_retry_after_and_one_blocked_row(
    agent, litellm, pro_limit
):
    # given a tenant allowed 3 requests a minute that made them
    pro_limit(3)
    answer(litellm)
    with freeze_time(NOON):
        statuses = [post(agent, seed_request()).status_code for _ in range(3)]
        # when it makes a fourth in the same minute
        response = post(agent, seed_request(), HTTP_X_REQUEST_ID="req-4")
    # then 429 rate_limited with Retry-After (one slot every 20 s), as JSON
    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "20"
    assert response.json() | {"message": ""} == {
        "status": "rate_limited", "message": "", "requestId": "req-4",
    }  # fmt: skip
    # and one blocked row, with no upstream call
    row = _blocked_rows().get()
    assert (row.error_code, row.request_id, row.cost_usd_est, row.model) == (
        "rate_limited", "req-4", Decimal("0"), "kbz-standard",
    )  # fmt: skip
    assert len(litellm.calls) == 3


def test_another_tenant_is_not_affected(agent, litellm, pro_limit, make_tenant, make_user,
                                        client_for):  # fmt: skip
    # given one pro tenant at its limit
    pro_limit(1)
    answer(litellm)
    other = make_tenant("other-shop", plan="pro")
    other_agent = client_for(make_user("agent@other.test", tenant=other))
    with freeze_time(NOON):
        assert post(agent, seed_request()).status_code == 200
        assert post(agent, seed_request()).status_code == 429
        # when another tenant on the same plan asks, then it is answered
        assert post(other_agent, seed_request("other-shop")).status_code == 200


def test_once_the_wait_has_passed_the_tenant_is_admitted_again(agent, litellm, pro_limit):
    # given a tenant allowed 2 a minute that made them at noon
    pro_limit(2)
    answer(litellm)
    with freeze_time(NOON) as clock:
        assert [post(agent, seed_request()).status_code for _ in range(2)] == [200, 200]
        refused = post(agent, seed_request())
        # when the Retry-After has passed
        clock.tick(timedelta(seconds=int(refused["Retry-After"])))
        # then one more is admitted; and a minute after the burst, a whole burst again
        assert post(agent, seed_request()).status_code == 200
        assert post(agent, seed_request()).status_code == 429
        clock.tick(timedelta(seconds=60))
        assert [post(agent, seed_request()).status_code for _ in range(3)] == [200, 200, 429]


def test_a_kill_switched_tenant_gets_ai_disabled_not_rate_limited(agent, litellm, pro_limit):
    # given a tenant at its limit whose kill switch is then turned on
    pro_limit(1)
    answer(litellm)
    with freeze_time(NOON):
        assert post(agent, seed_request()).status_code == 200
        call_command("kill_switch", "on", "--tenant", "ecomlg-001", "--reason", "x", stdout=None)
        # when it asks again
        response = post(agent, seed_request())
    # then the switch answers, since it is checked first
    assert (response.status_code, response.json()["reason"]) == (403, "tenant_kill_switch")
    assert _blocked_rows().get().error_code == "tenant_kill_switch"


def test_requests_refused_by_a_kill_switch_do_not_use_the_limit(agent, litellm, pro_limit):
    pro_limit(2)
    answer(litellm)
    with freeze_time(NOON):
        call_command("kill_switch", "on", "--reason", "outage", stdout=None)
        assert {post(agent, seed_request()).status_code for _ in range(5)} == {503}
        call_command("kill_switch", "off", "--reason", "resolved", stdout=None)
        assert [post(agent, seed_request()).status_code for _ in range(2)] == [200, 200]


def test_a_rate_limited_request_is_not_charged_to_the_budget(agent, litellm, pro_limit):
    # given a tenant at its limit, with its spend so far
    pro_limit(1)
    answer(litellm)
    with freeze_time(NOON):
        post(agent, seed_request())
        before = BudgetCounter.objects.values_list("spent_micros", "reserved_micros").get()
        # when a request is refused by the limit
        assert post(agent, seed_request()).status_code == 429
    # then it reserved and spent nothing
    after = BudgetCounter.objects.values_list("spent_micros", "reserved_micros").get()
    assert after == before == (2589, 0)
    assert not Reservation.objects.exists()


def test_a_tenant_over_budget_and_over_its_limit_is_told_rate_limited(
    make_tenant, make_user, client_for, litellm, pro_limit
):
    # the rate limit comes before the budget: flooding never reaches the budget check
    pro_limit(1)
    tenant = make_tenant("ecomlg-001", daily_budget_override=Decimal("0.0001"))
    client = client_for(make_user("agent@ecomlg.test", tenant=tenant))
    with freeze_time(NOON):
        assert post(client, seed_request()).status_code == 402
        assert post(client, seed_request()).status_code == 429
    assert sorted(AIUsage.objects.values_list("error_code", flat=True)) == [
        "budget_exceeded", "rate_limited",
    ]  # fmt: skip


# --- across processes ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_requests_on_4_processes_admit_exactly_the_limit(
    app_server, make_tenant, make_user, token_for
):
    # given a tenant allowed 5 requests a minute, and an upstream that takes a second
    limit, sent = 5, 20
    Plan.objects.filter(pk="pro").update(requests_per_minute=limit)
    tenant = make_tenant("burst-1", plan="pro")
    auth = {"Authorization": f"Bearer {token_for(make_user('agent@burst.test', tenant=tenant))}"}
    body = {"tenantId": tenant.id, "payload": {"messages": [{"role": "customer", "content": "?"}]}}
    with FakeUpstream() as fake:
        fake.delay = 1.0
        server = app_server(
            workers=4, env={"LITELLM_BASE_URL": fake.url, "LITELLM_MASTER_KEY": "test-key"}
        )

        # when 20 requests arrive at once on 4 workers
        def ask(_):
            return requests.post(f"{server.url}/ai/assist", json=body, headers=auth, timeout=60)

        with ThreadPoolExecutor(max_workers=sent) as pool:
            responses = list(pool.map(ask, range(sent)))

    # then exactly 5 are answered, the others are 429 with a blocked row, never sent upstream
    statuses = [response.status_code for response in responses]
    assert (statuses.count(200), statuses.count(429)) == (limit, sent - limit)
    assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 429)
    assert len(fake.requests) == limit
    rows = AIUsage.objects.filter(tenant=tenant)
    assert rows.filter(status="success").count() == limit
    assert rows.filter(status="blocked", error_code="rate_limited").count() == sent - limit
    assert rows.count() == sent
