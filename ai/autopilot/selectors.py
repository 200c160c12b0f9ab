"""What the API, the usage page and the console read of Autopilot jobs."""

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from keybuzz.errors import Forbidden, InvalidRequest, NotFound
from tenants.access import Access, TenantInactive, tenant_access_check
from tenants.models import Tenant, User

from ..models import AutopilotJob

Status = AutopilotJob.Status
PAGE_SIZE = 50


def job_for_user(*, user: User, job_id: str, access: Access) -> AutopilotJob:
    """The job, if `user` may use its tenant for `access`; another tenant's job is a 404, as
    is an unknown one."""
    try:
        pk = uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound(f"There is no Autopilot job “{job_id}”.") from None
    job = AutopilotJob.objects.select_related("tenant").filter(pk=pk).first()
    if job is None:
        raise NotFound(f"There is no Autopilot job “{job_id}”.")
    try:
        tenant_access_check(user=user, tenant_id=job.tenant_id, access=access)
    except TenantInactive:
        raise
    except Forbidden:
        raise NotFound(f"There is no Autopilot job “{job_id}”.") from None
    return job


@dataclass(frozen=True)
class JobsPage:
    jobs: list[AutopilotJob]
    next_cursor: str | None


def jobs_page(*, tenant: Tenant, status: str | None, cursor: str | None) -> JobsPage:
    """The tenant's jobs, newest first, PAGE_SIZE at a time; `cursor` continues a page."""
    jobs = AutopilotJob.objects.filter(tenant=tenant)
    if status:
        jobs = jobs.filter(status=status)
    if cursor:
        created_at, pk = _cursor_read(cursor)
        jobs = jobs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    found = list(jobs.order_by("-created_at", "-pk")[: PAGE_SIZE + 1])
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    return JobsPage(jobs=found, next_cursor=_cursor_of(found[-1]) if more else None)


def _cursor_of(job: AutopilotJob) -> str:
    raw = f"{job.created_at.isoformat()}|{job.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_read(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, pk = raw.split("|")
        created_at = parse_datetime(created)
        if created_at is None:
            raise ValueError(created)
        return created_at, uuid.UUID(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(errors={"cursor": ["Not a cursor this API gave."]}) from None


def jobs_today_by_status(*, tenant: Tenant) -> dict[str, int]:
    """The tenant's jobs created during its local today, by status (the usage page)."""
    counts = dict(
        AutopilotJob.objects.filter(tenant=tenant, created_at__gte=tenant.day_start())
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return {status: counts.get(status, 0) for status in Status.values}


@dataclass(frozen=True)
class TenantQueue:
    tenant_id: str
    queued: int
    deferred: int
    paused: int
    running: int
    failed: int
    oldest_waiting: datetime | None

    @property
    def oldest_waiting_age(self) -> timedelta | None:
        return timezone.now() - self.oldest_waiting if self.oldest_waiting else None


def queues_by_tenant() -> list[TenantQueue]:
    """Per tenant with unfinished or failed jobs: how many in each state, and since when its
    longest-waiting claimable job waits (the console's queue page)."""
    now = timezone.now()
    waiting = Q(status__in=(Status.QUEUED, Status.DEFERRED), next_run_at__lte=now)
    rows = (
        AutopilotJob.objects.filter(status__in=(*AutopilotJob.UNFINISHED, Status.FAILED))
        .values("tenant_id")
        .annotate(
            **{
                s: Count("pk", filter=Q(status=s))
                for s in (*AutopilotJob.UNFINISHED, Status.FAILED)
            },
            oldest=Min("next_run_at", filter=waiting),
        )
        .order_by("tenant_id")
    )
    return [
        TenantQueue(
            tenant_id=row["tenant_id"], queued=row["queued"], deferred=row["deferred"],
            paused=row["paused"], running=row["running"], failed=row["failed"],
            oldest_waiting=row["oldest"],
        )
        for row in rows
    ]  # fmt: skip
