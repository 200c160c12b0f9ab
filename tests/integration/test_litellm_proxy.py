"""POST /ai/assist through a real LiteLLM proxy (deploy/litellm/config.yaml on fake providers):
routing by plan, LiteLLM's own retries and fallbacks, and how its failures reach our contract."""

import json
import time
from decimal import Decimal

import pytest
import requests

from ai.prompts import upstream_messages
from tenants.models import ModelPrice
from tests.fakes.upstream import DEFAULT_CONTENT, FakeUpstream
from usage.models import AIUsage
from usage.pricing import cost_usd

from . import litellm_proxy
from .litellm_proxy import attempts, provider_model

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SEED_MESSAGES = [{"role": "customer", "content": "Ma commande est en retard"}]
SEED_REQUEST = {
    "tenantId": "ecomlg-001",
    "contextType": "conversation",
    "contextId": "conv-123",
    "payload": {"messages": SEED_MESSAGES},
}
CLIENT_TIMEOUT = 60  # seconds; far above the app's deadline, so a hang fails instead of blocking


@pytest.fixture
def shop(make_tenant, make_user, token_for):
    """A tenant on `plan` and its agent's Authorization header."""

    def build(plan: str = "pro", tenant_id: str = "ecomlg-001", **fields):
        tenant = make_tenant(tenant_id, plan=plan, **fields)
        agent = make_user(f"agent@{tenant_id}.test", tenant=tenant)
        return tenant, {"Authorization": f"Bearer {token_for(agent)}"}

    return build


def ask(app, auth: dict, *, tenant_id: str = "ecomlg-001", request_id: str = "conv-123-1"):
    return requests.post(
        f"{app.url}/ai/assist",
        json={**SEED_REQUEST, "tenantId": tenant_id},
        headers={**auth, "X-Request-Id": request_id},
        timeout=CLIENT_TIMEOUT,
    )


def models_seen(fake: FakeUpstream) -> list[str]:
    return [call.json["model"] for call in fake.requests]


# --- answered ---------------------------------------------------------------------------------


def test_the_seed_call_is_answered_through_litellm_with_331_tokens_for_0_002589_usd(
    litellm, providers, proxy_config, app_on, shop
):
    # given a pro tenant, and a provider billing the seed's 198 prompt + 133 completion tokens
    tenant, auth = shop("pro", timezone="Europe/Paris")
    providers.primary.prompt_tokens, providers.primary.completion_tokens = 198, 133
    app = app_on(litellm.url)

    # when its agent asks for suggestions
    response = ask(app, auth)

    # then the answer is LiteLLM's, priced at the alias's price
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["provider"]) == ("success", "litellm")
    assert body["model"] == "kbz-standard"
    assert body["usage"] == {"tokens": 331, "costUsd": 0.002589}
    assert body["suggestions"] == json.loads(DEFAULT_CONTENT)["suggestions"]
    assert (body["requestId"], response.headers["X-Request-Id"]) == ("conv-123-1", "conv-123-1")
    # and one success row carries the same figures
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.status, row.provider, row.model, row.request_id) == (
        "success", "litellm", "kbz-standard", "conv-123-1",
    )  # fmt: skip
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (198, 133, 331)
    assert row.cost_usd_est == Decimal("0.002589")
    # and the provider got our conversation from LiteLLM, with LiteLLM's key (never ours)
    (call,) = providers.primary.requests
    assert call.json["model"] == provider_model(proxy_config, "kbz-standard")
    assert [(m["role"], m["content"]) for m in call.json["messages"]] == [
        (m["role"], m["content"]) for m in upstream_messages(SEED_MESSAGES)
    ]
    assert call.json["max_tokens"] == 1024
    assert call.json["response_format"] == {"type": "json_object"}
    headers = {name.lower(): value for name, value in call.headers.items()}
    assert headers["authorization"] == f"Bearer {litellm_proxy.PROVIDER_KEY}"
    assert not providers.fallback.requests


@pytest.mark.parametrize(
    "plan, alias", [("starter", "kbz-cheap"), ("pro", "kbz-standard"), ("autopilot", "kbz-premium")]
)
def test_each_plan_reaches_the_deployment_of_its_alias(
    litellm, providers, proxy_config, app_on, shop, plan, alias
):
    # given a tenant on the plan, and a provider billing 1000 + 200 tokens
    tenant, auth = shop(plan, f"{plan}-shop")
    providers.primary.prompt_tokens, providers.primary.completion_tokens = 1000, 200
    app = app_on(litellm.url)

    # when its agent asks for suggestions
    response = ask(app, auth, tenant_id=tenant.id)

    # then LiteLLM called the alias's deployment, and the answer and the row name the alias
    assert response.status_code == 200, response.text
    assert models_seen(providers.primary) == [provider_model(proxy_config, alias)]
    expected_cost = cost_usd(
        price=ModelPrice.objects.get(alias=alias), prompt_tokens=1000, completion_tokens=200
    )
    assert (response.json()["model"], response.json()["usage"]) == (
        alias, {"tokens": 1200, "costUsd": float(expected_cost)},
    )  # fmt: skip
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.status, row.model, row.total_tokens, row.cost_usd_est) == (
        "success", alias, 1200, expected_cost,
    )  # fmt: skip


