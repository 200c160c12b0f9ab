"""Routing through POST /ai/assist and the status (CONTRACT §8): the alias and max_tokens sent,
the price charged, the row's routing columns, and what the tenant is told."""

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.ai.conftest import answer, post, seed_request
from usage.models import AIUsage, BudgetCounter
from usage.recording import UsageEntry, usage_record

pytestmark = pytest.mark.django_db

CHEAP_SEED_COST = Decimal("0.000110")  # 198 * 0.15 + 133 * 0.60 per 1M tokens, half-up


def _sent(litellm) -> dict:
    return json.loads(litellm.calls[-1].request.body)


def _spend(tenant, usd: str) -> None:
    usage_record(entry=UsageEntry(
        tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
        status="success", cost_usd=Decimal(usd), created_at=timezone.now(),
    ))  # fmt: skip


def test_a_default_call_is_the_seed_call_on_the_plans_model(agent, litellm):
    answer(litellm, model="anthropic/claude-sonnet-4")
    body = post(agent, seed_request()).json()
    assert (body["model"], body["usage"]["costUsd"]) == ("kbz-standard", 0.002589)
    assert body["routing"] == {
        "defaultModel": "kbz-standard", "reason": "default", "rule": None, "maxTokens": 1024,
    }  # fmt: skip
    row = AIUsage.objects.get()
    assert (row.model, row.default_model, row.route_reason, row.max_tokens) == (
        "kbz-standard", "kbz-standard", "default", 1024,
    )  # fmt: skip
    assert row.upstream_model == "anthropic/claude-sonnet-4"


@pytest.mark.parametrize(
    ("extra", "rule"),
    [({"quality": "fast"}, "fast replies"), ({"feature": "journal"}, "journal")],
    ids=["quality-fast", "feature-journal"],
)
def test_a_rule_sends_the_call_to_kbz_cheap_at_its_price(agent, litellm, extra, rule):
    # given LiteLLM answering the seed's tokens
    answer(litellm)
    # when a pro agent asks for a fast reply, or a journal entry
    body = post(agent, seed_request(**extra)).json()
    # then the call goes to kbz-cheap, is priced at kbz-cheap's prices, and says why
    assert _sent(litellm)["model"] == "kbz-cheap"
    assert (body["model"], body["usage"]["costUsd"]) == ("kbz-cheap", float(CHEAP_SEED_COST))
    assert body["routing"] == {
        "defaultModel": "kbz-standard", "reason": "rule", "rule": rule, "maxTokens": 1024,
    }  # fmt: skip
    row = AIUsage.objects.get()
    assert (row.model, row.cost_usd_est, row.route_reason) == ("kbz-cheap", CHEAP_SEED_COST, "rule")


def test_below_20_percent_left_a_pro_call_goes_to_kbz_cheap_as_budget_low(tenant, agent, litellm):
    # given 81 % of the day spent
    _spend(tenant, "8.1")
    answer(litellm)
    # when
    body = post(agent, seed_request()).json()
    # then
    assert (body["model"], body["routing"]["reason"], body["routing"]["rule"]) == (
        "kbz-cheap", "budget_low", "budget low",
    )  # fmt: skip


def test_when_even_kbz_cheap_does_not_fit_max_tokens_is_lowered_to_fit(
    make_tenant, make_user, client_for, litellm
):
    # given a pro tenant whose budget holds a kbz-cheap call with about 600 output tokens
    tenant = make_tenant("ecomlg-001", daily_budget_override=Decimal("0.0006"))
    client = client_for(make_user("agent@ecomlg.test", tenant=tenant))
    answer(litellm, completion_tokens=100)
    # when
    response = post(client, seed_request())
    # then the call is sent with fewer max_tokens, on kbz-cheap, and admitted at that worst case
    body = response.json()
    assert response.status_code == 200, body
    sent = _sent(litellm)
    assert sent["model"] == "kbz-cheap"
    assert 256 <= sent["max_tokens"] < 1024
    assert body["routing"] == {
        "defaultModel": "kbz-standard", "reason": "fit_to_budget", "rule": None,
        "maxTokens": sent["max_tokens"],
    }  # fmt: skip
    row = AIUsage.objects.get()
    assert (row.model, row.route_reason, row.max_tokens) == (
        "kbz-cheap", "fit_to_budget", sent["max_tokens"],
    )  # fmt: skip
    assert BudgetCounter.objects.get().spent_micros <= 600


def test_the_status_names_the_alias_a_minimal_call_would_go_to(tenant, agent):
    assert agent.get("/ai/assist/status", {"tenantId": tenant.id}).json()["routing"] == {
        "defaultModel": "kbz-standard", "reason": "default",
    }  # fmt: skip
    _spend(tenant, "8.5")
    body = agent.get("/ai/assist/status", {"tenantId": tenant.id}).json()
    assert (body["model"], body["routing"]["reason"]) == ("kbz-cheap", "budget_low")


def test_the_analytics_say_what_routing_saved(tenant, agent, litellm):
    # given a fast reply (kbz-cheap) where the default would have cost the seed's $0.002589
    answer(litellm)
    post(agent, seed_request(quality="fast"))
    # when the history is read
    history = agent.get("/admin/ai/usage", {"tenantId": tenant.id, "days": 1}).json()
    # then
    saved = float(Decimal("0.002589") - CHEAP_SEED_COST)
    assert history["summary"]["savedUsd"] == saved
    assert history["byDay"][-1]["savedUsd"] == saved


def test_an_unknown_quality_is_400(agent, litellm):
    response = post(agent, seed_request(quality="premium"))
    assert (response.status_code, list(response.json()["errors"])) == (400, ["quality"])
