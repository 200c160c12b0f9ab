"""The master key and the service key never appear in responses, logs or admin pages."""

import hmac
import json
import logging

import pytest
import responses
from django.contrib import admin
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

MASTER_KEY = "sk-master-NEVER-SHOW-7f3a9c"
SERVICE_KEY = "svc-key-NEVER-SHOW-41b2d8"
COMPLETIONS = "http://litellm.test/v1/chat/completions"
BODY = {
    "tenantId": "ecomlg-001",
    "payload": {"messages": [{"role": "customer", "content": "Ma commande est en retard"}]},
}


@pytest.fixture
def secrets_configured(settings):
    settings.KEYBUZZ = {
        **settings.KEYBUZZ,
        "LITELLM_BASE_URL": "http://litellm.test",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "SERVICE_KEY": SERVICE_KEY,
    }


def _answer(mock, **kwargs):
    mock.post(COMPLETIONS, **kwargs)


def test_no_secret_leaks_through_any_outcome(
    secrets_configured, client_for, member, staff, caplog, client
):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    agent = client_for(member)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as upstream:
        # a success, each upstream failure, and a crash of the client library
        _answer(upstream, json={
            "choices": [{"message": {"content": '{"suggestions": ["ok"]}'}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        })  # fmt: skip
        seen.append(_dump(agent.post("/ai/assist", BODY, format="json")))
        for failure in ({"status": 500, "body": f"upstream said {MASTER_KEY}"},
                        {"status": 401, "json": {"error": f"bad key {MASTER_KEY}"}},
                        {"status": 200, "body": "not json"},
                        {"body": ConnectionError(f"refused for {MASTER_KEY}")}):  # fmt: skip
            upstream.replace(responses.POST, COMPLETIONS, **failure)
            seen.append(_dump(agent.post("/ai/assist", BODY, format="json")))
    # the trusted proxy misused: no email, an unknown email, a wrong key
    proxy = APIClient()
    for headers in ({}, {"HTTP_X_USER_EMAIL": "nobody@x.test"}):
        proxy.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_KEY}", **headers)
        seen.append(_dump(proxy.get("/ai/assist/status", {"tenantId": "ecomlg-001"})))
    proxy.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_KEY}x", HTTP_X_USER_EMAIL=member.email)
    seen.append(_dump(proxy.get("/ai/assist/status", {"tenantId": "ecomlg-001"})))
    # every page of the staff console
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        seen.append(client.get(url).content.decode())
    seen.extend(record.getMessage() + str(record.exc_text or "") for record in caplog.records)
    seen.append(caplog.text)
    # then neither key appears anywhere
    everything = "\n".join(seen)
    assert MASTER_KEY not in everything
    assert SERVICE_KEY not in everything


def _dump(response) -> str:
    headers = json.dumps(dict(response.items()))
    return f"{response.status_code} {headers} {response.content.decode()}"


def test_the_service_key_is_compared_in_constant_time(secrets_configured, member, monkeypatch):
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    proxy = APIClient()
    proxy.credentials(HTTP_AUTHORIZATION=f"Bearer {SERVICE_KEY}", HTTP_X_USER_EMAIL=member.email)
    assert proxy.get("/ai/assist/status", {"tenantId": "ecomlg-001"}).status_code == 200
    assert compared
