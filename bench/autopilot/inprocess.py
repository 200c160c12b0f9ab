"""The steps of the Autopilot benchmark that run inside Django, one subprocess each, with the
workers' environment (run.py); each prints one JSON line.

    python -m bench.autopilot.inprocess fixtures <tenants>
    python -m bench.autopilot.inprocess enqueue <spec JSON> <request-id prefix>
    python -m bench.autopilot.inprocess cost <tenants> <jobs> <warm-up jobs>

- fixtures: the `autopilot` plan raised so that neither its rate limit nor its budget refuses
  (60,000 requests a minute, the field's maximum; a $999,999 daily budget), and `bench-pilot-NN`
  tenants on it, each with a member user.
- enqueue: jobs through the real service (ai.autopilot.services.job_create: the job and its
  task in one transaction), a unique request_id each, the tenants' jobs interleaved.
- cost: a few hundred jobs run by django-tasks-db's own Worker class in this process (`db_worker
  --batch`: its claim of a task, the task body job_run_next, its finish), the statements counted
  with CaptureQueriesContext in one pass and the CPU timed without it in another, each split
  into what ran inside ai.services.assist_suggest (the pipeline) and the rest (the queue's own).
"""

import json
import sys
import time
from collections import deque
from contextlib import nullcontext
from decimal import Decimal

import django

from .meter import Meter, classified, sample

PLAN = "autopilot"
BENCH_BUDGET = Decimal("999999")  # the column's largest whole number of dollars
BENCH_REQUESTS_PER_MINUTE = 60_000  # the field's maximum
# What a pass writes (run.py empties the same before each part).
RUN_TABLES = (
    "ai_autopilot_job", "django_tasks_database_dbtaskresult", "ai_usage", "usage_usagerollup",
    "ai_budgetcounter", "ai_reservation", "ai_ratelimitstate", "ai_idempotencykey",
    "alerts_alert", "alerts_alertdelivery",
)  # fmt: skip
CONVERSATION = [{"role": "customer", "content": "Ma commande est en retard"}]


def tenant_ids(count: int) -> list[str]:
    return [f"bench-pilot-{number:02d}" for number in range(1, count + 1)]


def fixtures(count: str) -> dict:
    from tenants.models import Plan, Tenant
    from tenants.services import membership_get_or_create, tenant_create, user_get_or_create

    # An update, not a save: the bench database's plan, without waking anything.
    Plan.objects.filter(code=PLAN).update(
        autopilot_enabled=True,
        autopilot_concurrency=4,
        daily_budget_usd=BENCH_BUDGET,
        requests_per_minute=BENCH_REQUESTS_PER_MINUTE,
    )
    plan = Plan.objects.get(code=PLAN)
    for tenant_id in tenant_ids(int(count)):
        tenant = Tenant.objects.filter(pk=tenant_id).first() or tenant_create(
            tenant_id=tenant_id, name=f"Bench {tenant_id}", plan=plan
        )
        user, _ = user_get_or_create(email=f"{tenant_id}@keybuzz.localhost")
        membership_get_or_create(user=user, tenant=tenant)
    return {
        "plan": PLAN,
        "model": plan.model_id,
        "daily_budget_usd": str(plan.daily_budget_usd),
        "requests_per_minute": plan.requests_per_minute,
        "autopilot_concurrency": plan.autopilot_concurrency,
        "tenants": int(count),
    }


def _creators(ids: list[str]) -> dict:
    """tenant id: (the tenant with its plan, its member's user id, the validated body)."""
    from ai.autopilot.apis import JobsApi
    from keybuzz.bound_serializers import validated
    from tenants.models import Membership, Tenant

    tenants = Tenant.objects.select_related("plan__model").in_bulk(ids)
    members = dict(Membership.objects.filter(tenant_id__in=ids).values_list("tenant_id", "user"))
    return {
        tenant_id: (
            tenants[tenant_id],
            str(members[tenant_id]),
            validated(
                JobsApi.InputSerializer,
                {"tenantId": tenant_id, "payload": {"messages": CONVERSATION}},
            ),
        )
        for tenant_id in ids
    }


