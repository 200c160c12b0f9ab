"""Sending the outbox, outside the request path (`manage.py deliver_alerts`).

Each delivery is claimed in a short transaction (row locked with SKIP LOCKED on PostgreSQL, so
concurrent senders never take the same one; `claimed_until` set to now + a lease; commit), sent
outside any transaction, then its outcome is recorded, only if the claim is still ours:

- success: `sent`, `delivered_at`; a sent delivery is never claimed again;
- failure: one more attempt, retried after base * 2^(attempts-1) seconds (at most an hour),
  `dead` after ALERT_MAX_ATTEMPTS attempts (or at once when nothing could ever deliver it);
- a sender that dies leaves its claim to expire: another pass retries the delivery.

So delivery is at least once: a sender dying between the send and the record, or outliving its
lease, sends again. Receivers dedupe by the event id (`X-KeyBuzz-Event-Id`: the alert's id, or
a callback's delivery id).

Callbacks (an Autopilot job's final state, alerts.callbacks) are rows of this same outbox,
sent by the same claim, signer and retry policy.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .emails import EMAIL_TIMEOUT_SECONDS, alert_email_send
from .exceptions import DeliveryFailed, Undeliverable
from .models import AlertDelivery, WebhookEndpoint
from .webhooks import signed_post, webhook_send

logger = logging.getLogger(__name__)

Status = AlertDelivery.Status
MAX_RETRY_DELAY = timedelta(hours=1)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # to be retried
    dead: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.failed} failed (will retry), {self.dead} dead"


def claim_lease() -> timedelta:
    """How long a claimed delivery is left to its sender: well over one send's timeouts."""
    longest = max(settings.KEYBUZZ["ALERT_WEBHOOK_TIMEOUT_SECONDS"], EMAIL_TIMEOUT_SECONDS)
    return timedelta(seconds=60 + 4 * longest)


def retry_delay(*, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2 * base, 4 * base, ..."""
    base = settings.KEYBUZZ["ALERT_RETRY_BASE_SECONDS"]
    return min(timedelta(seconds=base * 2 ** min(attempts - 1, 30)), MAX_RETRY_DELAY)


def alerts_deliver(*, limit: int) -> DeliveryReport:
    """Send up to `limit` due deliveries, one claim at a time; returns what happened."""
    report = DeliveryReport()
    for _ in range(limit):
        claimed = _claim_next()
        if claimed is None:
            break
        delivery, claim = claimed
        try:
            _send(delivery)
        except Exception as error:  # any failure of this attempt: recorded, retried
            if not isinstance(error, DeliveryFailed):
                logger.exception("Delivery %s of alert %s failed.", delivery.pk, delivery.alert_id)
            dead = _record_failure(delivery, claim=claim, error=error)
            report.dead += dead
            report.failed += not dead
        else:
            _record_success(delivery, claim=claim)
            report.sent += 1
    return report


def alert_deliveries_resend(*, deliveries) -> int:
    """Make deliveries pending again from a fresh start (a staff decision: even sent ones)."""
    return deliveries.update(
        status=Status.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        claimed_until=None,
        last_error="",
        delivered_at=None,
    )


def _claim_next() -> tuple[AlertDelivery, datetime] | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            AlertDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("next_attempt_at", "pk")
            .select_related("alert__tenant")
            .first()
        )
        if delivery is None:
            return None
        delivery.claimed_until = now + claim_lease()
        delivery.save(update_fields=["claimed_until"])
    return delivery, delivery.claimed_until


def _send(delivery: AlertDelivery) -> None:
    alert = delivery.alert
    if delivery.channel == AlertDelivery.Channel.EMAIL:
        alert_email_send(alert=alert)
        return
    if delivery.channel == AlertDelivery.Channel.CALLBACK:
        # To the job's own URL, signed with the tenant's webhook secret (active or not).
        endpoint = WebhookEndpoint.objects.filter(tenant_id=delivery.tenant_id).first()
        if endpoint is None:
            raise Undeliverable("the tenant has no webhook secret any more")
        signed_post(url=delivery.url, secret=endpoint.secret, event_id=delivery.event_id,
                    body=delivery.body.encode())  # fmt: skip
        return
    endpoint = WebhookEndpoint.objects.filter(tenant_id=alert.tenant_id, is_active=True).first()
    if endpoint is None:
        raise Undeliverable("the tenant has no active webhook endpoint any more")
    webhook_send(endpoint=endpoint, alert=alert)


def _ours(delivery: AlertDelivery, claim: datetime):
    """The delivery while our claim holds; a sender that took it over after our lease ran
    out owns its outcome."""
    return AlertDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING, claimed_until=claim)


def _record_success(delivery: AlertDelivery, *, claim: datetime) -> None:
    recorded = _ours(delivery, claim).update(
        status=Status.SENT,
        attempts=delivery.attempts + 1,
        delivered_at=timezone.now(),
        claimed_until=None,
        last_error="",
    )
    if not recorded:
        logger.warning("Delivery %s was sent after its claim ran out.", delivery.pk)


def _record_failure(delivery: AlertDelivery, *, claim: datetime, error: Exception) -> bool:
    """Record the failed attempt; returns whether the delivery is now dead."""
    attempts = delivery.attempts + 1
    dead = isinstance(error, Undeliverable) or attempts >= settings.KEYBUZZ["ALERT_MAX_ATTEMPTS"]
    message = (str(error) or type(error).__name__)[:1000]
    _ours(delivery, claim).update(
        status=Status.DEAD if dead else Status.PENDING,
        attempts=attempts,
        next_attempt_at=timezone.now() + retry_delay(attempts=attempts),
        claimed_until=None,
        last_error=message,
    )
    log = logger.error if dead else logger.warning
    log("Delivery %s of alert %s: attempt %d failed: %s", delivery.pk, delivery.alert_id,
        attempts, message)  # fmt: skip
    return dead
