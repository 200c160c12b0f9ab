"""Fixtures shared by the whole suite, and the PostgreSQL policy for tests marked `postgres`."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from django.db import connection
from rest_framework.test import APIClient

from tenants.models import Membership, Plan, Tenant, User
from tenants.services import membership_get_or_create, tenant_create
from tenants.tokens import api_token_issue

SERVICE_KEY = "tests-service-key-0123456789abcdef"
LITELLM = "http://litellm.test"
COMPLETIONS = f"{LITELLM}/v1/chat/completions"
REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_runtest_setup(item):
    """`postgres` tests skip on SQLite, with the reason; under CI=true they fail instead."""
    if item.get_closest_marker("postgres") is None or connection.vendor == "postgresql":
        return
    reason = "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db>"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true does not allow skipping it)")
    pytest.skip(reason)


@pytest.fixture
def litellm(settings):
    """LiteLLM configured, and its HTTP API replaced by `responses` (no call unless added)."""
    settings.KEYBUZZ = {
        **settings.KEYBUZZ,
        "LITELLM_BASE_URL": LITELLM,
        "LITELLM_MASTER_KEY": "test-master-key",
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_tenant(db):
    def make(tenant_id: str = "ecomlg-001", *, plan: str = "pro", **fields) -> Tenant:
        return tenant_create(
            tenant_id=tenant_id,
            name=fields.pop("name", tenant_id),
            plan=Plan.objects.get(pk=plan),
            **fields,
        )

    return make


@pytest.fixture
def tenant(make_tenant) -> Tenant:
    return make_tenant("ecomlg-001", plan="pro", timezone="Europe/Paris")


@pytest.fixture
def make_user(db):
    def make(email: str, *, tenant: Tenant | None = None, role: str = "agent", **fields) -> User:
        user = User.objects.create_user(email, password=fields.pop("password", None), **fields)
        if tenant is not None:
            membership_get_or_create(user=user, tenant=tenant, role=role)
        return user

    return make


@pytest.fixture
def member(make_user, tenant) -> User:
    return make_user("agent@ecomlg.test", tenant=tenant, role=Membership.Role.AGENT)


@pytest.fixture
def staff(make_user) -> User:
    return make_user("support@keybuzz.test", is_staff=True)


@pytest.fixture
def token_for(db):
    """A fresh API token (in clear) for a user."""

    def issue(user: User) -> str:
        return api_token_issue(user=user)[1]

    return issue


@pytest.fixture
def client_for(token_for):
    """An API client authenticated as `user` with a Bearer token."""

    def build(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return build


@pytest.fixture
def usd():
    return Decimal


class ManageCli:
    """`manage.py` in a child process, as an operator runs it, on its own SQLite file.

    The child cannot see pytest-django's test database (in memory on SQLite, inside an
    uncommitted transaction on PostgreSQL), and a transactional test's flush would wipe the rows
    that migrations seed. What these runs check (exit codes, stderr shape, nothing written)
    does not depend on the backend; behaviour on each backend is tested in-process.
    """

    def __init__(self, db_path: Path):
        self.db_path = db_path

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "DEBUG": "false",
        }
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.db_path) as db:
            return db.execute(sql, params).fetchall()

    def count(self, table: str) -> int:
        return self.query(f"SELECT COUNT(*) FROM {table}")[0][0]  # noqa: S608 (test constants)


@pytest.fixture(scope="module")
def manage_cli(tmp_path_factory) -> ManageCli:
    """A migrated database of the module's own for command-line runs."""
    cli = ManageCli(tmp_path_factory.mktemp("cli") / "db.sqlite3")
    migrated = cli("migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    return cli


class AppServer:
    """The app under gunicorn, as in production: DEBUG off, several worker processes."""

    def __init__(self, process: subprocess.Popen, base_url: str, env: dict):
        self.process, self.url, self.env = process, base_url, env

    def worker_pids(self) -> list[int]:
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in children.stdout.split()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    """collectstatic's output, made once: gunicorn refuses to serve with DEBUG off without it."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=REPO_ROOT, check=True, timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "keybuzz.settings", "DEBUG": "false",
             "DJANGO_READ_DOT_ENV_FILE": "false", "STATIC_ROOT": str(root),
             "SECRET_KEY": "app-server-test-secret-key-0123456789abcdef"},
    )  # fmt: skip
    return root


@pytest.fixture
def app_server(static_root):
    """Start the app under gunicorn against the test database (PostgreSQL), stopped after, as
    in production: DEBUG off, static files collected.

    Tests that use it commit their data (django_db(transaction=True)) so the workers see it,
    and restore the migration-seeded rows afterwards (serialized_rollback=True).
    """
    started: list[AppServer] = []

    def start(*, workers: int = 4, env: dict | None = None) -> AppServer:
        db = connection.settings_dict
        database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        port = _free_port()
        server_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "keybuzz.settings",
            "DJANGO_READ_DOT_ENV_FILE": "false",
            "DEBUG": "false",
            "SECURE_HTTPS": "false",  # plain HTTP on loopback
            "SECRET_KEY": "app-server-test-secret-key-0123456789abcdef",
            "DATABASE_URL": database_url,
            "STATIC_ROOT": str(static_root),
            "PORT": str(port),
            **(env or {}),
        }
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "keybuzz.wsgi:application",
             "-w", str(workers), "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"],
            cwd=REPO_ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        server = AppServer(process, f"http://127.0.0.1:{port}", server_env)
        started.append(server)
        deadline = time.monotonic() + 30
        while len(server.worker_pids()) < workers or not _answers(f"{server.url}/healthz"):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        return server

    yield start
    for server in started:
        server.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:  # not listening yet, or still booting workers
        return False


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
