"""What tenants see of their alerts: `alertsToday` on the status endpoint (and its selector,
which the usage page uses too); and an assist call that raises one does no network I/O."""

import socket
from datetime import timedelta

import pytest
from django.core import mail
from freezegun import freeze_time

from alerts.models import Alert
from alerts.selectors import alerts_today
from tests.ai.conftest import answer, post, seed_request
from tests.alerts.conftest import refuse, spend

pytestmark = pytest.mark.django_db


def test_the_status_lists_todays_alerts_oldest_first(client_for, member, tenant):
    # given a tenant past 80 % today, then refused by the budget
    spend(tenant, "8.5")
    refuse(tenant)
    # when one of its members reads the status
    body = client_for(member).get("/ai/assist/status", {"tenantId": tenant.id}).json()
    # then both alerts are there, with when they happened
    alerts = body["alertsToday"]
    assert [(alert["kind"], alert["threshold"]) for alert in alerts] == [
        ("budget_percent", 80), ("budget_blocked", None),
    ]  # fmt: skip
    assert all(alert["at"].endswith("Z") for alert in alerts)


def test_yesterdays_alerts_are_not_todays(client_for, member, tenant):
    with freeze_time(tenant.local_day() - timedelta(days=1)):
        spend(tenant, "8.5")
    assert Alert.objects.exists()
    body = client_for(member).get("/ai/assist/status", {"tenantId": tenant.id}).json()
    assert body["alertsToday"] == []
    assert alerts_today(tenant=tenant) == []


def test_another_tenants_alerts_are_not_shown(client_for, member, tenant, make_tenant):
    spend(make_tenant("other-1"), "8.5")
    assert alerts_today(tenant=tenant) == []


@pytest.fixture
def no_network(monkeypatch):
    """Any socket connection fails the test: SMTP, webhooks, DNS lookups included."""
    attempts = []

    def refuse_connect(sock, address):
        attempts.append(address)
        raise AssertionError(f"network I/O on the assist path: connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse_connect(None, a))
    return attempts


def test_an_assist_call_that_crosses_80_percent_raises_the_alert_without_any_network_io(
    client_for, member, tenant, owner, staff, litellm, webhook_for, no_network
):
    # given a tenant at 79.99 % of its budget, with a webhook endpoint and people to email
    webhook_for(tenant, "https://hooks.example.com/kbz")
    spend(tenant, "7.999")
    # when an assist call (LiteLLM mocked at its HTTP seam) takes it past 80 %
    answer(litellm, prompt_tokens=1000, completion_tokens=1000)  # 0.018 USD
    response = post(client_for(member), seed_request())
    # then it is answered, the alert and its deliveries are in the outbox, and nothing was sent
    assert response.status_code == 200
    alert = Alert.objects.get()
    assert (alert.kind, alert.threshold) == ("budget_percent", 80)
    assert sorted(alert.deliveries.values_list("channel", "status")) == [
        ("email", "pending"), ("webhook", "pending"),
    ]  # fmt: skip
    assert no_network == []
    assert mail.outbox == []
    assert len(litellm.calls) == 1  # the one upstream call, through the mock
