"""Autopilot test helpers: a member of an autopilot-plan tenant, and a way to run the worker's
task body in process (the real db_worker runs in tests/ai/autopilot/test_workers.py)."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from ai.autopilot.runner import job_run_next
from ai.autopilot.services import job_create
from ai.models import AutopilotJob
from tests.ai.conftest import seed_request
from tests.conftest import REPO_ROOT


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


# --- Real workers: `manage.py db_worker` processes on the test database (PostgreSQL) ---------


class Workers:
    """db_worker processes sharing the test database; stopped (killed if need be) at the end."""

    def __init__(self, env: dict):
        self.env = env
        self.processes: list[subprocess.Popen] = []

    def start(self, count: int = 1) -> list[subprocess.Popen]:
        started = []
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--no-startup-delay",
                 "--interval", "0.05", "--worker-id", f"test-{len(self.processes)}"],
                cwd=REPO_ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self.processes.append(process)
            started.append(process)
        return started

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def db_workers():
    """Start db_worker processes against the test database with `env` added (a fake LLM's
    URL, short timeouts); every test that uses it commits its data (transaction=True)."""
    running: list[Workers] = []

    def start(count: int = 1, **env) -> Workers:
        db = connection.settings_dict
        workers = Workers(
            {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "keybuzz.settings",
                "DJANGO_READ_DOT_ENV_FILE": "false",
                "DEBUG": "false",
                "SECRET_KEY": "worker-test-secret-key-0123456789abcdef",
                "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/"
                f"{db['NAME']}",
                "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",  # the receivers are on loopback
                "LOG_FORMAT": "text",
                **{name: str(value) for name, value in env.items()},
            }
        )
        running.append(workers)
        workers.start(count)
        return workers

    yield start
    for workers in running:
        workers.stop()


def wait_for(condition, *, timeout: float = 60.0, every: float = 0.1) -> None:
    """Wait until condition() holds; fail after `timeout` (the workers are stuck)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)


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
