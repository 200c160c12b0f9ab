"""Idempotency-Key on POST /ai/assist (CONTRACT §4): a retry gets the first request's answer.

A key is scoped to its tenant and lives in one IdempotencyKey row:
- claimed by the first request with one INSERT … ON CONFLICT DO NOTHING, holding the SHA-256 of
  its validated body and a random holder token. Every later write is a compare-and-set on that
  token, so a request that lost the key (taken over) can never overwrite its new holder's row.
- completed, only by a 200: its exact JSON body is stored and every retry gets it back byte for
  byte, same `requestId` (also as X-Request-Id), with no new ai_usage row, no upstream call and
  no charge. A replay comes before the kill switches and the rate limit: it costs nothing.
- freed by any other outcome (a refusal, an upstream error, an exception): the row is deleted,
  so a retry runs again.

A duplicate that finds the key held by a request in flight polls the row, up to
AI_IDEMPOTENCY_WAIT_SECONDS: it replays the answer once stored, runs itself if the key was
freed, or answers 409 idempotency_in_progress. A holder still in flight after
AI_RESERVATION_TTL_SECONDS has died (no call lasts that long: the TTL exceeds the upstream
timeout), so its key may be taken over. A key claimed more than 24 hours ago counts as absent;
usage_purge deletes those.
"""

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from keybuzz.errors import InvalidRequest
from tenants.models import Tenant

from .exceptions import IdempotencyInProgress, IdempotencyKeyMismatch
from .models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
DEFAULT_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.1
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII


@dataclass(frozen=True)
class IdempotentAnswer:
    body: str  # the 200 answer's JSON
    request_id: str
    replayed: bool


@dataclass(frozen=True)
class _Claim:
    pk: int
    holder: str


def idempotency_key_from_header(value: str | None) -> str | None:
    """The request's Idempotency-Key, None without one; a malformed one is a 400."""
    if value is None:
        return None
    if not _VALID_KEY.fullmatch(value):
        raise InvalidRequest(
            errors={HEADER: ["Must be 1 to 255 printable ASCII characters."]},
        )
    return value


def idempotency_request_hash(validated: dict) -> str:
    """The fingerprint of a validated request body: the same request gives the same hash,
    whatever the key order or spacing of its JSON."""
    canonical = json.dumps(validated, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_run(
    *, tenant: Tenant, key: str, request_hash: str, request_id: str, run: Callable[[], str]
) -> IdempotentAnswer:
    """Answer the request once per tenant and key: `run()` (which returns the 200 body as
    JSON) by the request that claims the key, the stored answer for the others."""
    claim = _claim_or_replay(
        tenant=tenant, key=key, request_hash=request_hash, request_id=request_id
    )
    if isinstance(claim, IdempotentAnswer):
        return claim
    try:
        body = run()
    except BaseException:
        _release(claim)
        raise
    stored = IdempotencyKey.objects.filter(pk=claim.pk, holder=claim.holder).update(
        response_body=body, completed_at=timezone.now()
    )
    if not stored:
        logger.warning("Idempotency-Key of request %s was taken over before it ended.", request_id)
    return IdempotentAnswer(body=body, request_id=request_id, replayed=False)


def idempotency_keys_purge(*, batch_size: int = 10_000) -> int:
    """Delete the keys claimed more than 24 hours ago, in batches; return how many."""
    expired = IdempotencyKey.objects.filter(claimed_at__lt=timezone.now() - RETENTION).order_by()
    deleted = 0
    while ids := list(expired.values_list("pk", flat=True)[:batch_size]):
        count, _ = expired.filter(pk__in=ids).delete()  # unless taken over since the read
        deleted += count
    return deleted


def idempotency_keys_purge_with_usage(*, batch_size: int, **_) -> None:
    """A retention run (usage.signals.usage_purged) purges the expired keys too."""
    keys = idempotency_keys_purge(batch_size=batch_size)
    if keys:
        logger.info("Deleted %d expired idempotency key(s).", keys)


def _claim_or_replay(
    *, tenant: Tenant, key: str, request_hash: str, request_id: str
) -> _Claim | IdempotentAnswer:
    deadline = time.monotonic() + settings.KEYBUZZ.get(
        "AI_IDEMPOTENCY_WAIT_SECONDS", DEFAULT_WAIT_SECONDS
    )
    while True:
        now, holder = timezone.now(), uuid.uuid4().hex
        pk = IdempotencyKey.objects.claim(
            tenant_id=tenant.id,
            key=key,
            request_hash=request_hash,
            holder=holder,
            request_id=request_id,
            claimed_at=now,
        )
        if pk is not None:
            return _Claim(pk, holder)
        held = IdempotencyKey.objects.filter(tenant=tenant, key=key).first()
        if held is None:  # freed since the INSERT: claim it again
            pass
        elif _abandoned(held, now=now):
            if _take_over(held, request_hash=request_hash, holder=holder, request_id=request_id):
                logger.warning("Took over the Idempotency-Key of request %s.", held.request_id)
                return _Claim(held.pk, holder)
        elif held.request_hash != request_hash:
            raise IdempotencyKeyMismatch()
        elif held.completed_at is not None:
            logger.info("Replayed the answer of request %s (Idempotency-Key).", held.request_id)
            return IdempotentAnswer(held.response_body, held.request_id, replayed=True)
        else:
            if time.monotonic() >= deadline:
                raise IdempotencyInProgress()
            time.sleep(POLL_SECONDS)  # the first request is in flight: wait for its outcome
            continue
        if time.monotonic() >= deadline:  # a key fought over by claims and releases
            raise IdempotencyInProgress()


def _abandoned(held: IdempotencyKey, *, now: datetime) -> bool:
    """Expired (counts as absent), or held by a request that died in flight."""
    if held.claimed_at <= now - RETENTION:
        return True
    ttl = timedelta(seconds=settings.KEYBUZZ["AI_RESERVATION_TTL_SECONDS"])
    return held.completed_at is None and held.claimed_at <= now - ttl


def _take_over(held: IdempotencyKey, *, request_hash: str, holder: str, request_id: str) -> bool:
    """Compare-and-set on the old holder: of several requests taking over, one wins."""
    return bool(
        IdempotencyKey.objects.filter(pk=held.pk, holder=held.holder).update(
            request_hash=request_hash,
            holder=holder,
            request_id=request_id,
            claimed_at=timezone.now(),
            response_body="",
            completed_at=None,
        )
    )


def _release(claim: _Claim) -> None:
    """Free the key after any outcome but a 200, so that a retry runs again. If that fails
    (the database is gone), the key is taken over after the TTL."""
    try:
        IdempotencyKey.objects.filter(pk=claim.pk, holder=claim.holder).delete()
    except Exception:
        logger.exception("Could not free an Idempotency-Key; it is taken over after the TTL.")
