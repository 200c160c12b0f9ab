"""Every change of an Autopilot job's status, one function each (CONTRACT §9).

    queued ─claim→ running ─→ succeeded | failed           (final)
       ↑              ├─budget refused→ deferred ─next local day, top-up, budget change─┐
       │              ├─kill switch→ paused ─switch off──────────────────────────────────┤
       │              └─rate limit, upstream failure (back-off)──────────────────────────┤
       └──────────────────────────────────────────────────────────────────────────────────┘
    queued | deferred | paused ─cancel→ cancelled;  ─deadline passed before a run→ expired

A job that is not running is claimable from `next_run_at` on (a deferred job's next day, a
back-off's end; never past its deadline, so a claim then expires it). A running job's
`next_run_at` is its lease's end: past it, its worker is presumed dead and the job is claimable
again. Every write from `running` is a compare-and-set on the lease token, so a worker that
lost its lease can never overwrite the job's new run.

Each transition that leaves a job waiting for a time asks for a wake-up (`wakeup_needed`, sent
inside its transaction; tasks.py enqueues a task with `run_after`), so nothing polls.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from ai.models import AutopilotJob

from .callbacks import callback_enqueue
from .metrics import job_finished_observe

Status = AutopilotJob.Status
MAX_RETRY_DELAY = timedelta(hours=1)

# "Run the next job" is needed at `at` (None: now), `count` times. Sent inside the transaction
# that makes jobs claimable; the task backend's side (tasks.py) enqueues it in that transaction.
wakeup_needed = Signal()


@dataclass(frozen=True)
class Lease:
    """A worker's claim on a running job; `redriven`: the job's previous worker died."""

    job: AutopilotJob
    token: uuid.UUID
    redriven: bool


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.KEYBUZZ["AUTOPILOT_LEASE_SECONDS"])


def retry_delay(*, attempts: int) -> timedelta:
    """After the `attempts`-th failed run: base * 2^(attempts-1), jittered ±50 % so that jobs
    failing together do not retry together, at most an hour."""
    base = settings.KEYBUZZ["AUTOPILOT_RETRY_BASE_SECONDS"] * 2 ** min(attempts - 1, 20)
    return min(timedelta(seconds=base * random.uniform(0.5, 1.5)), MAX_RETRY_DELAY)  # noqa: S311


def job_queue(*, job: AutopilotJob) -> None:
    """A new job (already saved in this transaction) is claimable now."""
    _wake()


def job_start(*, job: AutopilotJob, now: datetime, redriven: bool) -> Lease | None:
    """queued | deferred | running (lease ended) → running, under a new lease. A re-driven
    job's dead run counts as an attempt; the lease's end asks for a wake-up that re-drives
    the job if this worker dies too."""
    token, lease_end = uuid.uuid4(), now + lease_duration()
    attempts = job.attempts + (1 if redriven else 0)
    started = _claimable(job, now).update(
        status=Status.RUNNING,
        lease_token=token,
        next_run_at=lease_end,
        attempts=attempts,
        started_at=job.started_at or now,
    )
    if not started:
        return None
    job.status, job.lease_token, job.next_run_at = Status.RUNNING, token, lease_end
    job.attempts, job.started_at = attempts, job.started_at or now
    _wake(at=lease_end + timedelta(seconds=5))
    return Lease(job=job, token=token, redriven=redriven)


def job_expire(*, job: AutopilotJob, now: datetime) -> bool:
    """Its deadline passed before it could run: expired, never run."""
    error = job_error("expired", "The deadline passed before the job could run.")
    expired = (
        AutopilotJob.objects.filter(pk=job.pk, status__in=AutopilotJob.UNFINISHED)
        .filter(deadline__lte=now)
        .update(
            status=Status.EXPIRED, finished_at=now, lease_token=None, next_run_at=now, error=error
        )
    )
    if expired:
        _finished(job, Status.EXPIRED, now=now, error=error)
    return bool(expired)


def job_succeed(*, lease: Lease, result: dict) -> bool:
    return _finish(lease, Status.SUCCEEDED, attempts=lease.job.attempts + 1, result=result)


def job_fail(*, lease: Lease, error: dict, attempted: bool) -> bool:
    attempts = lease.job.attempts + (1 if attempted else 0)
    return _finish(lease, Status.FAILED, attempts=attempts, error=error)


def job_retry_or_fail(*, lease: Lease, error: dict) -> str:
    """An upstream failure: one more attempt; back to the queue after a back-off, or failed
    after AUTOPILOT_MAX_ATTEMPTS. Returns the new status."""
    attempts = lease.job.attempts + 1
    if attempts >= settings.KEYBUZZ["AUTOPILOT_MAX_ATTEMPTS"]:
        job_fail(lease=lease, error=error, attempted=True)
        return Status.FAILED
    until = timezone.now() + retry_delay(attempts=attempts)
    _wait(lease, Status.QUEUED, until=until, attempts=attempts, error=error)
    return Status.QUEUED


def job_defer(*, lease: Lease, until: datetime) -> bool:
    """The budget refused it: it waits for the tenant's next local day, a top-up or a budget
    change (jobs_wake_deferred). Not an attempt."""
    return _wait(lease, Status.DEFERRED, until=until, attempts=lease.job.attempts)


def job_delay(*, lease: Lease, until: datetime) -> bool:
    """The rate limit refused it: queued again from its Retry-After. Not an attempt."""
    return _wait(lease, Status.QUEUED, until=until, attempts=lease.job.attempts)


def job_pause(*, lease: Lease) -> bool:
    """A kill switch is on: it waits for the switch to go off (jobs_resume_paused), or for
    its deadline, which expires it. Not an attempt."""
    return _wait(lease, Status.PAUSED, until=lease.job.deadline, attempts=lease.job.attempts)


def job_cancel(*, job: AutopilotJob) -> bool:
    """queued | deferred | paused → cancelled; False if it is in any other state."""
    now, error = timezone.now(), job_error("cancelled", "The job was cancelled before it ran.")
    cancelled = AutopilotJob.objects.filter(pk=job.pk, status__in=AutopilotJob.CANCELLABLE).update(
        status=Status.CANCELLED, finished_at=now, next_run_at=now, error=error
    )
    if cancelled:
        _finished(job, Status.CANCELLED, now=now, error=error)
    return bool(cancelled)


def jobs_wake_deferred(*, tenant_ids=None, plan_code: str | None = None) -> int:
    """deferred → queued now: a top-up or a change of the tenant's or the plan's budget (a
    plan's budget binds only its tenants without an override of their own)."""
    jobs = AutopilotJob.objects.filter(status=Status.DEFERRED)
    if plan_code:
        jobs = jobs.filter(tenant__plan_id=plan_code, tenant__daily_budget_override__isnull=True)
    else:
        jobs = jobs.filter(tenant_id__in=tenant_ids)
    return _requeue(jobs)


def jobs_resume_paused(*, tenant_id: str | None) -> int:
    """paused → queued now: a kill switch went off (tenant_id None: the global one)."""
    jobs = AutopilotJob.objects.filter(status=Status.PAUSED)
    return _requeue(jobs.filter(tenant_id=tenant_id) if tenant_id else jobs)


def jobs_retry_failed(*, tenant_id: str) -> int:
    """failed → queued now, attempts from zero: a staff decision, audited by the console."""
    jobs = AutopilotJob.objects.filter(status=Status.FAILED, tenant_id=tenant_id)
    return _requeue(jobs, attempts=0, error=None, finished_at=None)


def _claimable(job: AutopilotJob, now: datetime):
    ready = Q(status__in=(Status.QUEUED, Status.DEFERRED)) | Q(status=Status.RUNNING)
    return AutopilotJob.objects.filter(ready, pk=job.pk, next_run_at__lte=now, deadline__gt=now)


def _ours(lease: Lease):
    return AutopilotJob.objects.filter(
        pk=lease.job.pk, status=Status.RUNNING, lease_token=lease.token
    )


def _wait(lease: Lease, status: str, *, until: datetime, attempts: int, error=None) -> bool:
    until = min(until, lease.job.deadline)  # a claim past the deadline expires it
    moved = _ours(lease).update(
        status=status, next_run_at=until, lease_token=None, attempts=attempts, error=error
    )
    if moved:
        _wake(at=until)
        _successor(lease)
    return bool(moved)


def _finish(lease: Lease, status: str, *, attempts: int, result=None, error=None) -> bool:
    now = timezone.now()
    finished = _ours(lease).update(
        status=status, attempts=attempts, result=result, error=error, finished_at=now,
        lease_token=None, next_run_at=now,
    )  # fmt: skip
    if finished:
        lease.job.attempts, lease.job.result, lease.job.error = attempts, result, error
        _finished(lease.job, status, now=now, error=error)
        _successor(lease)
    return bool(finished)


def _finished(job: AutopilotJob, status: str, *, now: datetime, error) -> None:
    job.status, job.finished_at, job.next_run_at, job.error = status, now, now, error
    job_finished_observe(job=job)
    if job.callback_url:
        callback_enqueue(job=job)


def _successor(lease: Lease) -> None:
    """A run of this tenant ended: if more of its jobs are due, a run slot of the tenant is
    free, so one more "run the next job" is needed (the per-tenant cap may have held one)."""
    now = timezone.now()
    due = AutopilotJob.objects.filter(
        tenant_id=lease.job.tenant_id,
        status__in=(Status.QUEUED, Status.DEFERRED),
        next_run_at__lte=now,
    )
    if due.exists():
        _wake()


def _requeue(jobs, **changes) -> int:
    """Make the jobs claimable now; one wake-up per job, up to each tenant's cap (the runs'
    successors take the rest)."""
    now = timezone.now()
    with transaction.atomic():
        woken = list(
            jobs.select_for_update(of=("self",)).values_list(
                "pk", "tenant_id", "tenant__plan__autopilot_concurrency"
            )
        )
        if not woken:
            return 0
        AutopilotJob.objects.filter(pk__in=[pk for pk, _, _ in woken]).update(
            status=Status.QUEUED, next_run_at=now, **changes
        )
        per_tenant: dict[str, int] = {}
        caps = {}
        for _, tenant_id, cap in woken:
            per_tenant[tenant_id] = per_tenant.get(tenant_id, 0) + 1
            caps[tenant_id] = cap
        _wake(count=sum(min(n, caps[t]) for t, n in per_tenant.items()))
    return len(woken)


def _wake(*, at: datetime | None = None, count: int = 1) -> None:
    wakeup_needed.send(sender=AutopilotJob, at=at, count=count)


def job_error(code: str, message: str) -> dict:
    """A job's `error` as the API shows it: {code, message}."""
    return {"code": code, "message": message}
