"""The OpenAPI document the app serves describes the responses it really gives, through a real
LiteLLM: answers, LiteLLM failures, refusals and the read endpoints."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests

from ai.kill_switches import kill_switch_set
from tenants.services import membership_get_or_create
from tests.openapi_validation import Exchange, OpenApiDocument

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MESSAGES = [{"role": "customer", "content": "Ma commande est en retard"}]
CLIENT_TIMEOUT = 60


@pytest.fixture
def tenants(make_tenant, make_user, token_for):
    """A pro tenant, one on a budget too small for any call, one with its kill switch on, an
    agent of all three, and a staff user: (agent's headers, staff's headers)."""
    agent = make_user("agent@shops.test")
    switched_off = make_tenant("switched-off", plan="pro")
    for tenant in (
        make_tenant("ecomlg-001", plan="pro", timezone="Europe/Paris"),
        make_tenant("tiny-budget", plan="starter", daily_budget_override=Decimal("0.000001")),
        switched_off,
    ):
        membership_get_or_create(user=agent, tenant=tenant, role="agent")
    kill_switch_set(tenant=switched_off, on=True, reason="integration test", actor="tests")
    staff = make_user("support@keybuzz.test", is_staff=True)
    return (
        {"Authorization": f"Bearer {token_for(agent)}"},
        {"Authorization": f"Bearer {token_for(staff)}"},
    )


class Recorder:
    """Makes requests to the app and keeps what came back."""

    def __init__(self, base_url: str):
        self.base_url, self.exchanges = base_url, []

    def call(self, label: str, method: str, path: str, headers: dict, **kwargs) -> Exchange:
        response = requests.request(
            method, f"{self.base_url}{path}", headers=headers, timeout=CLIENT_TIMEOUT, **kwargs
        )
        exchange = Exchange(
            method=method.lower(),
            path=urlsplit(path).path,
            status=response.status_code,
            body=response.json(),
            label=label,
        )
        self.exchanges.append(exchange)
        return exchange

    def assist(self, label: str, tenant_id: str, headers: dict) -> Exchange:
        body = {"tenantId": tenant_id, "payload": {"messages": MESSAGES}}
        return self.call(label, "POST", "/ai/assist", headers, json=body)


def test_every_response_exercised_is_documented_and_matches_its_schema(
    litellm, providers, app_on, tenants
):
    # given the app on LiteLLM, and an agent of three tenants
    agent, staff = tenants
    app = app_on(litellm.url)
    record = Recorder(app.url)

    # when it gets each kind of answer of POST /ai/assist…
    providers.primary.prompt_tokens, providers.primary.completion_tokens = 198, 133
    assert record.assist("answered", "ecomlg-001", agent).status == 200
    for behaviour, status in (("status", 500), ("status", 429), ("hang", None)):
        for fake in (providers.primary, providers.fallback):
            fake.behaviour, fake.status = behaviour, status
        failed = record.assist(f"providers: {behaviour} {status or ''}", "ecomlg-001", agent)
        assert failed.status in {502, 504}
    providers.reset()
    assert record.assist("budget exceeded", "tiny-budget", agent).status == 402
    assert record.assist("tenant kill switch", "switched-off", agent).status == 403
    # …and reads status and usage
    for tenant_id in ("ecomlg-001", "switched-off"):
        record.call(f"status of {tenant_id}", "GET", f"/ai/assist/status?tenantId={tenant_id}",
                    agent)  # fmt: skip
    record.call("usage today", "GET", "/admin/ai/usage/today?tenantId=ecomlg-001", agent)
    record.call("usage, 7 days", "GET", "/admin/ai/usage?tenantId=ecomlg-001&days=7", agent)
    record.call("platform usage (staff)", "GET", "/admin/ai/usage?days=7", staff)

    # then the served OpenAPI document describes every one of those responses
    schema = requests.get(
        f"{app.url}/api/schema/", params={"format": "json"}, headers=agent, timeout=CLIENT_TIMEOUT
    )
    assert schema.status_code == 200, schema.text
    document = OpenApiDocument(schema.json())
    problems = [problem for exchange in record.exchanges for problem in document.problems(exchange)]
    assert not problems, "\n".join(problems)
    assert {(e.method, e.path, e.status) for e in record.exchanges} >= {
        ("post", "/ai/assist", 200), ("post", "/ai/assist", 402), ("post", "/ai/assist", 403),
        ("get", "/ai/assist/status", 200), ("get", "/admin/ai/usage/today", 200),
        ("get", "/admin/ai/usage", 200),
    }  # fmt: skip
