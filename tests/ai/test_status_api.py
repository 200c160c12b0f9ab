"""GET /ai/assist/status: availability and today's budget, O(1) in history."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from usage.budget import Hold, budget_reserve
from usage.models import AIUsage
from usage.recording import UsageEntry, usage_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client_for, member):
    return client_for(member)


@pytest.fixture
def with_litellm(settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "LITELLM_MASTER_KEY": "test-master-key"}


def status(client, tenant_id="ecomlg-001"):
    return client.get("/ai/assist/status", {"tenantId": tenant_id})


def _spend(tenant, usd: str, **fields) -> None:
    usage_record(
        entry=UsageEntry(
            tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
            status="success", cost_usd=Decimal(usd), **fields,
        )
    )  # fmt: skip


def test_a_fresh_tenant_is_available_with_its_whole_budget(reader, with_litellm):
    response = status(reader)
    assert response.status_code == 200
    assert response.json() == {
        "available": True, "provider": "litellm", "plan": "pro", "model": "kbz-standard",
        "budget": {"dailyBudget": 10, "used": 0, "reserved": 0, "remaining": 10, "allowed": True},
        "alertsToday": [], "routing": {"defaultModel": "kbz-standard", "reason": "default"},
    }  # fmt: skip


def test_used_is_the_settled_spend_of_today(reader, tenant):
    _spend(tenant, "0.002589")
    budget = status(reader).json()["budget"]
    assert (budget["used"], budget["remaining"]) == (0.002589, 9.997411)


def test_reserved_is_what_calls_in_flight_hold(reader, tenant):
    call = UsageEntry(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                      status="success")  # fmt: skip
    budget_reserve(
        tenant=tenant,
        admitted_at=timezone.now(),
        holds=[Hold(worst_case=Decimal("0.25"), call=call)],
    )
    assert status(reader).json()["budget"]["reserved"] == 0.25


def test_the_provider_is_fallback_without_a_master_key(reader, settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "LITELLM_MASTER_KEY": ""}
    assert status(reader).json()["provider"] == "fallback"


@pytest.mark.parametrize(
    ("switch", "reason"),
    [(["--tenant", "ecomlg-001"], "tenant_kill_switch"), ([], "global_kill_switch")],
)
def test_a_kill_switch_makes_it_unavailable_with_its_reason(reader, switch, reason):
    call_command("kill_switch", "on", *switch, "--reason", "test", stdout=None)
    body = status(reader).json()
    assert (body["available"], body["reason"], body["budget"]["allowed"]) == (False, reason, True)


def test_a_budget_too_spent_for_a_minimal_call_is_not_allowed(reader, tenant):
    # given a day spent to within less than one minimal worst-case call of its budget (on the
    # cheapest alias its route table names, at AI_MIN_OUTPUT_TOKENS)
    _spend(tenant, "9.9999")
    # then
    body = status(reader).json()
    assert (body["available"], body["reason"], body["budget"]["allowed"]) == (
        False, "budget_exceeded", False,
    )  # fmt: skip
    assert body["budget"]["remaining"] == pytest.approx(0.0001)


@freeze_time("2026-03-10 12:00:00")  # an hour ago is the same day in the tenant's timezone
def test_status_closes_abandoned_reservations_it_finds(reader, tenant):
    # given a call admitted an hour ago whose process died
    call = UsageEntry(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                      status="success", request_id="req-dead")  # fmt: skip
    hold = Hold(worst_case=Decimal("0.5"), call=call)
    budget_reserve(tenant=tenant, holds=[hold], admitted_at=timezone.now() - timedelta(hours=1))
    # when the status is read
    budget = status(reader).json()["budget"]
    # then the dead call shows as used (its abandoned row), not as held
    assert (budget["used"], budget["reserved"]) == (0.5, 0)
    assert AIUsage.objects.get().error_code == "abandoned"


def test_staff_read_any_tenants_status(client_for, staff, tenant):
    assert status(client_for(staff)).status_code == 200


def test_another_tenants_status_is_403(client_for, make_user, tenant):
    assert status(client_for(make_user("outsider@else.test"))).status_code == 403


def test_a_status_without_tenant_id_is_400(reader):
    response = reader.get("/ai/assist/status")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["tenantId"])


def test_the_status_reads_only_todays_counter(reader, tenant, django_assert_num_queries):
    # auth, tenant with membership, switches, today's counter, the plan's prices (routing),
    # today's alerts
    with django_assert_num_queries(6):
        status(reader)