def _interleaved(spec: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """(tenant, its n-th job) round-robin over the tenants until each has its count."""
    order, most = [], max(count for _, count in spec)
    for number in range(most):
        order += [(tenant_id, number) for tenant_id, count in spec if number < count]
    return order


def enqueue(spec: str, prefix: str) -> dict:
    """Create the jobs `spec` asks for ([[tenant id, count], ...]); when Django logs statements
    (CaptureQueriesContext), those of job_create by kind."""
    from django.db import connection

    from ai.autopilot.services import job_create

    wanted = [(tenant_id, int(count)) for tenant_id, count in json.loads(spec)]
    creators = _creators([tenant_id for tenant_id, _ in wanted])
    order = _interleaved(wanted)
    first = len(connection.queries_log)
    started, cpu = time.perf_counter(), time.process_time()
    for tenant_id, number in order:
        tenant, user_id, body = creators[tenant_id]
        job_create(
            tenant=tenant, user_id=user_id, body=body,
            request_id=f"{prefix}-{tenant_id}-{number}", idempotency_key=None,
        )  # fmt: skip
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    found = {"jobs": len(order), "seconds": seconds, "cpu_ms_per_job": cpu / len(order) * 1000}
    if connection.queries_logged:
        found["statements"] = classified(list(connection.queries_log)[first:], [])["queue"]
    return found


def _drain(worker_class) -> None:
    """Run every ready task (`db_worker --batch`), then the lease-end wake-ups (due 5 s after
    each lease: made due now, so that every task a job causes is run and counted)."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult, get_date_max

    options = dict(
        queue_names=["default"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="bench-inprocess",
        excluded_queue_names=[],
    )  # fmt: skip
    worker_class(**options).run()
    waiting = DBTaskResult.objects.filter(status="READY").exclude(run_after=get_date_max())
    waiting.update(run_after=timezone.now())
    worker_class(**options).run()


def reset() -> None:
    """Empty what a pass writes, as run.py does before each part, so that each pass starts from
    the same empty, vacuumed tables."""
    from django.db import connection

    tables = ", ".join(RUN_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}")
        cursor.execute(f"VACUUM (ANALYZE) {tables}")


def _one_pass(ids: list[str], jobs: int, prefix: str, *, capture: bool) -> dict:
    """`jobs` jobs created, then run by the in-process worker until no task is left. With
    `capture`: their statements and the PostgreSQL CPU of each; without: CPU only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    import ai.autopilot.runner as runner
    from ai.models import AutopilotJob

    reset()
    spec = json.dumps([[tenant_id, jobs // len(ids) + (i < jobs % len(ids))]
                       for i, tenant_id in enumerate(ids)])  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        meter = Meter(connection, cursor.fetchone()[0])
    # Unbounded: a few hundred jobs log more statements than Django's 9,000 by default.
    connection.queries_log = deque()
    with CaptureQueriesContext(connection) if capture else nullcontext():
        enqueued = enqueue(spec, prefix)
    original = runner.assist_suggest
    runner.assist_suggest = meter.wrap(original)
    meter.count_health_checks()
    try:
        first = len(connection.queries_log)
        started, cpu, pg = time.perf_counter(), time.process_time(), meter.backend_cpu()
        with (
            CaptureQueriesContext(connection) if capture else nullcontext(),
            connection.execute_wrapper(meter.statement_cpu) if capture else nullcontext(),
        ):
            _drain(Worker)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        pg = meter.backend_cpu() - pg
        sql = [q["sql"] for q in list(connection.queries_log)[first:]]
    finally:
        runner.assist_suggest = original
        del connection.is_usable
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        same_backend = cursor.fetchone()[0] == meter.backend_pid
    done = AutopilotJob.objects.filter(
        status="succeeded", request_id__startswith=f"{prefix}-"
    ).count()
    if done != jobs:
        raise RuntimeError(f"{done} of {jobs} jobs succeeded")
    tasks = DBTaskResult.objects.successful()
    found = {
        "jobs": jobs,
        "tasks": tasks.count(),
        "tasks_that_ran_a_job": tasks.filter(return_value__isnull=False).count(),
        "wall_s": wall,
        "enqueue": enqueued,
        "cpu_ms": {"total": cpu * 1000 / jobs, "pipeline": meter.pipeline_cpu * 1000 / jobs},
        "postgres_cpu_ms": {
            "total": pg * 1000 / jobs if same_backend else None,
            "pipeline": meter.pipeline_pg * 1000 / jobs if same_backend else None,
        },
        "health_checks": meter.health_checks,
    }
    if capture:
        spans = [(a - first, b - first) for a, b in meter.pipeline_spans]
        found["statements"] = classified(sql, spans)
        found["sample_job"] = sample(sql, spans)
        found["postgres_by_statement"] = meter.statements_report(jobs)
    return found


def cost(count: str, jobs: str, warmup: str) -> dict:
    ids = tenant_ids(int(count))
    _one_pass(ids, int(warmup), "warm", capture=False)  # caches, prepared statements
    counted = _one_pass(ids, int(jobs), "counted", capture=True)
    timed = _one_pass(ids, int(jobs), "timed", capture=False)
    reset()
    return {"counted": counted, "timed": timed}


STEPS = {"fixtures": fixtures, "enqueue": enqueue, "cost": cost}

if __name__ == "__main__":
    django.setup()
    step, *arguments = sys.argv[1:]
    print(json.dumps(STEPS[step](*arguments)))
