"""The production stack as it runs in the container: gunicorn, DEBUG off, PostgreSQL."""

import subprocess
import sys

import pytest
import requests

from tests.conftest import REPO_ROOT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_gunicorn_with_four_workers_serves_probes_pages_and_static_files(app_server):
    server = app_server(workers=4)
    base = server.url
    # the probes
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{base}/readyz", timeout=5).json() == {"status": "ready"}
    # an unknown API path is a JSON 404, not Django's debug page
    missing = requests.get(f"{base}/nope", headers={"Accept": "text/html"}, timeout=5)
    assert (missing.status_code, missing.json()["status"]) == (404, "not_found")
    # the console's login page, with its hashed static files served by whitenoise
    login = requests.get(f"{base}/staff/login/", timeout=5)
    assert login.status_code == 200
    stylesheet = login.text.split('href="/static/admin/css/base.', 1)[1].split('"', 1)[0]
    css = requests.get(f"{base}/static/admin/css/base.{stylesheet}", timeout=5)
    assert css.status_code == 200
    # the container's HEALTHCHECK command
    healthcheck = subprocess.run(
        [sys.executable, "-m", "keybuzz.healthcheck"], cwd=REPO_ROOT, env=server.env, timeout=30
    )
    assert healthcheck.returncode == 0
