"""Callbacks: a body of a layer above (an Autopilot job's final state) POSTed to its own URL
through this outbox — the same rows, signer (the tenant's webhook secret), retry policy and
outbound address rule as alert webhooks (docs/ALERTS.md)."""

import uuid

from .models import AlertDelivery
from .tasks import deliveries_wakeup

CALLBACK_EVENT_PREFIX = "cb_"


def callback_delivery_enqueue(*, tenant_id: str, url: str, body: bytes) -> AlertDelivery:
    """Queue the POST, inside the caller's transaction; a worker sends it at once."""
    delivery = AlertDelivery.objects.create(
        channel=AlertDelivery.Channel.CALLBACK,
        tenant_id=tenant_id,
        url=url,
        body=body.decode(),
        event_id=f"{CALLBACK_EVENT_PREFIX}{uuid.uuid4().hex}",
    )
    deliveries_wakeup(at=None)
    return delivery
