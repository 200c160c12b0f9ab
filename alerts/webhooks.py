"""Alert webhooks: the JSON body, its signature, and the POST (docs/ALERTS.md).

The signature is `t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the receiver
recomputes it over the raw body it got, compares in constant time and refuses old timestamps,
so a captured request cannot be replayed later. The body is the same on every attempt; `t` is
the time of the attempt.
"""

import hashlib
import hmac
import json
import time
from datetime import UTC
from decimal import Decimal

import requests
from django.conf import settings

from keybuzz.outbound import OutboundAddressRefused, outbound_post

from .exceptions import DeliveryFailed
from .models import Alert, WebhookEndpoint, webhook_secret_new

EVENT_ID_HEADER = "X-KeyBuzz-Event-Id"
SIGNATURE_HEADER = "X-KeyBuzz-Signature"


def _number(value: Decimal | None) -> int | float | None:
    """Money and thresholds as JSON numbers (CONTRACT §2), integers when whole."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def webhook_body(*, alert: Alert) -> bytes:
    created_at = alert.created_at.astimezone(UTC).isoformat(timespec="milliseconds")
    payload = {
        "id": alert.event_id,
        "type": alert.kind,
        "tenantId": alert.tenant_id,
        "date": alert.day.isoformat(),
        "threshold": _number(alert.threshold),
        "spendUsd": _number(alert.spend_usd),
        "budgetUsd": _number(alert.budget_usd),
        "createdAt": created_at.replace("+00:00", "Z"),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The X-KeyBuzz-Signature header's value."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_send(*, endpoint: WebhookEndpoint, alert: Alert) -> None:
    """POST the alert to the tenant's endpoint (see signed_post)."""
    signed_post(
        url=endpoint.url,
        secret=endpoint.secret,
        event_id=alert.event_id,
        body=webhook_body(alert=alert),
    )


def signed_post(*, url: str, secret: str, event_id: str, body: bytes) -> None:
    """POST a body signed with the tenant's secret: alert webhooks and job callbacks alike.
    A 2xx answer is a success, anything else raises DeliveryFailed.

    Only to public addresses (CONTRACT §9): a URL whose name now resolves to a refused address
    fails without a connection. Redirects are not followed (a 3xx is a failure); the timeout
    bounds the connection and each read. The answer's body is never read.
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "KeyBuzz-Alerts/1",
        EVENT_ID_HEADER: event_id,
        SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=int(time.time()), body=body),
    }
    try:
        response = outbound_post(
            url,
            data=body,
            headers=headers,
            timeout=settings.KEYBUZZ["ALERT_WEBHOOK_TIMEOUT_SECONDS"],
        )
    except OutboundAddressRefused as refusal:
        raise DeliveryFailed(str(refusal)) from refusal
    except requests.RequestException as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
    with response:
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")


def webhook_secret_regenerate(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret for the endpoint, from its next delivery on; returns it (to be
    shown once)."""
    endpoint.secret = webhook_secret_new()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def webhook_secret_hint(secret: str) -> str:
    """The secret as the console shows it after creation: recognisable, not usable."""
    return f"{secret[:6]}…{secret[-4:]}" if secret else "—"
