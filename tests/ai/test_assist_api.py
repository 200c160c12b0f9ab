"""POST /ai/assist end to end in-process, LiteLLM replaced at its HTTP seam by `responses`."""

import json
from decimal import Decimal

import pytest
import requests
import responses
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.ai.conftest import COMPLETIONS, answer, post, seed_request
from usage.models import AIUsage, BudgetCounter, Reservation

pytestmark = pytest.mark.django_db

# --- the seed example and routing -----------------------------------------------------------


def test_the_seed_call_answers_331_tokens_for_0_002589_usd(agent, litellm):
    # given LiteLLM answering the seed's call: 198 prompt + 133 completion tokens
    answer(litellm)
    # when an agent of the pro tenant asks for suggestions
    response = post(agent, seed_request(), HTTP_X_REQUEST_ID="req-seed-1")
    # then the seed's figures come back, as numbers
    body = response.json()
    assert response.status_code == 200
    assert body == {
        "status": "success",
        "suggestions": ["Je suis désolé pour ce retard, je vérifie votre commande."],
        "explanations": ["Reconnaît le problème et annonce la prochaine étape."],
        "confidenceLevel": "high",
        "provider": "litellm",
        "model": "kbz-standard",
        "usage": {"tokens": 331, "costUsd": 0.002589},
        "requestId": "req-seed-1",
        "routing": {
            "defaultModel": "kbz-standard", "reason": "default", "rule": None, "maxTokens": 1024,
        },
    }  # fmt: skip
    assert response["X-Request-Id"] == "req-seed-1"


def test_the_seed_call_writes_one_success_row_with_tokens_and_cost(agent, litellm, member):
    answer(litellm)
    post(agent, seed_request(), HTTP_X_REQUEST_ID="req-seed-1")
    row = AIUsage.objects.get()
    assert (row.status, row.provider, row.model, row.feature) == (
        "success", "litellm", "kbz-standard", "assist",
    )  # fmt: skip
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (198, 133, 331)
    assert (row.cost_usd_est, row.request_id, row.user_id) == (
        Decimal("0.002589"), "req-seed-1", str(member.pk),
    )  # fmt: skip


def test_the_seed_call_is_spent_on_the_counter_and_holds_nothing_after(agent, litellm):
    answer(litellm)
    post(agent, seed_request())
    counter = BudgetCounter.objects.get()
    assert (counter.spent_micros, counter.reserved_micros) == (2589, 0)
    assert not Reservation.objects.exists()


def test_the_upstream_call_carries_key_tenant_model_roles_and_max_tokens(agent, litellm, settings):
    # given
    answer(litellm)
    conversation = [
        {"role": "customer", "content": "Where is my parcel?"},
        {"role": "agent", "content": "Let me check."},
        {"role": "user", "content": "Thanks"},
    ]
    # when
    post(agent, seed_request(payload={"messages": conversation}))
    # then
    sent = litellm.calls[0].request
    body = json.loads(sent.body)
    assert sent.headers["Authorization"] == "Bearer test-master-key"
    assert sent.headers["X-Tenant-Id"] == "ecomlg-001"
    assert body["model"] == "kbz-standard"
    assert body["max_tokens"] == settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"]
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in body["messages"][1:]] == [m["content"] for m in conversation]


@pytest.mark.parametrize(
    ("plan", "alias"),
    [("starter", "kbz-cheap"), ("pro", "kbz-standard"), ("autopilot", "kbz-premium")],
)
def test_each_plan_routes_to_its_model_alias(
    make_tenant, make_user, client_for, litellm, plan, alias
):
    # given a tenant on the plan
    tenant = make_tenant(f"shop-{plan}", plan=plan)
    client = client_for(make_user(f"agent@{plan}.test", tenant=tenant))
    answer(litellm)
    # when it asks for suggestions
    response = post(client, seed_request(tenant.id))
    # then LiteLLM is asked for the plan's alias, and the answer and the row name it
    assert json.loads(litellm.calls[0].request.body)["model"] == alias
    assert response.json()["model"] == alias == AIUsage.objects.get().model


def test_the_feature_is_recorded(agent, litellm):
    answer(litellm)
    post(agent, seed_request(feature="journal"))
    assert AIUsage.objects.get().feature == "journal"


