"""Configuration errors stop the process at start-up with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _python(*args: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "keybuzz.settings",
            "DJANGO_READ_DOT_ENV_FILE": "false",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def _load_settings(**env) -> subprocess.CompletedProcess:
    return _python("-c", "import keybuzz.settings", **env)


def test_the_web_application_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _python("-c", "import keybuzz.wsgi", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is false" in result.stderr


def test_the_web_application_starts_with_a_secret_key_and_its_static_files(tmp_path):
    (tmp_path / "staticfiles.json").write_text("{}")
    result = _python("-c", "import keybuzz.wsgi", DEBUG="false", SECRET_KEY="x" * 50,
                     STATIC_ROOT=str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_web_application_refuses_to_start_before_collectstatic_with_one_line(tmp_path):
    result = _python("-c", "import keybuzz.wsgi", DEBUG="false", SECRET_KEY="x" * 50,
                     STATIC_ROOT=str(tmp_path / "empty"))  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Static files are missing in STATIC_ROOT ({tmp_path / 'empty'}): run "
        "`python manage.py collectstatic --no-input` before serving with DEBUG off."
    ]


def test_gunicorn_stops_at_start_before_collectstatic_with_one_line(tmp_path):
    # given DEBUG off and no collectstatic output
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "keybuzz.settings", "DEBUG": "false",
           "DJANGO_READ_DOT_ENV_FILE": "false", "SECRET_KEY": "x" * 50,
           "STATIC_ROOT": str(tmp_path / "empty")}  # fmt: skip
    # when gunicorn starts as the README says
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "keybuzz.wsgi:application", "--bind",
         "127.0.0.1:0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # then it stops before any worker, with the reason on one line
    assert result.returncode != 0
    assert "Static files are missing in STATIC_ROOT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_management_commands_run_before_collectstatic(tmp_path):
    result = _python("manage.py", "check", DEBUG="false", SECRET_KEY="x" * 50,
                     STATIC_ROOT=str(tmp_path / "empty"))  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_debug_serves_without_a_secret_key():
    assert _python("-c", "import keybuzz.wsgi", DEBUG="true").returncode == 0


def test_commands_that_sign_nothing_run_without_secret_key():
    result = _python("manage.py", "makemigrations", "--check", "--dry-run", DEBUG="false")
    assert result.returncode == 0, result.stderr


def test_a_reservation_ttl_not_above_the_timeout_is_refused():
    result = _load_settings(
        DEBUG="true", LITELLM_TIMEOUT_SECONDS="30", AI_RESERVATION_TTL_SECONDS="30"
    )
    assert "AI_RESERVATION_TTL_SECONDS must exceed" in result.stderr


def test_an_unknown_budget_timezone_is_refused():
    result = _load_settings(DEBUG="true", AI_BUDGET_TIMEZONE="Mars/Olympus")
    assert "AI_BUDGET_TIMEZONE must be an IANA timezone" in result.stderr


def test_gunicorn_refuses_a_timeout_shorter_than_an_upstream_call():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--check-config", "keybuzz.wsgi"],
        cwd=REPO,
        env={**os.environ, "GUNICORN_TIMEOUT": "40", "LITELLM_TIMEOUT_SECONDS": "30"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "GUNICORN_TIMEOUT (40) must exceed" in result.stdout + result.stderr


def test_the_web_application_warns_at_start_up_when_in_fallback_mode():
    result = _python("-c", "import keybuzz.wsgi", DEBUG="true", LITELLM_MASTER_KEY="")
    assert "AI runs in fallback mode" in result.stderr


def test_the_web_application_does_not_warn_with_a_master_key():
    result = _python("-c", "import keybuzz.wsgi", DEBUG="true", LITELLM_MASTER_KEY="sk-test")
    assert "fallback mode" not in result.stderr


def _database_options(**env) -> str:
    code = "import keybuzz.settings as s; print(sorted(s.DATABASES['default']['OPTIONS'].items()))"
    result = _python("-c", code, DATABASE_URL="postgres://kb@127.0.0.1:5432/kb", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_postgresql_binds_on_the_server_and_prepares_hot_statements_by_default():
    assert "('prepare_threshold', 5), ('server_side_binding', True)" in _database_options()


def test_prepared_statements_can_be_turned_off_for_an_old_pooler():
    options = _database_options(DATABASE_PREPARED_STATEMENTS="false")
    assert "server_side_binding" not in options and "prepare_threshold" not in options


def _gunicorn_reuse_port(**env) -> str:
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['reuse_port'])"
    result = _python("-c", code, DEBUG="true", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_gunicorn_workers_share_one_socket_unless_reuse_port_is_asked_for():
    # a killed worker must not reset connections it never accepted (tests/reliability)
    assert _gunicorn_reuse_port() == "False"
    assert _gunicorn_reuse_port(GUNICORN_REUSE_PORT="true") == "True"
