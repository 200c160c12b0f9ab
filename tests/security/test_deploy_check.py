"""`manage.py check --deploy` is clean with production settings (DEBUG off, HTTPS)."""

import os
import secrets
import subprocess
import sys

from tests.conftest import REPO_ROOT


def _deploy_check(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECURE_HTTPS", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "keybuzz.settings",
            "DJANGO_READ_DOT_ENV_FILE": "false",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "ai.keybuzz.example",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_is_clean_with_production_settings():
    result = _deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_check_notices_plain_http_hardening_being_off():
    # the check is meaningful: turning HTTPS hardening off makes it fail
    result = _deploy_check(SECURE_HTTPS="false")
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stdout + result.stderr
