"""The outbox's delivery states: retries until dead, sent once, claims that expire, resends."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.utils import timezone

from alerts.delivery import alerts_deliver
from alerts.exceptions import DeliveryFailed
from alerts.models import Alert, AlertDelivery
from tests.alerts.conftest import spend
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

ALERTS = "/staff/alerts/alert/"


@pytest.fixture
def alerted(tenant, owner):
    """A tenant past 80 % today, with an owner to email: one alert, one email delivery."""
    spend(tenant, "8.5")
    return Alert.objects.get()


def email_delivery() -> AlertDelivery:
    return AlertDelivery.objects.get(channel="email")


def test_a_delivery_is_dead_after_alert_max_attempts(alerted, deliver, settings):
    # given a mail server that always fails, and at most 3 attempts
    settings.KEYBUZZ = {**settings.KEYBUZZ, "ALERT_MAX_ATTEMPTS": 3}
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=OSError("mail down"),
    ):
        # when three passes each find it due
        outputs = []
        for _ in range(3):
            outputs.append(deliver())
            AlertDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    # then the third failure makes it dead, with the reason, and no later pass sends it
    delivery = email_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("dead", 3, "mail down")
    assert "1 dead" in outputs[-1]
    deliver()
    assert not mail.outbox


def test_a_sent_delivery_is_never_sent_again(alerted, deliver):
    deliver()
    assert len(mail.outbox) == 1
    delivery = email_delivery()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.delivered_at is not None
    # even if it looks due again
    AlertDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    deliver()
    assert len(mail.outbox) == 1


def test_a_delivery_not_yet_due_waits(alerted, deliver):
    AlertDelivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert "0 sent" in deliver()
    assert not mail.outbox


def test_a_claim_in_progress_is_left_alone_and_an_expired_one_is_retried(alerted, deliver):
    # given a sender that claimed the delivery and is still within its lease
    AlertDelivery.objects.update(claimed_until=timezone.now() + timedelta(minutes=1))
    # then another pass does not take it
    deliver()
    assert not mail.outbox
    # when that sender crashed and its lease ran out
    AlertDelivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    # then the next pass sends it
    deliver()
    assert len(mail.outbox) == 1
    assert (email_delivery().status, email_delivery().claimed_until) == ("sent", None)


def test_the_outcome_of_a_sender_that_outlived_its_lease_is_not_recorded(alerted):
    # given a send so slow that another sender took the delivery over meanwhile
    def slow_send(delivery):
        AlertDelivery.objects.update(claimed_until=timezone.now() + timedelta(minutes=9))
        raise DeliveryFailed("timeout")

    with mock.patch("alerts.delivery._send", side_effect=slow_send):
        alerts_deliver(limit=1)
    # then its failure does not overwrite what the other sender is doing
    delivery = email_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 0, "")


def test_an_unexpected_error_is_a_failed_attempt_not_a_crash(alerted):
    with mock.patch("alerts.delivery._send", side_effect=RuntimeError("bug")):
        report = alerts_deliver(limit=10)
    assert (report.sent, report.failed, report.dead) == (0, 1, 0)
    assert email_delivery().last_error == "bug"


def test_the_limit_bounds_one_pass(tenant, owner, make_tenant, make_user, deliver):
    for number in range(3):
        shop = make_tenant(f"shop-{number}")
        make_user(f"owner@shop-{number}.test", tenant=shop, role="owner")
        spend(shop, "8.5")
    assert "2 sent" in deliver("--limit", "2")
    assert AlertDelivery.objects.filter(status="pending").count() == 1


def test_resend_makes_the_chosen_alerts_deliveries_pending_again_and_logs_it(
    alerted, deliver, client, make_user, webhook_for
):
    # given an alert whose email was sent, and another whose webhook is dead
    with WebhookReceiver(then=500) as receiver:
        webhook_for(alerted.tenant, receiver.url)
        spend(alerted.tenant, "1.4999")  # 99.999 %: the budget is reached
        deliver()
    other = Alert.objects.get(threshold=100)
    AlertDelivery.objects.filter(alert=other, channel="webhook").update(status="dead", attempts=8)
    staff = make_user("support@keybuzz.test", is_staff=True, is_superuser=True)
    client.force_login(staff)
    # when staff resend the first one from the alerts list
    response = client.post(ALERTS, {"action": "resend", "_selected_action": [alerted.pk]})
    # then only its deliveries are pending again from attempt 0, and the log says who did it
    assert response.status_code == 302
    assert list(alerted.deliveries.values_list("status", "attempts", "delivered_at")) == [
        ("pending", 0, None)
    ]
    assert other.deliveries.get(channel="webhook").status == "dead"
    entry = LogEntry.objects.get(object_id=str(alerted.pk))
    assert (entry.user, "Resend requested" in entry.get_change_message()) == (staff, True)
    # and the next pass sends it again (to the owner, and now to the staff user too)
    mail.outbox.clear()
    deliver()
    assert [message.to for message in mail.outbox] == [
        ["owner@ecomlg.test"], ["support@keybuzz.test"],
    ]  # fmt: skip
    assert {message.extra_headers["X-KeyBuzz-Event-Id"] for message in mail.outbox} == {
        alerted.event_id
    }
