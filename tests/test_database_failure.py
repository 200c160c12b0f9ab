"""With the database unreachable, API paths answer 503 JSON `unavailable`, not a 500."""

import pytest
from django.db import OperationalError

from usage.models import AIUsage, Reservation

pytestmark = pytest.mark.django_db

BODY = {"tenantId": "ecomlg-001", "payload": {"messages": [{"role": "customer", "content": "hi"}]}}


def _unreachable(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def test_authentication_against_a_dead_database_answers_503_unavailable(
    client_for, member, monkeypatch
):
    # given a database that refuses connections when the token is looked up
    client = client_for(member)
    monkeypatch.setattr("tenants.authentication.api_token_user", _unreachable)
    # when a request arrives
    response = client.get("/ai/assist/status", {"tenantId": "ecomlg-001"})
    # then it is a quick, retryable 503 in the contract's shape
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response["Retry-After"] == "5"


def test_the_database_failing_mid_pipeline_answers_503_and_writes_nothing(
    client_for, member, monkeypatch
):
    client = client_for(member)
    monkeypatch.setattr("ai.guardrails.kill_switches_read", _unreachable)
    response = client.post("/ai/assist", BODY, format="json")
    assert (response.status_code, response.json()["status"]) == (503, "unavailable")
    assert not AIUsage.objects.exists()
    assert not Reservation.objects.exists()


def test_the_failure_is_logged_without_a_traceback_or_its_message(
    client_for, member, monkeypatch, caplog
):
    client = client_for(member)
    monkeypatch.setattr("tenants.authentication.api_token_user", _unreachable)
    client.get("/ai/assist/status", {"tenantId": "ecomlg-001"})
    record = next(r for r in caplog.records if r.name == "keybuzz.errors")
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert "127.0.0.1" not in record.getMessage()


def test_a_body_over_256_kb_is_413_after_authentication(client_for, member, api_client):
    big = {**BODY, "payload": {"messages": [{"role": "customer", "content": "x" * 270_000}]}}
    assert client_for(member).post("/ai/assist", big, format="json").status_code == 413
    assert api_client.post("/ai/assist", big, format="json").status_code == 401