def test_plain_text_from_the_model_becomes_one_low_confidence_suggestion(agent, litellm):
    answer(litellm, content="Bonjour, je regarde cela tout de suite.")
    body = post(agent, seed_request()).json()
    assert (body["suggestions"], body["explanations"], body["confidenceLevel"]) == (
        ["Bonjour, je regarde cela tout de suite."], [], "low",
    )  # fmt: skip


# --- guardrails -----------------------------------------------------------------------------


def _assert_blocked_row(error_code: str, model: str = "kbz-standard") -> None:
    row = AIUsage.objects.get()
    assert (row.status, row.error_code, row.cost_usd_est, row.total_tokens, row.model) == (
        "blocked", error_code, Decimal("0"), 0, model,
    )  # fmt: skip


def test_the_global_kill_switch_answers_503_and_writes_one_blocked_row(agent, litellm):
    # given the global switch turned on from the CLI
    call_command("kill_switch", "on", "--reason", "provider outage", stdout=None)
    # when an agent asks
    response = post(agent, seed_request(), HTTP_X_REQUEST_ID="req-ks")
    # then 503 ai_disabled, one blocked row, and LiteLLM is never called
    assert response.status_code == 503
    assert response.json() | {"message": ""} == {
        "status": "ai_disabled", "reason": "global_kill_switch", "message": "",
        "requestId": "req-ks",
    }  # fmt: skip
    _assert_blocked_row("global_kill_switch")
    assert len(litellm.calls) == 0


def test_the_tenant_kill_switch_answers_403_and_writes_one_blocked_row(agent, litellm):
    call_command("kill_switch", "on", "--tenant", "ecomlg-001", "--reason", "abuse", stdout=None)
    response = post(agent, seed_request())
    assert (response.status_code, response.json()["status"], response.json()["reason"]) == (
        403, "ai_disabled", "tenant_kill_switch",
    )  # fmt: skip
    _assert_blocked_row("tenant_kill_switch")
    assert len(litellm.calls) == 0


def test_the_global_switch_wins_over_the_tenant_switch(agent, litellm):
    call_command("kill_switch", "on", "--tenant", "ecomlg-001", "--reason", "abuse", stdout=None)
    call_command("kill_switch", "on", "--reason", "outage", stdout=None)
    assert post(agent, seed_request()).json()["reason"] == "global_kill_switch"


def test_a_kill_switch_turned_off_is_seen_by_the_next_request(agent, litellm):
    call_command("kill_switch", "on", "--reason", "outage", stdout=None)
    assert post(agent, seed_request()).status_code == 503
    call_command("kill_switch", "off", "--reason", "resolved", stdout=None)
    answer(litellm)
    assert post(agent, seed_request()).status_code == 200


def test_a_request_over_budget_answers_402_with_the_budget_and_one_blocked_row(
    make_tenant, make_user, client_for, litellm
):
    # given a pro tenant whose budget is below one worst-case call, even fitted to the budget
    # (the cheapest alias at AI_MIN_OUTPUT_TOKENS)
    tenant = make_tenant("ecomlg-001", daily_budget_override=Decimal("0.0001"))
    client = client_for(make_user("agent@ecomlg.test", tenant=tenant))
    # when it asks
    response = post(client, seed_request())
    # then 402 with the contract's body, one blocked row, no upstream call
    body = response.json()
    assert response.status_code == 402
    assert (body["status"], body["upgradeRequired"], body["plan"]) == (
        "budget_exceeded", True, "pro",
    )  # fmt: skip
    assert body["budget"] == {
        "dailyBudget": 0.0001, "used": 0, "reserved": 0, "remaining": 0.0001, "allowed": False,
    }  # fmt: skip
    _assert_blocked_row("budget_exceeded", model="kbz-cheap")
    # and the row names the last call tried: the cheapest alias, fitted to the budget
    row = AIUsage.objects.get()
    assert (row.model, row.default_model, row.route_reason, row.max_tokens) == (
        "kbz-cheap", "kbz-standard", "fit_to_budget", 256,
    )  # fmt: skip
    assert len(litellm.calls) == 0


# --- upstream failures ----------------------------------------------------------------------