@pytest.mark.parametrize(
    "plan, extra, alias, reason",
    [
        ("pro", {}, "kbz-standard", "default"),
        ("pro", {"quality": "fast"}, "kbz-cheap", "rule"),
        ("autopilot", {}, "kbz-premium", "default"),
        ("autopilot", {"feature": "journal"}, "kbz-cheap", "rule"),
    ],
    ids=["pro-default", "pro-fast", "autopilot-default", "autopilot-journal"],
)
def test_routed_calls_reach_litellm_with_the_routed_alias_and_max_tokens(
    litellm, providers, proxy_config, app_on, shop, plan, extra, alias, reason
):
    # given a tenant on the plan, and a provider billing 1000 + 200 tokens
    tenant, auth = shop(plan, f"{plan}-routed")
    providers.primary.prompt_tokens, providers.primary.completion_tokens = 1000, 200
    app = app_on(litellm.url)
    # when its agent asks, with the request's quality or feature
    response = requests.post(
        f"{app.url}/ai/assist", json={**SEED_REQUEST, "tenantId": tenant.id, **extra},
        headers=auth, timeout=CLIENT_TIMEOUT,
    )  # fmt: skip
    # then LiteLLM called the routed alias's deployment with the admitted max_tokens
    assert response.status_code == 200, response.text
    (call,) = providers.primary.requests
    assert call.json["model"] == provider_model(proxy_config, alias)
    assert call.json["max_tokens"] == 1024
    assert (response.json()["model"], response.json()["routing"]["reason"]) == (alias, reason)
    # and the row records the alias called and the model LiteLLM says answered
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.model, row.route_reason, row.max_tokens) == (alias, reason, 1024)
    # (LiteLLM answers with the name of the model group that served the call: our alias)
    assert row.upstream_model == alias


def test_a_call_fitted_to_a_small_budget_reaches_litellm_with_fewer_max_tokens(
    litellm, providers, proxy_config, app_on, shop
):
    # given a pro tenant whose budget holds a kbz-cheap call of a few hundred output tokens
    tenant, auth = shop("pro", "pro-fitted", daily_budget_override=Decimal("0.0006"))
    providers.primary.prompt_tokens, providers.primary.completion_tokens = 300, 100
    app = app_on(litellm.url)
    # when its agent asks
    response = ask(app, auth, tenant_id=tenant.id)
    # then LiteLLM got kbz-cheap with max_tokens lowered to fit, and the row says so
    assert response.status_code == 200, response.text
    (call,) = providers.primary.requests
    assert call.json["model"] == provider_model(proxy_config, "kbz-cheap")
    assert 256 <= call.json["max_tokens"] < 1024
    routing = response.json()["routing"]
    assert (routing["reason"], routing["maxTokens"]) == ("fit_to_budget", call.json["max_tokens"])
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.model, row.max_tokens) == ("kbz-cheap", call.json["max_tokens"])


@pytest.mark.parametrize(
    "behaviour, status, failure",
    [("status", 500, "InternalServerError"), ("hang", None, "TimeoutError")],
    ids=["primary-answers-500", "primary-hangs"],
)
def test_a_failing_primary_is_answered_by_its_litellm_fallback(
    litellm, providers, proxy_config, app_on, shop, behaviour, status, failure
):
    # given a pro tenant whose primary deployment fails, and a fallback that answers
    tenant, auth = shop("pro")
    providers.primary.behaviour, providers.primary.status = behaviour, status
    providers.fallback.prompt_tokens, providers.fallback.completion_tokens = 198, 133
    app = app_on(litellm.url)

    # when its agent asks for suggestions
    response = ask(app, auth)

    # then LiteLLM retried the primary as configured, then answered from the fallback
    assert response.status_code == 200, response.text
    primary_attempts = attempts(proxy_config, "kbz-standard", failure=failure)
    assert len(providers.primary.requests) == primary_attempts
    fallback_model = provider_model(proxy_config, "kbz-standard-fallback")
    assert models_seen(providers.fallback) == [fallback_model]
    # and for us it is one successful call of the plan's alias
    body = response.json()
    assert (body["provider"], body["model"], body["usage"]["tokens"]) == (
        "litellm", "kbz-standard", 331,
    )  # fmt: skip
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.status, row.model, row.total_tokens, row.cost_usd_est) == (
        "success", "kbz-standard", 331, Decimal("0.002589"),
    )  # fmt: skip


