"""What the API and the console do to Autopilot jobs: create, cancel, retry (CONTRACT §9)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from alerts.models import WebhookEndpoint
from keybuzz.errors import InvalidRequest
from keybuzz.outbound import OutboundAddressRefused, outbound_url_check
from tenants.models import Tenant

from ..exceptions import IdempotencyKeyMismatch, PlanFeatureUnavailable, QueueFull
from ..idempotency import RETENTION as IDEMPOTENCY_RETENTION
from ..idempotency import idempotency_request_hash
from ..models import AutopilotJob
from .transitions import job_queue

DEFAULT_DEADLINE = timedelta(hours=24)
MAX_DEADLINE = timedelta(days=7)
PENDING_LOCK_CLASS = 7_246_135  # pg_advisory_xact_lock(class, hashtext(tenant)): one creator


@dataclass(frozen=True)
class JobCreated:
    job: AutopilotJob
    created: bool  # False: the Idempotency-Key's existing job


def job_create(
    *, tenant: Tenant, user_id: str, body: dict, request_id: str, idempotency_key: str | None
) -> JobCreated:
    """Accept a job for later (CONTRACT §9): checked, stored and enqueued in one transaction,
    so a job exists if and only if its "run the next job" task does.

    `body` is the validated request (POST /ai/assist's plus callbackUrl and deadline, None when
    absent). The same Idempotency-Key within 24 hours gives the existing job, or 422 with
    another body.
    """
    if not tenant.plan.autopilot_enabled:
        raise PlanFeatureUnavailable()
    now = timezone.now()
    deadline = _deadline(body.get("deadline"), now=now)
    callback_url = body.get("callbackUrl") or ""
    if callback_url:
        _callback_check(tenant=tenant, url=callback_url)
    request_hash = idempotency_request_hash(
        {**body, "deadline": body["deadline"].isoformat() if body.get("deadline") else None}
    )
    job = AutopilotJob(
        tenant=tenant,
        request={
            "payload": body["payload"],
            "quality": body["quality"],
            "contextType": body.get("contextType", ""),
            "contextId": body.get("contextId", ""),
        },
        request_id=request_id,
        created_by=user_id,
        idempotency_key=idempotency_key or "",
        request_hash=request_hash,
        callback_url=callback_url,
        created_at=now,
        next_run_at=now,
        deadline=deadline,
    )
    try:
        with transaction.atomic():
            _lock_tenant_queue(tenant)
            if idempotency_key is not None:
                existing = _idempotent_job(tenant, idempotency_key, request_hash, now=now)
                if existing is not None:
                    return JobCreated(job=existing, created=False)
            pending = AutopilotJob.objects.filter(
                tenant=tenant, status__in=AutopilotJob.UNFINISHED
            ).count()
            if pending >= settings.KEYBUZZ["AUTOPILOT_MAX_PENDING_PER_TENANT"]:
                raise QueueFull()
            job.save(force_insert=True)
            job_queue(job=job)
    except IntegrityError:
        # The same key, created meanwhile by a concurrent request (SQLite: no tenant lock).
        existing = _idempotent_job(tenant, idempotency_key, request_hash, now=now)
        if existing is None:
            raise
        return JobCreated(job=existing, created=False)
    return JobCreated(job=job, created=True)


def _deadline(given: datetime | None, *, now: datetime) -> datetime:
    if given is None:
        return now + DEFAULT_DEADLINE
    if given <= now:
        raise InvalidRequest(errors={"deadline": ["Must be in the future."]})
    if given > now + MAX_DEADLINE:
        raise InvalidRequest(errors={"deadline": ["Must be at most 7 days from now."]})
    return given


def _callback_check(*, tenant: Tenant, url: str) -> None:
    try:
        outbound_url_check(url)
    except OutboundAddressRefused as refused:
        raise InvalidRequest(errors={"callbackUrl": [str(refused)]}) from refused
    if not WebhookEndpoint.objects.filter(tenant=tenant).exists():
        raise InvalidRequest(
            errors={
                "callbackUrl": [
                    "Callbacks are signed with the tenant's webhook secret: the tenant needs a "
                    "webhook endpoint (docs/ALERTS.md) before it can use callbackUrl."
                ]
            }
        )


def _lock_tenant_queue(tenant: Tenant) -> None:
    """Serialize job creation per tenant, so the pending cap is exact (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [PENDING_LOCK_CLASS, tenant.id]
            )


def _idempotent_job(tenant: Tenant, key: str, request_hash: str, *, now: datetime):
    """The job this key created within 24 hours (422 if for another body); a key older than
    that is released for a new job."""
    existing = AutopilotJob.objects.filter(tenant=tenant, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.created_at <= now - IDEMPOTENCY_RETENTION:
        AutopilotJob.objects.filter(pk=existing.pk).update(idempotency_key="")
        return None
    if existing.request_hash != request_hash:
        raise IdempotencyKeyMismatch()
    return existing
