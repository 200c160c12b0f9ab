"""Routing under concurrency (CONTRACT §8): the app under gunicorn with four workers on
PostgreSQL, LiteLLM replaced by a fake on loopback that bills the whole max_tokens it is sent."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.db.models import Sum

from ai.prompts import MINIMAL_CONVERSATION, upstream_messages
from tenants.models import ModelPrice, Plan
from tests.fakes.upstream import FakeUpstream
from usage.budget import minimal_call_micros, worst_case_cost
from usage.models import AIUsage, BudgetCounter, Reservation
from usage.pricing import to_micros

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BUDGET = Decimal("0.05")  # a small pro day: about three full-size kbz-standard calls
MESSAGE = [{"role": "customer", "content": "Ma commande est en retard, pouvez-vous vérifier ?"}]


def _spent(tenant) -> Decimal:
    return AIUsage.objects.filter(tenant=tenant).aggregate(total=Sum("cost_usd_est"))["total"]


def _left(tenant) -> int:
    counter = BudgetCounter.objects.get(tenant=tenant)
    return to_micros(BUDGET) + counter.granted_micros - counter.spent_micros


def test_a_burst_then_calls_one_at_a_time_spend_the_small_budget_to_the_last_call(
    app_server, make_tenant, make_user, token_for
):
    # given a pro tenant on a small budget, and an upstream billing every max_tokens it is sent
    tenant = make_tenant("routed-1", plan="pro", daily_budget_override=BUDGET)
    auth = {"Authorization": f"Bearer {token_for(make_user('agent@routed.test', tenant=tenant))}"}
    Plan.objects.filter(pk="pro").update(requests_per_minute=10_000)  # the budget is under test
    with FakeUpstream() as fake:
        fake.delay = 0.05
        server = app_server(workers=4, env={
            "LITELLM_BASE_URL": fake.url, "LITELLM_MASTER_KEY": "test-master-key",
        })  # fmt: skip

        def ask(messages) -> requests.Response:
            body = {"tenantId": tenant.id, "payload": {"messages": messages}}
            return requests.post(f"{server.url}/ai/assist", json=body, headers=auth, timeout=120)

        # when 200 full-size calls arrive at once
        with ThreadPoolExecutor(max_workers=200) as pool:
            burst = [r.status_code for r in pool.map(lambda _: ask(MESSAGE), range(200))]
        after_burst = _spent(tenant)
        # then the cap held under the burst
        assert after_burst <= BUDGET
        assert set(burst) <= {200, 402}
        assert AIUsage.objects.filter(tenant=tenant).count() == 200

        # when calls come one at a time until the first refusal
        walked = [ask(MESSAGE) for _ in range(400)]
        first_402 = next(i for i, r in enumerate(walked) if r.status_code == 402)
        left_at_402 = _left(tenant)
        # and then minimal requests (one 1-byte message) until they are refused too
        minimal = [ask(MINIMAL_CONVERSATION) for _ in range(100)]
        left_at_minimal_402 = _left(tenant)

    spent = _spent(tenant)
    cheap = ModelPrice.objects.get(alias="kbz-cheap")
    min_tokens = settings.KEYBUZZ["AI_MIN_OUTPUT_TOKENS"]
    own_floor = to_micros(
        worst_case_cost(price=cheap, messages=upstream_messages(MESSAGE), max_tokens=min_tokens)
    )
    print(  # shown with -s: the figures behind the assertions
        f"\nburst: {burst.count(200)} answered, {burst.count(402)} refused, ${after_burst} spent;"
        f" one at a time: first 402 after {first_402} more calls with {left_at_402} µ$ left; "
        f"minimal calls refused with {left_at_minimal_402} µ$ left; ${spent} of ${BUDGET} spent"
    )
    # then the cap held, the day was spent to its last call, and the first 402 of each kind
    # came only when less than that call's least worst case was left
    assert spent <= BUDGET
    assert all(r.status_code == 200 for r in walked[:first_402])
    assert left_at_402 < own_floor
    assert any(r.status_code == 402 for r in minimal)
    assert left_at_minimal_402 < minimal_call_micros(price=cheap)
    assert spent >= BUDGET * Decimal("0.98")
    rows = AIUsage.objects.filter(tenant=tenant, status="success")
    assert set(rows.values_list("model", flat=True)) <= {"kbz-standard", "kbz-cheap"}
    assert rows.filter(route_reason="fit_to_budget").exists()
    assert not Reservation.objects.exists()
    counter = BudgetCounter.objects.get(tenant=tenant)
    assert (counter.spent_micros, counter.reserved_micros) == (to_micros(spent), 0)
