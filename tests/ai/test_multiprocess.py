"""The hard cap and the kill switches across processes: the app under gunicorn with several
workers on PostgreSQL, LiteLLM replaced by a fake on loopback."""

import math
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.db.models import Sum

from ai.prompts import upstream_messages
from tenants.models import ModelPrice, Plan
from tests.conftest import REPO_ROOT
from tests.fakes.upstream import FakeUpstream
from usage.budget import worst_case_cost
from usage.models import AIUsage, BudgetCounter, Reservation
from usage.pricing import cost_usd, to_micros

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MESSAGE = [{"role": "customer", "content": "Ma commande est en retard, pouvez-vous vérifier ?"}]


def _body(tenant_id: str) -> dict:
    return {"tenantId": tenant_id, "payload": {"messages": MESSAGE}}


def _cost_per_call() -> tuple[Decimal, Decimal]:
    """(actual, worst case) of one call, as the fake upstream bills it: the prompt at 4 bytes
    a token, and the full max_tokens of output."""
    price = ModelPrice.objects.get(alias="kbz-standard")
    messages = upstream_messages(MESSAGE)
    prompt_bytes = sum(len(m["content"].encode()) for m in messages)
    actual = cost_usd(
        price=price, prompt_tokens=math.ceil(prompt_bytes / 4), completion_tokens=1024
    )
    return actual, worst_case_cost(price=price, messages=messages)


@pytest.fixture
def shop(make_tenant, make_user, token_for):
    """A pro tenant and an agent's token; the budget is set per test."""

    def build(budget: Decimal):
        tenant = make_tenant("hot-1", plan="pro", daily_budget_override=budget)
        agent = make_user("agent@hot.test", tenant=tenant)
        return tenant, {"Authorization": f"Bearer {token_for(agent)}"}

    return build


def _litellm(fake: FakeUpstream, **extra) -> dict:
    return {"LITELLM_BASE_URL": fake.url, "LITELLM_MASTER_KEY": "test-master-key", **extra}


def test_200_concurrent_requests_on_4_processes_never_overspend(app_server, shop):
    # given a tenant whose budget fits about 15 calls, and an upstream billing the worst output
    actual, _ = _cost_per_call()
    budget = actual * 15  # six decimals, as every cost
    tenant, auth = shop(budget)
    # The budget is under test, not the rate limit: let the whole burst through it.
    Plan.objects.filter(pk="pro").update(requests_per_minute=1000)
    with FakeUpstream() as fake:
        fake.delay = 0.1
        server = app_server(workers=4, env=_litellm(fake))

        # when 200 requests arrive at once
        def ask(_):
            return requests.post(
                f"{server.url}/ai/assist", json=_body(tenant.id), headers=auth, timeout=120
            ).status_code

        with ThreadPoolExecutor(max_workers=200) as pool:
            statuses = list(pool.map(ask, range(200)))

    # then the budget is never passed, yet it is used, and every request is accounted once
    spent = AIUsage.objects.filter(tenant=tenant).aggregate(total=Sum("cost_usd_est"))["total"]
    successes = statuses.count(200)
    print(  # shown with -s: the figures behind the assertions
        f"\n200 concurrent requests, 4 workers: {successes} answered, {statuses.count(402)} "
        f"refused; spent ${spent} of ${budget} (${actual}/call, {budget / actual:.0f} fit)"
    )
    assert spent <= budget
    assert successes >= 0.75 * float(budget / actual)
    assert set(statuses) <= {200, 402}
    assert AIUsage.objects.filter(tenant=tenant).count() == 200
    assert AIUsage.objects.filter(tenant=tenant, status="success").count() == successes
    assert not Reservation.objects.exists()
    counter = BudgetCounter.objects.get(tenant=tenant)
    assert (counter.spent_micros, counter.reserved_micros) == (to_micros(spent), 0)