# --- failed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour, status, failure, http_status, error_code",
    [
        ("status", 500, "InternalServerError", 502, "upstream_error"),
        ("status", 429, "RateLimitError", 502, "upstream_rate_limited"),
        ("hang", None, "TimeoutError", 504, "upstream_timeout"),
    ],
    ids=["providers-answer-500", "providers-answer-429", "providers-hang"],
)
def test_when_every_provider_fails_litellm_failure_maps_to_the_contract(
    litellm, providers, proxy_config, app_on, app_deadline, shop,
    behaviour, status, failure, http_status, error_code,
):  # fmt: skip
    # given a pro tenant whose primary and fallback deployments both fail the same way
    tenant, auth = shop("pro")
    for fake in (providers.primary, providers.fallback):
        fake.behaviour, fake.status = behaviour, status
    app = app_on(litellm.url)

    # when its agent asks for suggestions
    started = time.monotonic()
    response = ask(app, auth)
    elapsed = time.monotonic() - started

    # then LiteLLM gave up on both, before our deadline (the error is LiteLLM's, not our timeout)
    assert (len(providers.primary.requests), len(providers.fallback.requests)) == (
        attempts(proxy_config, "kbz-standard", failure=failure),
        attempts(proxy_config, "kbz-standard-fallback", failure=failure),
    )
    assert elapsed < app_deadline
    # and the caller gets the contract's error, and one error row is written at $0
    assert (response.status_code, response.json()) == (
        http_status,
        {**response.json(), "status": "error", "errorCode": error_code, "requestId": "conv-123-1"},
    ), response.text
    assert response.headers["X-Request-Id"] == "conv-123-1"
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.status, row.error_code, row.model, row.total_tokens, row.cost_usd_est) == (
        "error", error_code, "kbz-standard", 0, Decimal("0"),
    )  # fmt: skip


@pytest.fixture
def own_litellm(litellm_bin, proxy_config, tmp_path):
    """A proxy of this test's own, which it may stop; stopped after it in any case (which also
    ends the calls it still has in flight to the fake providers)."""
    proxy = litellm_proxy.proxy_start(executable=litellm_bin, config=proxy_config, workdir=tmp_path)
    yield proxy
    proxy.stop()


def test_a_provider_dripping_its_body_is_cut_by_our_deadline_not_by_litellm(
    own_litellm, providers, app_on, shop
):
    # given providers that send their headers, then one byte of body every 0.2 s: LiteLLM's
    # per-attempt `timeout` bounds each read, not the attempt, so it keeps waiting
    tenant, auth = shop("pro")
    for fake in (providers.primary, providers.fallback):
        fake.behaviour, fake.drip_interval = "drip", 0.2
    deadline = 4.0
    app = app_on(own_litellm.url, workers=1, deadline=deadline)

    # when an agent asks for suggestions
    started = time.monotonic()
    response = ask(app, auth)
    elapsed = time.monotonic() - started

    # then our deadline ends the call: 504 upstream_timeout, and one error row at $0
    assert (response.status_code, response.json()["errorCode"]) == (504, "upstream_timeout")
    assert deadline <= elapsed < deadline + 3
    assert len(providers.primary.requests) == 1  # still waiting on its first attempt
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.status, row.error_code, row.cost_usd_est) == (
        "error", "upstream_timeout", Decimal("0"),
    )  # fmt: skip


def test_litellm_unreachable_answers_502_upstream_unavailable(app_on, shop):
    # given the app pointed at a loopback port where no LiteLLM listens
    tenant, auth = shop("pro")
    app = app_on(FakeUpstream.unreachable_url())

    # when an agent asks for suggestions
    response = ask(app, auth)

    # then 502 upstream_unavailable, and one error row
    assert (response.status_code, response.json()["errorCode"]) == (502, "upstream_unavailable")
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.status, row.error_code, row.cost_usd_est) == (
        "error", "upstream_unavailable", Decimal("0"),
    )  # fmt: skip


def test_litellm_stopped_between_two_calls_answers_502_upstream_unavailable(
    own_litellm, providers, app_on, shop
):
    # given an app worker that has already called LiteLLM (its connection is pooled)
    tenant, auth = shop("pro")
    app = app_on(own_litellm.url, workers=1)
    assert ask(app, auth, request_id="first").status_code == 200

    # when the LiteLLM process stops, and the agent asks again
    own_litellm.stop()
    response = ask(app, auth, request_id="second")

    # then 502 upstream_unavailable, and the second call's row is an error
    assert (response.status_code, response.json()["errorCode"]) == (502, "upstream_unavailable")
    rows = dict(AIUsage.objects.filter(tenant=tenant).values_list("request_id", "status"))
    assert rows == {"first": "success", "second": "error"}
    assert AIUsage.objects.get(request_id="second").error_code == "upstream_unavailable"
