"""The reliability suite: the app under gunicorn on PostgreSQL while things break around it —
LiteLLM failing in every way a socket can, a worker killed mid-call, PostgreSQL restarted in
the middle of a burst.

It takes a minute or two and starts servers (gunicorn, a fake LiteLLM, a throwaway PostgreSQL
cluster), so only `make test-reliability` runs it: without KEYBUZZ_RELIABILITY=1 nothing in this
folder is collected, and plain `pytest` / `make test` never see it.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal

import pytest
import requests

from tests.conftest import REPO_ROOT, _free_port
from tests.fakes.upstream import FakeUpstream
from tests.openapi_validation import Exchange, OpenApiDocument

from .cluster import ThrowawayCluster

ENABLED = os.environ.get("KEYBUZZ_RELIABILITY") == "1"
if not ENABLED:
    collect_ignore_glob = ["test_*.py"]

MESSAGES = [{"role": "customer", "content": "Ma commande est en retard, pouvez-vous vérifier ?"}]
CLIENT_TIMEOUT = 60
# Short, so that hangs and drips end fast; the reservation TTL just above it.
UPSTREAM_TIMEOUT_SECONDS = 2.0


def pytest_report_header(config):
    if not ENABLED:
        return "tests/reliability: not collected (KEYBUZZ_RELIABILITY=1 or make test-reliability)"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran a throwaway cluster shows the end of its server log."""
    outcome = yield
    report = outcome.get_result()
    cluster = getattr(item, "funcargs", {}).get("throwaway_cluster")
    if report.failed and cluster is not None:
        report.sections.append(("throwaway PostgreSQL log (end)", cluster.log_tail()))


def assist_body(tenant_id: str) -> dict:
    return {"tenantId": tenant_id, "payload": {"messages": MESSAGES}}


def litellm_env(fake: FakeUpstream, **extra: str) -> dict:
    return {
        "LITELLM_BASE_URL": fake.url,
        "LITELLM_MASTER_KEY": "test-master-key",
        "LITELLM_TIMEOUT_SECONDS": str(UPSTREAM_TIMEOUT_SECONDS),
        "AI_RESERVATION_TTL_SECONDS": str(UPSTREAM_TIMEOUT_SECONDS + 1),
        **extra,
    }


@dataclass(frozen=True)
class Shop:
    tenant_id: str
    agent: dict  # the agent's request headers


@pytest.fixture
def shop(make_tenant, make_user, token_for) -> Shop:
    """A pro tenant with room for hundreds of calls, and one of its agents (committed: the
    tests that use it run with django_db(transaction=True) so that gunicorn sees it)."""
    tenant = make_tenant("rel-1", plan="pro", daily_budget_override=Decimal("100"))
    agent = make_user("agent@rel.test", tenant=tenant)
    return Shop(tenant.id, {"Authorization": f"Bearer {token_for(agent)}"})


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        yield fake


def openapi_document(base_url: str, headers: dict) -> OpenApiDocument:
    """The document the running app serves, to check its answers against."""
    schema = requests.get(
        f"{base_url}/api/schema/", params={"format": "json"}, headers=headers, timeout=30
    )
    assert schema.status_code == 200, schema.text
    return OpenApiDocument(schema.json())


def schema_problems(document: OpenApiDocument, response: requests.Response, label: str) -> list:
    exchange = Exchange(
        method=response.request.method.lower(),
        path=requests.utils.urlparse(response.request.url).path,
        status=response.status_code,
        body=response.json(),
        label=label,
    )
    return document.problems(exchange)


@pytest.fixture
def throwaway_cluster():
    """A PostgreSQL cluster of this test's own, started; stopped and deleted afterwards,
    whatever happened (the test's report shows the end of its log when it fails)."""
    cluster = ThrowawayCluster(port=_free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def manage(database_url: str, *args: str) -> subprocess.CompletedProcess:
    """`manage.py` against another database than pytest-django's, as an operator runs it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "keybuzz.settings",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DEBUG": "false",
        "SECURE_HTTPS": "false",  # plain HTTP on loopback
        "SECRET_KEY": "reliability-cli-secret-key-0123456789abcdef",
        "DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
