"""Which job a free worker takes next (CONTRACT §9 fairness), decided by the database.

One statement picks, among tenants below their plan's `autopilot_concurrency`, the tenant with
the fewest jobs running, and its longest-waiting claimable job (oldest `next_run_at`, then
oldest job); a conditional UPDATE (transitions.job_start) then takes it. "Fewest running" is a
decision over every tenant and worker at once, so on PostgreSQL the claims are serialized by
one transaction-level advisory lock: a claim holds it for about a millisecond, the model call
runs outside it. Without it, two workers could each see a tenant at cap - 1 and both start
one. SQLite (make run, one worker) serializes writers by itself; the conditional UPDATE
still refuses a job another process took.

A claim that finds a job past its deadline expires it and looks again. A paused job is
claimable only from its deadline (its `next_run_at`), and only to expire it.
"""

from django.db import connection, transaction
from django.utils import timezone

from ai.models import AutopilotJob
from tenants.models import Plan, Tenant

from .transitions import Lease, job_expire, job_start

Status = AutopilotJob.Status
MAX_LOOKS = 20  # jobs expired (or lost to another process) before a claim gives up for now
CLAIM_LOCK_KEY = 7_246_135_001  # pg_advisory_xact_lock key of Autopilot claims
_JOB, _TENANT, _PLAN = AutopilotJob._meta.db_table, Tenant._meta.db_table, Plan._meta.db_table

_READY = (
    "\"status\" IN ('queued', 'deferred', 'paused', 'running') AND {0}.\"next_run_at\" <= %(now)s"
)
_NEXT_CLAIMABLE = (
    # Per tenant: how many of its jobs run now (leases not ended), and its first claimable
    # job (its head); the tenant with the fewest running wins, below its plan's cap. Each
    # subquery is one probe of an index on (tenant, ...).
    f"SELECT c.head FROM ("  # noqa: S608 (table names from _meta)
    f'  SELECT p."autopilot_concurrency" AS cap,'
    f'    (SELECT COUNT(*) FROM "{_JOB}" r WHERE r."tenant_id" = t."id"'
    f'       AND r."status" = \'running\' AND r."next_run_at" > %(now)s) AS running,'
    f'    (SELECT w."id" FROM "{_JOB}" w WHERE w."tenant_id" = t."id" AND w.{_READY.format("w")}'
    f'       ORDER BY w."next_run_at", w."created_at" LIMIT 1) AS head'
    f'  FROM "{_TENANT}" t JOIN "{_PLAN}" p ON p."code" = t."plan_id"'
    f') c JOIN "{_JOB}" j ON j."id" = c.head '
    f'WHERE c.running < c.cap ORDER BY c.running, j."next_run_at", j."created_at" LIMIT 1'
)


def job_claim_next() -> Lease | None:
    """Start the next job a free worker should run, or None if no job may run now."""
    for _ in range(MAX_LOOKS):
        with transaction.atomic():
            now = timezone.now()
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_KEY])
            with connection.cursor() as cursor:
                cursor.execute(_NEXT_CLAIMABLE, {"now": now})
                row = cursor.fetchone()
            if row is None:
                return None
            job = AutopilotJob.objects.select_related("tenant__plan__model").get(pk=row[0])
            if job.deadline <= now:
                job_expire(job=job, now=now)
                continue
            if job.status == Status.PAUSED:
                continue  # not due: a paused job is looked at only at its deadline
            lease = job_start(job=job, now=now, redriven=job.status == Status.RUNNING)
            if lease is not None:
                return lease
    return None
