"""The steps of the gateway benchmark that run inside Django, one subprocess each, with the app's
environment (bench/gateway/processes.py django_env); each prints one JSON line.

    python -m bench.gateway.inprocess fixtures
    python -m bench.gateway.inprocess queries <token> <tenant id>
    python -m bench.gateway.inprocess idle_cost <token> <tenant id> <count>
    python -m bench.gateway.inprocess budget <tenant id> <iterations>

- fixtures: the bench plan (the pro plan's model, a budget and a rate limit that never refuse),
  the tenant `bench-gateway` on it, an agent with a token (and a session for the usage page),
  a staff token, and the busiest synthetic tenant if the database holds a generated history.
- queries: one POST /ai/assist through Django's full stack (test client, real stub upstream)
  under CaptureQueriesContext, after a first one: its SQL statements, BEGIN/COMMIT, and the
  connection health checks (CONN_HEALTH_CHECKS: a `SELECT 1` on the first query of a request,
  which Django sends past its cursor wrapper, so counted apart), without and with an
  Idempotency-Key. (pg_stat_statements would see them all, but needs shared_preload_libraries,
  i.e. a server restart: not something a benchmark may do to a shared server.)
- idle_cost: CPU of one status request in-process, back to back and after 50 ms of idling
  (why the app's CPU per request is higher at concurrency 1 than under load).
- budget: timings of the budget check: the counter read of /ai/assist/status
  (budget_close_abandoned_and_read) and the admission (budget_reserve: the conditional upsert
  and the reservation insert, in a transaction rolled back, so the database is left as it was).
"""

import json
import statistics
import sys
import time
import uuid
from decimal import Decimal

import django

BENCH_PLAN, BENCH_TENANT = "bench", "bench-gateway"
AGENT_EMAIL, STAFF_EMAIL = (
    "bench-gateway@keybuzz.localhost",
    "bench-gateway-staff@keybuzz.localhost",
)
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
BENCH_BUDGET = Decimal("999999")  # the column's largest whole number of dollars
# The model field's own maximum: 1,000 a second sustained, and a burst of as many.
BENCH_REQUESTS_PER_MINUTE = 60_000