UPSTREAM_FAILURES = {
    "5xx": (dict(status=500, json={"error": "boom"}), 502, "upstream_error"),
    "503": (dict(status=503, json={"error": "overloaded"}), 502, "upstream_error"),
    "429": (dict(status=429, json={"error": "slow down"}), 502, "upstream_rate_limited"),
    "refused": (dict(body=requests.ConnectionError("refused")), 502, "upstream_unavailable"),
    "timeout": (dict(body=requests.ReadTimeout("slow")), 504, "upstream_timeout"),
    "garbage": (dict(status=200, body="<html>oops</html>"), 502, "upstream_bad_response"),
    "no_usage": (
        dict(status=200, json={"choices": [{"message": {"content": "hi"}}]}),
        502,
        "upstream_bad_response",
    ),
}


@pytest.mark.parametrize("kind", UPSTREAM_FAILURES)
def test_an_upstream_failure_answers_its_error_and_writes_one_error_row(agent, litellm, kind):
    # given LiteLLM failing in this way
    upstream, status, error_code = UPSTREAM_FAILURES[kind]
    litellm.post(COMPLETIONS, **upstream)
    # when an agent asks
    response = post(agent, seed_request(), HTTP_X_REQUEST_ID="req-fail")
    # then the contract's error, one error row, and the reservation is released
    assert response.status_code == status
    assert {k: response.json()[k] for k in ("status", "errorCode", "requestId")} == {
        "status": "error", "errorCode": error_code, "requestId": "req-fail",
    }  # fmt: skip
    row = AIUsage.objects.get()
    assert (row.status, row.error_code, row.cost_usd_est, row.request_id) == (
        "error", error_code, Decimal("0"), "req-fail",
    )  # fmt: skip
    assert BudgetCounter.objects.get().reserved_micros == 0
    assert not Reservation.objects.exists()


# --- fallback mode --------------------------------------------------------------------------


@pytest.fixture
def fallback(settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "LITELLM_MASTER_KEY": ""}
    with responses.RequestsMock() as mock:  # any HTTP call would fail the test
        yield mock


@pytest.mark.parametrize(
    ("message", "expected_word"),
    [("Ma commande n'est toujours pas arrivée, où est mon colis ?", "Merci"),
     ("My order still hasn't arrived, where is my parcel?", "Thank you")],
    ids=["french", "english"],
)  # fmt: skip
def test_fallback_mode_answers_generic_suggestions_in_the_customers_language(
    agent, fallback, message, expected_word
):
    # when an agent asks with no LiteLLM key configured
    body = post(
        agent, seed_request(payload={"messages": [{"role": "customer", "content": message}]})
    ).json()
    # then generic suggestions in the customer's language, free, from the fallback
    assert body["suggestions"][0].startswith(expected_word)
    assert (body["provider"], body["usage"], body["status"]) == (
        "fallback", {"tokens": 0, "costUsd": 0}, "success",
    )  # fmt: skip


def test_fallback_mode_uses_the_tenant_language_when_the_message_says_nothing(
    make_tenant, make_user, client_for, fallback
):
    tenant = make_tenant("boutique-1", language="fr")
    client = client_for(make_user("agent@boutique.test", tenant=tenant))
    messages = [{"role": "customer", "content": "#4521 ?"}]
    body = post(client, seed_request(tenant.id, payload={"messages": messages})).json()
    assert body["suggestions"][0].startswith("Merci")


def test_fallback_mode_writes_one_free_success_row(agent, fallback):
    post(agent, seed_request())
    row = AIUsage.objects.get()
    assert (row.status, row.provider, row.cost_usd_est, row.total_tokens) == (
        "success", "fallback", Decimal("0"), 0,
    )  # fmt: skip


def test_fallback_mode_still_applies_the_kill_switches(agent, fallback):
    call_command("kill_switch", "on", "--reason", "outage", stdout=None)
    assert post(agent, seed_request()).status_code == 503


# --- validation and tenancy write no row ----------------------------------------------------

