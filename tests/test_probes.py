import pytest
from django.db import OperationalError

from keybuzz import probes


def test_healthz_answers_200_without_touching_the_database(client):
    # no django_db mark: any database access here would fail the test
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_readyz_answers_200_when_the_database_answers(client):
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


class _UnreachableDatabase:
    def cursor(self):
        raise OperationalError("connection refused")


def test_readyz_answers_503_json_when_the_database_is_unreachable(client, monkeypatch):
    # given a database that refuses connections
    monkeypatch.setattr(probes, "connection", _UnreachableDatabase())
    # when the readiness probe runs
    response = client.get("/readyz")
    # then it reports not ready, as JSON
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