def fixtures() -> dict:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db.models import Sum

    from tenants.models import Plan, Tenant
    from tenants.services import membership_get_or_create, tenant_create, user_get_or_create
    from tenants.tokens import api_token_issue, api_tokens_revoke
    from usage.models import UsageRollup

    plan, _ = Plan.objects.update_or_create(
        code=BENCH_PLAN,
        defaults={
            "name": "Bench (never refuses)",
            "daily_budget_usd": BENCH_BUDGET,
            "model_id": Plan.objects.get(pk="pro").model_id,
            "requests_per_minute": BENCH_REQUESTS_PER_MINUTE,
        },
    )
    tenant = Tenant.objects.filter(pk=BENCH_TENANT).first() or tenant_create(
        tenant_id=BENCH_TENANT, name="Bench gateway", plan=plan, daily_budget_override=BENCH_BUDGET
    )
    busiest = (
        UsageRollup.objects.filter(tenant__id__startswith="synthetic-")
        .values("tenant_id")
        .annotate(calls=Sum("calls"))
        .order_by("-calls", "tenant_id")
        .first()
    )
    busy_id = busiest["tenant_id"] if busiest else tenant.id
    agent, _ = user_get_or_create(email=AGENT_EMAIL)
    staff, _ = user_get_or_create(email=STAFF_EMAIL, is_staff=True)
    for member_of in {tenant.id, busy_id}:
        membership_get_or_create(user=agent, tenant=Tenant.objects.get(pk=member_of))
    for user in (agent, staff):  # one live token each, however many runs
        api_tokens_revoke(user=user)
    session = SessionStore()
    session.update(
        {
            SESSION_KEY: str(agent.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: agent.get_session_auth_hash(),
        }
    )
    session.create()
    return {
        "tenant": tenant.id,
        "busy_tenant": busy_id,
        "agent_token": api_token_issue(user=agent)[1],
        "staff_token": api_token_issue(user=staff)[1],
        "session_cookie": f"sessionid={session.session_key}",
    }


def queries(token: str, tenant_id: str) -> dict:
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.gateway.targets import assist_body

    client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    body = json.dumps(assist_body(tenant_id))
    health_checks = []
    is_usable = connection.is_usable

    def counting_is_usable():  # CONN_HEALTH_CHECKS' SELECT 1, sent past Django's cursor
        health_checks.append(True)
        return is_usable()

    def one(**headers) -> dict:
        health_checks.clear()
        connection.is_usable = counting_is_usable
        try:
            with CaptureQueriesContext(connection) as captured:
                # What request_started does under gunicorn (the test client skips it): with
                # CONN_HEALTH_CHECKS, the request's first query is preceded by a health check.
                close_old_connections()
                response = client.post("/ai/assist", body, "application/json", headers=headers)
        finally:
            del connection.is_usable
        if response.status_code != 200:
            raise RuntimeError(f"POST /ai/assist: {response.status_code} {response.content[:300]}")
        sql = [query["sql"] for query in captured.captured_queries]
        control = [s for s in sql if s.split(" ", 1)[0] in TRANSACTION_CONTROL]
        return {
            "statements": len(sql) - len(control),
            "transaction_control": len(control),
            "transactions": sum(s == "COMMIT" for s in control),
            "health_checks": len(health_checks),
            "round_trips": len(sql) + len(health_checks),
            "sql": [s[:200] for s in sql],
        }

    one()  # a process's first request loads what it caches
    return {"plain": one(), "idempotency_key": one(**{"Idempotency-Key": uuid.uuid4().hex})}


def idle_cost(token: str, tenant_id: str, count: int) -> dict:
    """CPU of one GET /ai/assist/status through Django's whole stack (test client), back to back
    and after 50 ms of idling: what a cold CPU adds to the same work (which part is caches and
    which a vCPU woken from halt, this does not tell). At concurrency 1 every assist request
    idles 50 ms on the stub in its middle, so its CPU per request is the cold one."""
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/ai/assist/status?tenantId={tenant_id}"

    def cpu_ms(gap: float) -> float:
        spent = 0.0
        for _ in range(count):
            time.sleep(gap)
            started = time.process_time()
            if client.get(url).status_code != 200:
                raise RuntimeError(f"GET {url} failed")
            spent += time.process_time() - started
        return spent / count * 1000

    cpu_ms(0)  # a process's first requests load what it caches
    return {"back_to_back_ms": cpu_ms(0), "after_50ms_idle_ms": cpu_ms(0.05)}


def budget(tenant_id: str, iterations: int) -> dict:
    from django.db import transaction

    from tenants.models import Tenant
    from usage.budget import (
        Hold,
        budget_close_abandoned_and_read,
        budget_reserve,
        minimal_call_cost,
    )
    from usage.models import BudgetCounter
    from usage.recording import UsageEntry

    tenant = Tenant.objects.select_related("plan__model").get(pk=tenant_id)
    day, price = tenant.local_day(), tenant.plan.model
    # The day's counter row, as after the day's first call, so that every database is measured
    # on the same path (an update of an existing row); it holds nothing.
    BudgetCounter.objects.add_spent(tenant_id=tenant.id, day=day, amount=0)
    call = UsageEntry(
        tenant=tenant, feature="assist", provider="litellm", model=price.alias, status="success"
    )
    worst = minimal_call_cost(price=price)
    read, admit = [], []
    for _ in range(iterations):
        started = time.perf_counter()
        budget_close_abandoned_and_read(tenant=tenant, day=day)
        read.append((time.perf_counter() - started) * 1000)
        with transaction.atomic():
            started = time.perf_counter()
            budget_reserve(
                tenant=tenant, admitted_at=_now(), holds=[Hold(worst_case=worst, call=call)]
            )
            admit.append((time.perf_counter() - started) * 1000)
            transaction.set_rollback(True)
    return {
        "state_read": _percentiles(read),
        "admission": _percentiles(admit),
        "route_decision": route_decision(tenant, iterations),
    }


def route_decision(tenant, iterations: int) -> dict:
    """The routing decision alone (ai.routing.route_candidates: a pure function), on the
    tenant's plan table, the seed's conversation and a budget at 30 % left: its CPU per call."""
    from django.conf import settings

    from ai.prompts import upstream_messages
    from ai.routing import RouteRequest, route_candidates
    from usage.budget import BudgetState, plan_aliases, plan_prices, prompt_tokens_upper_bound

    plan = tenant.plan
    conversation = [{"role": "customer", "content": "Ma commande est en retard"}]
    request = RouteRequest(
        feature="assist",
        quality="balanced",
        conversation_bytes=25,
        prompt_tokens=prompt_tokens_upper_bound(upstream_messages(conversation)),
    )
    prices = {a: p for a, p in plan_prices(plans=[plan]).items() if a in plan_aliases(plan)}
    budget = BudgetState(budget_micros=10_000_000, spent_micros=7_000_000)
    timings = []
    for _ in range(iterations):
        started = time.perf_counter()
        route_candidates(
            rules=plan.route_table,
            prices=prices,
            default=plan.model_id,
            request=request,
            budget=budget,
            max_tokens=settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
            min_tokens=settings.KEYBUZZ["AI_MIN_OUTPUT_TOKENS"],
        )
        timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)


def _now():
    from django.utils import timezone

    return timezone.now()


def _percentiles(timings: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p95_ms": cuts[94], "p99_ms": cuts[98]}


STEPS = {
    "fixtures": fixtures,
    "queries": queries,
    "idle_cost": lambda token, t, n: idle_cost(token, t, int(n)),
    "budget": lambda t, n: budget(t, int(n)),
}

if __name__ == "__main__":
    django.setup()
    step, *arguments = sys.argv[1:]
    print(json.dumps(STEPS[step](*arguments)))