BAD_BODIES = {
    "no_tenant": {"payload": {"messages": [{"role": "customer", "content": "hi"}]}},
    "no_payload": {"tenantId": "ecomlg-001"},
    "payload_not_object": {"tenantId": "ecomlg-001", "payload": []},
    "no_messages": {"tenantId": "ecomlg-001", "payload": {"messages": []}},
    "51_messages": {
        "tenantId": "ecomlg-001",
        "payload": {"messages": [{"role": "customer", "content": "hi"}] * 51},
    },
    "system_role": {
        "tenantId": "ecomlg-001", "payload": {"messages": [{"role": "system", "content": "x"}]},
    },
    "empty_content": {
        "tenantId": "ecomlg-001", "payload": {"messages": [{"role": "customer", "content": ""}]},
    },
    "numeric_content": {
        "tenantId": "ecomlg-001", "payload": {"messages": [{"role": "customer", "content": 42}]},
    },
    "content_too_long": {
        "tenantId": "ecomlg-001",
        "payload": {"messages": [{"role": "customer", "content": "x" * 20_001}]},
    },
    "context_id_too_long": seed_request(contextId="c" * 201),
    "unknown_feature": seed_request(feature="poetry"),
    "numeric_tenant": seed_request(tenantId=42),
}  # fmt: skip


@pytest.mark.parametrize("name", BAD_BODIES)
def test_an_invalid_body_is_400_with_field_errors_and_writes_no_row(agent, litellm, name):
    response = post(agent, BAD_BODIES[name])
    assert response.status_code == 400
    assert response.json()["status"] == "invalid_request"
    assert response.json()["errors"]
    assert not AIUsage.objects.exists()


def test_fifty_messages_and_a_longest_message_within_256_kb_are_accepted(agent, litellm):
    answer(litellm)
    messages = [{"role": "customer", "content": "x" * 20_000}] + [
        {"role": "agent", "content": "y" * 4_000}
    ] * 49
    assert post(agent, seed_request(payload={"messages": messages})).status_code == 200


def test_a_valid_conversation_over_256_kb_is_413(agent, litellm):
    # the body limit binds before the per-message ones (50 messages of 20,000 characters is ~1 MB)
    messages = [{"role": "customer", "content": "x" * 20_000}] * 50
    response = post(agent, seed_request(payload={"messages": messages}))
    assert (response.status_code, response.json()["status"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("who", "tenant_id", "status", "code"),
    [("member", "no-such-shop", 404, "not_found"),
     ("outsider", "ecomlg-001", 403, "forbidden"),
     ("staff", "ecomlg-001", 403, "forbidden")],
)  # fmt: skip
def test_a_refused_tenant_writes_no_row(
    request, make_user, client_for, litellm, tenant, who, tenant_id, status, code
):
    user = {
        "member": lambda: request.getfixturevalue("member"),
        "outsider": lambda: make_user("outsider@elsewhere.test"),
        "staff": lambda: request.getfixturevalue("staff"),
    }[who]()
    response = post(client_for(user), seed_request(tenant_id))
    assert (response.status_code, response.json()["status"]) == (status, code)
    assert not AIUsage.objects.exists()


def test_an_inactive_tenant_is_403_tenant_inactive_and_writes_no_row(agent, tenant, litellm):
    tenant.is_active = False
    tenant.save()
    response = post(agent, seed_request())
    assert (response.status_code, response.json()["status"]) == (403, "tenant_inactive")
    assert not AIUsage.objects.exists()


def test_an_anonymous_call_is_401_and_writes_no_row(api_client, tenant, litellm):
    assert post(api_client, seed_request()).status_code == 401
    assert not AIUsage.objects.exists()


# --- the hot path --------------------------------------------------------------------------


def _statements(captured) -> list[str]:
    """The SQL a request sends. Its two transactions are BEGIN/COMMIT in production, which
    Django does not log; inside the test's own transaction they show as savepoints."""
    return [
        q["sql"] for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]  # fmt: skip


def test_a_successful_call_sends_eleven_statements(agent, litellm):
    # auth, tenant with membership, both switches, the route decision's read (the day's
    # counter and the prices of the plan's aliases, CONTRACT §8: at most one more) |
    # admission, one transaction: rate limit, counter, reservation |
    # settle, one transaction: reservation, usage row, counter (spend and release), rollup
    # (without an Idempotency-Key: that one adds its claim and its completion)
    answer(litellm)
    with CaptureQueriesContext(connection) as captured:
        assert post(agent, seed_request()).status_code == 200
    assert len(_statements(captured)) == 11


def test_the_hot_path_never_sums_usage_history(agent, litellm):
    answer(litellm)
    with CaptureQueriesContext(connection) as captured:
        post(agent, seed_request())
    assert not [sql for sql in _statements(captured) if "SUM(" in sql.upper()]
