"""Alert webhooks, end to end on loopback: retried until accepted, received once, signed as
docs/ALERTS.md says (its verification snippet is run here)."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertDelivery
from alerts.webhooks import webhook_signature
from tests.alerts.conftest import spend
from tests.conftest import REPO_ROOT
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


def documented_verifier():
    """The `keybuzz_signature_valid` function of docs/ALERTS.md, as a receiver would paste it."""
    text = (REPO_ROOT / "docs" / "ALERTS.md").read_text()
    snippet = re.search(r"<!-- webhook-verification-snippet.*?```python\n(.*?)```", text, re.S)
    namespace: dict = {}
    exec(compile(snippet.group(1), "docs/ALERTS.md", "exec"), namespace)  # noqa: S102
    return namespace["keybuzz_signature_valid"]


def make_due() -> None:
    """Skip the backoff wait: every pending delivery is due now."""
    AlertDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())


def test_a_receiver_failing_twice_gets_the_alert_exactly_once_with_a_valid_signature(
    tenant, webhook_for, deliver
):
    with WebhookReceiver(statuses=[500, 500]) as receiver:
        # given a tenant whose endpoint answers 500 twice, then 200
        endpoint = webhook_for(tenant, receiver.url)
        # when a call crosses 80 % and three passes of deliver_alerts run
        spend(tenant, "8.5")
        alert = Alert.objects.get()
        outputs = [deliver()]
        for _ in range(2):
            make_due()
            outputs.append(deliver())
        # (and later passes find nothing more to send)
        make_due()
        deliver()
    # then it was tried three times and accepted once
    assert [hook.answered for hook in receiver.requests] == [500, 500, 200]
    (hook,) = receiver.delivered
    delivery = alert.deliveries.get(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    assert "1 failed (will retry)" in outputs[0]
    # with the event id, the documented body, and a signature the docs' snippet accepts
    assert hook.headers["x-keybuzz-event-id"] == alert.event_id
    assert hook.headers["content-type"] == "application/json"
    payload = json.loads(hook.body)
    assert payload == {
        "id": alert.event_id, "type": "budget_percent", "tenantId": "ecomlg-001",
        "date": alert.day.isoformat(), "threshold": 80, "spendUsd": 8.5, "budgetUsd": 10,
        "createdAt": payload["createdAt"],
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", payload["createdAt"])
    verify = documented_verifier()
    assert verify(endpoint.secret, hook.headers["x-keybuzz-signature"], hook.body)
    # and every attempt carried the same body and event id
    assert {request.body for request in receiver.requests} == {hook.body}


def test_the_documented_verifier_refuses_a_forged_or_replayed_request():
    verify = documented_verifier()
    body = b'{"id":"alert_1"}'
    now = 1_773_153_727
    header = webhook_signature(secret="whsec_s", timestamp=now, body=body)
    assert verify("whsec_s", header, body, now=now + 10)
    assert not verify("whsec_other", header, body, now=now)  # another secret
    assert not verify("whsec_s", header, body + b" ", now=now)  # another body
    assert not verify("whsec_s", header, body, now=now + 3600)  # replayed an hour later
    assert not verify("whsec_s", "garbage", body, now=now)


def test_a_redirect_is_a_failure_and_is_not_followed(tenant, webhook_for, deliver):
    with WebhookReceiver(statuses=[302]) as receiver:
        webhook_for(tenant, receiver.url)
        spend(tenant, "8.5")
        deliver()
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 302")
    assert len(receiver.requests) == 1


def test_an_unreachable_endpoint_is_retried_with_exponential_backoff(
    tenant, webhook_for, deliver, settings
):
    # given an endpoint where nothing listens
    with WebhookReceiver() as receiver:
        url = receiver.url
    webhook_for(tenant, url)
    spend(tenant, "8.5")
    delays = []
    # when two attempts fail
    for _ in range(2):
        before = timezone.now()
        deliver()
        delivery = AlertDelivery.objects.get(channel="webhook")
        delays.append(delivery.next_attempt_at - before)
        make_due()
    # then it waits the base, then twice the base, and says why
    assert timedelta(seconds=30) <= delays[0] < timedelta(seconds=32)
    assert timedelta(seconds=60) <= delays[1] < timedelta(seconds=62)
    assert delivery.last_error.startswith("ConnectionError")
