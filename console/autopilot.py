"""The console's view of Autopilot jobs (CONTRACT §9): the queue per tenant and platform-wide,
and the two staff actions on a tenant's jobs, retry the failed ones and cancel the waiting ones.

Every job changes through ai.autopilot.transitions, one job at a time where it offers no bulk
transition, so that callbacks and metrics follow each change as they do for the API's.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from ai.autopilot.selectors import TenantQueue, queues_by_tenant
from ai.autopilot.transitions import job_cancel
from ai.models import AutopilotJob
from tenants.models import Tenant

Status = AutopilotJob.Status
# The states the queue shows, in the order a job moves through them.
SHOWN = (Status.QUEUED, Status.DEFERRED, Status.PAUSED, Status.RUNNING, Status.FAILED)
CANCEL_CHUNK = 200  # jobs loaded at a time: a request body may weigh a megabyte


@dataclass(frozen=True)
class StateCount:
    status: str
    label: str
    count: int


def _state_counts(counts: dict[str, int]) -> list[StateCount]:
    return [StateCount(status, Status(status).label, counts.get(status, 0)) for status in SHOWN]


def _counts_of(queue: TenantQueue) -> dict[str, int]:
    return {status: getattr(queue, status) for status in SHOWN}


@dataclass(frozen=True)
class QueueRow:
    """One tenant's line of the queue page."""

    tenant: Tenant
    states: list[StateCount]
    waiting: int  # queued, deferred and paused: what "Cancel waiting jobs" would cancel
    failed: int
    oldest_waiting: datetime | None


@dataclass(frozen=True)
class QueueTotals:
    """The platform's queue, for the dashboard's card."""

    states: list[StateCount]
    waiting: int
    oldest_waiting: datetime | None


def queue_rows() -> list[QueueRow]:
    """Each tenant with unfinished or failed jobs, by tenant id."""
    queues = queues_by_tenant()
    tenants = Tenant.objects.select_related("plan").in_bulk([q.tenant_id for q in queues])
    return [
        QueueRow(
            tenant=tenants[queue.tenant_id],
            states=_state_counts(_counts_of(queue)),
            waiting=queue.queued + queue.deferred + queue.paused,
            failed=queue.failed,
            oldest_waiting=queue.oldest_waiting,
        )
        for queue in queues
        if queue.tenant_id in tenants  # a tenant deleted meanwhile took its jobs along
    ]


def queue_totals() -> QueueTotals:
    queues = queues_by_tenant()
    counts = {status: sum(getattr(queue, status) for queue in queues) for status in SHOWN}
    since = [queue.oldest_waiting for queue in queues if queue.oldest_waiting]
    return QueueTotals(
        states=_state_counts(counts),
        waiting=counts[Status.QUEUED] + counts[Status.DEFERRED] + counts[Status.PAUSED],
        oldest_waiting=min(since, default=None),
    )


def tenant_jobs_count(*, tenant: Tenant, statuses) -> int:
    return AutopilotJob.objects.filter(tenant=tenant, status__in=statuses).count()


def autopilot_waiting_cancel(*, tenant: Tenant) -> int:
    """Cancel the tenant's queued, deferred and paused jobs, all or none; a job a worker claimed
    meanwhile is left to finish (job_cancel refuses it)."""
    waiting = AutopilotJob.objects.filter(tenant=tenant, status__in=AutopilotJob.CANCELLABLE)
    cancelled = 0
    with transaction.atomic():
        pks = list(waiting.order_by("created_at").values_list("pk", flat=True))
        for start in range(0, len(pks), CANCEL_CHUNK):
            chunk = AutopilotJob.objects.filter(pk__in=pks[start : start + CANCEL_CHUNK])
            for job in chunk.defer("request"):
                cancelled += job_cancel(job=job)
    return cancelled