def test_a_worker_killed_mid_call_leaves_one_abandoned_row_at_its_worst_case(app_server, shop):
    # given a budget of two and a half worst-case calls and a short reservation TTL
    _, worst = _cost_per_call()
    tenant, auth = shop((worst * Decimal("2.5")).quantize(Decimal("0.000001")))
    with FakeUpstream() as fake:
        fake.behaviour = "hang"
        server = app_server(workers=2, env=_litellm(fake, LITELLM_TIMEOUT_SECONDS="5",
                                                    AI_RESERVATION_TTL_SECONDS="6"))  # fmt: skip
        # when a call is in flight upstream...
        with ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(
                requests.post, f"{server.url}/ai/assist", json=_body(tenant.id), headers=auth,
                timeout=30,
            )  # fmt: skip
            _wait_for(lambda: len(fake.requests) == 1 and Reservation.objects.exists())
            # ...and its worker process is killed
            for pid in server.worker_pids():
                os.kill(pid, signal.SIGKILL)
            with pytest.raises(requests.ConnectionError):
                in_flight.result()
        fake.behaviour = "ok"
        # then, until the TTL, its worst case is held; after it, charged as one abandoned row
        assert Reservation.objects.get().amount_micros == to_micros(worst)
        time.sleep(max(0.0, (Reservation.objects.get().expires_at.timestamp() - time.time())))
        time.sleep(0.5)
        status = requests.get(
            f"{server.url}/ai/assist/status", params={"tenantId": tenant.id}, headers=auth,
            timeout=30,
        ).json()  # fmt: skip
        row = AIUsage.objects.get(tenant=tenant)
        assert (row.status, row.error_code, row.cost_usd_est) == ("error", "abandoned", worst)
        assert (status["budget"]["reserved"], status["budget"]["allowed"]) == (0, True)
        # and the rest of the budget is usable: the next call is answered
        answered = requests.post(
            f"{server.url}/ai/assist", json=_body(tenant.id), headers=auth, timeout=30
        )
        assert answered.status_code == 200
    assert AIUsage.objects.filter(tenant=tenant).count() == 2
    assert not Reservation.objects.exists()


def test_a_kill_switch_flipped_with_the_cli_is_seen_by_the_next_request_in_every_worker(
    app_server, shop
):
    # given four workers that all answered (fallback mode: no upstream needed)
    tenant, auth = shop(Decimal("10"))
    server = app_server(workers=4)

    def burst() -> set[int]:
        with ThreadPoolExecutor(max_workers=40) as pool:
            return set(pool.map(lambda _: requests.post(
                f"{server.url}/ai/assist", json=_body(tenant.id), headers=auth, timeout=30
            ).status_code, range(40)))  # fmt: skip

    assert burst() == {200}
    # when support turns the global switch on from the command line
    flipped = subprocess.run(
        [sys.executable, "manage.py", "kill_switch", "on", "--reason", "incident"],
        cwd=REPO_ROOT, env=server.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert flipped.returncode == 0, flipped.stderr
    # then every request after it, whichever worker serves it, is refused
    assert burst() == {503}


def test_a_top_up_granted_with_the_cli_is_honoured_by_the_next_request_in_every_worker(
    app_server, shop
):
    # given a tenant whose day is spent, refused by every worker (fallback calls cost 0, so the
    # day is spent by a recorded row)
    tenant, auth = shop(Decimal("0.01"))
    BudgetCounter.objects.add_spent(tenant_id=tenant.id, day=tenant.local_day(), amount=10_000)
    server = app_server(workers=4)

    def burst() -> set[int]:
        with ThreadPoolExecutor(max_workers=20) as pool:
            return set(pool.map(lambda _: requests.post(
                f"{server.url}/ai/assist", json=_body(tenant.id), headers=auth, timeout=30
            ).status_code, range(20)))  # fmt: skip

    assert burst() == {402}
    # when support grants a top-up from the command line
    granted = subprocess.run(
        [sys.executable, "manage.py", "grant_budget", "--tenant", tenant.id, "--amount", "1",
         "--reason", "launch day"],
        cwd=REPO_ROOT, env=server.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    # then every request after it is admitted again
    assert burst() == {200}


def _wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
