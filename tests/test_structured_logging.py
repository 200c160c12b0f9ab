"""Structured logs: one JSON object per line, with the request and tenant it is about, and
nothing of the conversation or of any credential."""

import io
import json
import logging
import subprocess
import sys

import pytest
import responses

from keybuzz.structured_logging import JsonFormatter, LogContextFilter, log_context, log_context_set
from tests.conftest import REPO_ROOT

LITELLM = "http://litellm.test"
MASTER_KEY = "test-master-key-never-logged"
SECRET_CONTENT = "Mon code client est KBZ-SECRET-CONTENT-4242"


@pytest.fixture
def log_lines():
    """What the configured console handler (formatter and filter from settings) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield lambda: buffer.getvalue().splitlines()
    handler.setStream(previous)


@pytest.fixture
def litellm(settings):
    settings.KEYBUZZ = {
        **settings.KEYBUZZ,
        "LITELLM_BASE_URL": LITELLM,
        "LITELLM_MASTER_KEY": MASTER_KEY,
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def assist(client, **headers):
    body = {
        "tenantId": "ecomlg-001",
        "payload": {"messages": [{"role": "customer", "content": SECRET_CONTENT}]},
    }
    return client.post("/ai/assist", body, format="json", **headers)


@pytest.mark.django_db
def test_a_log_line_of_an_assist_request_is_one_json_object_with_request_and_tenant_ids(
    client_for, member, litellm, log_lines
):
    # given LiteLLM failing, which the client logs as a warning
    litellm.post(f"{LITELLM}/v1/chat/completions", status=500, json={})
    # when an agent asks for suggestions
    response = assist(client_for(member), HTTP_X_REQUEST_ID="req-log-1")
    # then that warning is one JSON line carrying the request id and the tenant id
    assert response.status_code == 502
    entries = [json.loads(line) for line in log_lines()]
    [warning] = [entry for entry in entries if entry["logger"] == "ai.client"]
    assert warning["level"] == "WARNING"
    assert warning["message"].startswith("LiteLLM call failed: upstream_error")
    assert (warning["request_id"], warning["tenant_id"]) == ("req-log-1", "ecomlg-001")
    assert warning["time"].endswith("+00:00")


@pytest.mark.django_db
def test_no_message_content_credential_or_master_key_reaches_the_logs(
    api_client, member, token_for, litellm, log_lines, caplog, monkeypatch
):
    # given every logger at DEBUG and an agent with a known token
    caplog.set_level(logging.DEBUG)
    token = token_for(member)
    agent = api_client
    agent.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    # when calls succeed, fail upstream, and crash
    content = json.dumps({"suggestions": [SECRET_CONTENT], "confidenceLevel": "high"})
    litellm.post(f"{LITELLM}/v1/chat/completions", json={
        "choices": [{"message": {"content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10},
    })  # fmt: skip
    assert assist(agent).status_code == 200
    litellm.replace("POST", f"{LITELLM}/v1/chat/completions", status=503, body=SECRET_CONTENT)
    assert assist(agent).status_code == 502

    def crash(**kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr("ai.services.litellm_complete", crash)
    assert assist(agent).status_code == 500
    # then the logs said something, one JSON object a line, and nothing secret
    lines = log_lines()
    assert all(isinstance(json.loads(line), dict) for line in lines)
    logged = "\n".join(lines)
    assert "Unhandled error" in logged and "LiteLLM call failed" in logged
    for secret in ("SECRET-CONTENT", MASTER_KEY, token):
        assert secret not in logged
        assert secret not in caplog.text


@pytest.mark.django_db
def test_the_ids_of_a_request_do_not_outlive_it(client_for, member, log_lines):
    assist(client_for(member), HTTP_X_REQUEST_ID="req-log-2")
    logging.getLogger("keybuzz.test").warning("after the request")
    [entry] = [json.loads(line) for line in log_lines() if "after the request" in line]
    assert "request_id" not in entry and "tenant_id" not in entry


def _format(record: logging.LogRecord) -> dict:
    LogContextFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_an_exception_is_logged_on_its_one_line_with_its_traceback():
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.makeLogRecord(
            {"name": "keybuzz.x", "levelname": "ERROR", "levelno": logging.ERROR,
             "msg": "failed %s", "args": ("twice",), "exc_info": sys.exc_info()}
        )  # fmt: skip
    with log_context(request_id="req-3"):
        log_context_set(tenant_id="shop-3")
        entry = _format(record)
    assert (entry["message"], entry["request_id"], entry["tenant_id"]) == (
        "failed twice", "req-3", "shop-3",
    )  # fmt: skip
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: bad value" in entry["exception"]


def test_a_tenant_set_outside_any_request_sticks_to_nothing():
    log_context_set(tenant_id="shop-4")
    entry = _format(logging.makeLogRecord({"msg": "a command's line"}))
    assert "tenant_id" not in entry and "request_id" not in entry


def _django_logging(log_format: str | None) -> subprocess.CompletedProcess:
    """A fresh process with the real settings, logging one line inside a request context."""
    script = (
        "import django, logging; django.setup()\n"
        "from keybuzz.structured_logging import log_context\n"
        "with log_context(request_id='req-5'):\n"
        "    logging.getLogger('keybuzz.test').warning('hello %s', 'there')\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "keybuzz.settings",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DEBUG": "true",
        **({"LOG_FORMAT": log_format} if log_format is not None else {}),
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_log_format_json_is_the_default_and_text_gives_plain_lines():
    json_run, text_run = _django_logging(None), _django_logging("text")
    assert json.loads(json_run.stderr)["message"] == "hello there"
    assert text_run.stderr.rstrip().endswith("WARNING keybuzz.test hello there [request_id=req-5]")


def test_an_unknown_log_format_is_refused_at_startup():
    run = _django_logging("xml")
    assert run.returncode != 0
    assert "LOG_FORMAT must be 'json' or 'text'" in run.stderr
