"""Autopilot test helpers: a member of an autopilot-plan tenant, and a way to run the worker's
task body in process (the real db_worker runs in tests/ai/autopilot/test_workers.py)."""

import uuid

import pytest
from django_tasks_db.models import DBTaskResult

from ai.autopilot.runner import job_run_next
from ai.autopilot.services import job_create
from ai.models import AutopilotJob
from tests.ai.conftest import seed_request


@pytest.fixture
def pilot(make_tenant):
    return make_tenant("pilot-001", plan="autopilot", timezone="Europe/Paris")


@pytest.fixture
def pilot_member(make_user, pilot):
    return make_user("agent@pilot.test", tenant=pilot)


@pytest.fixture
def pilot_agent(client_for, pilot_member):
    return client_for(pilot_member)


def job_body(tenant_id="pilot-001", **extra) -> dict:
    return seed_request(tenant_id, **extra)


def create(client, body=None, **headers):
    return client.post("/ai/autopilot/jobs", body or job_body(), format="json", **headers)


def run_all() -> list[str]:
    """Run jobs as a worker would until none may run now; the outcomes, in order."""
    outcomes = []
    while (outcome := job_run_next()) is not None:
        outcomes.append(outcome.split()[1])
    return outcomes


def job(job_id) -> AutopilotJob:
    return AutopilotJob.objects.get(pk=job_id)


def tasks_due() -> int:
    return DBTaskResult.objects.ready().count()


def enqueue(tenant, count: int, **body) -> list[str]:
    """Create `count` jobs through the service, each committed with its task."""
    ids = []
    for _ in range(count):
        request_id = uuid.uuid4().hex
        created = job_create(
            tenant=tenant, user_id="1", request_id=request_id, idempotency_key=None,
            body={"tenantId": tenant.id, "payload": {"messages": MESSAGES},
                  "quality": "balanced", **body},
        )  # fmt: skip
        ids.append(str(created.job.pk))
    return ids


MESSAGES = [{"role": "customer", "content": "Ma commande est en retard, pouvez-vous vérifier ?"}]
