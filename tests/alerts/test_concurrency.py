"""Exactly one alert per threshold under concurrency: the app under gunicorn (4 workers) on
PostgreSQL, LiteLLM replaced by a fake on loopback, 200 requests at once."""

import math
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from ai.prompts import upstream_messages
from alerts.models import Alert, AlertDelivery
from tenants.models import ModelPrice, Plan
from tests.alerts.conftest import spend
from tests.fakes.upstream import FakeUpstream
from usage.pricing import cost_usd

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MESSAGE = [{"role": "customer", "content": "Ma commande est en retard, pouvez-vous vérifier ?"}]


def _cost_per_call() -> Decimal:
    """What one call costs as the fake upstream bills it: the prompt at 4 bytes a token, and
    the full max_tokens of output."""
    messages = upstream_messages(MESSAGE)
    prompt_tokens = math.ceil(sum(len(m["content"].encode()) for m in messages) / 4)
    return cost_usd(
        price=ModelPrice.objects.get(alias="kbz-standard"),
        prompt_tokens=prompt_tokens,
        completion_tokens=1024,
    )


def test_200_concurrent_calls_crossing_80_percent_create_exactly_one_80_percent_alert(
    app_server, make_tenant, make_user, token_for, webhook_for
):
    # given a tenant whose budget fits 60 calls, 40 of them already spent (67 %), with a
    # webhook endpoint: the 8th call of the burst passes 80 %, and the budget runs out after
    # about 20 of them
    per_call = _cost_per_call()
    tenant = make_tenant("hot-1", plan="pro", daily_budget_override=per_call * 60)
    spend(tenant, str(per_call * 40))
    webhook_for(tenant, "https://hooks.example.com/kbz")
    agent = make_user("agent@hot.test", tenant=tenant)
    auth = {"Authorization": f"Bearer {token_for(agent)}"}
    # The budget is under test, not the rate limit; and without a route table, so that the
    # burst stays on kbz-standard and runs out of money (fit to budget still lowers max_tokens).
    Plan.objects.filter(pk="pro").update(requests_per_minute=1000, route_rules=[])
    with FakeUpstream() as fake:
        fake.delay = 0.1
        server = app_server(workers=4, env={
            "LITELLM_BASE_URL": fake.url, "LITELLM_MASTER_KEY": "test-master-key",
        })  # fmt: skip

        # when 200 requests arrive at once
        def ask(_):
            return requests.post(
                f"{server.url}/ai/assist",
                json={"tenantId": tenant.id, "payload": {"messages": MESSAGE}},
                headers=auth,
                timeout=120,
            ).status_code

        with ThreadPoolExecutor(max_workers=200) as pool:
            statuses = list(pool.map(ask, range(200)))

    # then some were answered and the rest refused by the budget
    assert set(statuses) == {200, 402}
    # and there is exactly one 80 % alert, one budget_blocked alert, at most one 100 % alert
    kinds = sorted(
        (kind, threshold) for kind, threshold in Alert.objects.values_list("kind", "threshold")
    )
    print(f"\n{statuses.count(200)} answered, {statuses.count(402)} refused; alerts: {kinds}")
    assert kinds.count(("budget_percent", 80)) == 1
    assert kinds.count(("budget_blocked", None)) == 1
    assert kinds.count(("budget_percent", 100)) <= 1
    # each with exactly one delivery per channel, all waiting for deliver_alerts
    assert AlertDelivery.objects.count() == 2 * len(kinds)
    assert set(AlertDelivery.objects.values_list("channel", "status", "attempts")) == {
        ("email", "pending", 0), ("webhook", "pending", 0),
    }  # fmt: skip
