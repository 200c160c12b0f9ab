"""The deployment kit: compose file, LiteLLM config, .env.example and the runbook's commands."""

import re

import pytest
import yaml
from django.core.management import get_commands

from tests.conftest import REPO_ROOT

CONTRACT_VARIABLES = {
    "DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "SECURE_PROXY_SSL_HEADER", "LITELLM_BASE_URL", "LITELLM_MASTER_KEY",
    "LITELLM_TIMEOUT_SECONDS", "AI_RESERVATION_TTL_SECONDS", "KEYBUZZ_SERVICE_KEY",
    "AI_BUDGET_TIMEZONE", "AI_MAX_OUTPUT_TOKENS", "AI_MIN_OUTPUT_TOKENS", "EMAIL_URL",
    "DEFAULT_FROM_EMAIL", "REDIS_URL", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "METRICS_TOKEN",
}  # fmt: skip
DOCS = ["README.md", "docs/OPERATIONS.md"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_compose_runs_the_stack_with_a_one_shot_migration(compose):
    services = compose["services"]
    assert {"db", "litellm", "migrate", "app", "housekeeping", "worker"} <= set(services)
    assert services["worker"]["command"][:3] == ["python", "manage.py", "db_worker"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert services["app"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


def test_compose_mounts_the_litellm_config_that_exists(compose):
    mount = compose["services"]["litellm"]["volumes"][0].split(":")[0]
    assert (REPO_ROOT / mount).is_file()


def test_compose_takes_every_secret_from_the_environment(compose):
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    secrets = re.findall(
        r"^\s*(\w*(?:PASSWORD|MASTER_KEY|API_KEY|SECRET_KEY)\w*):\s*(\S+)", text, re.MULTILINE
    )
    assert secrets
    for name, value in secrets:
        assert value.startswith("${"), f"{name} is hard-coded in docker-compose.yml"


def test_env_example_lists_every_contract_variable():
    listed = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(),
                            re.MULTILINE))  # fmt: skip
    assert listed >= CONTRACT_VARIABLES


def test_litellm_gives_up_before_our_deadline():
    config = yaml.safe_load((REPO_ROOT / "deploy/litellm/config.yaml").read_text())
    settings = {**config.get("litellm_settings", {}), **config.get("router_settings", {})}
    retries = settings["num_retries"]
    timeouts = [
        deployment["litellm_params"].get("timeout", settings.get("timeout"))
        for deployment in config["model_list"]
    ]
    assert retries == 3
    assert all(t is not None and t * (retries + 1) < 30 for t in timeouts)


def _documented(pattern: str) -> set[str]:
    found = set()
    for doc in DOCS:
        found |= set(re.findall(pattern, (REPO_ROOT / doc).read_text()))
    return found


def test_every_manage_py_command_in_the_docs_exists():
    documented = _documented(r"manage\.py (\w+)")
    assert documented, "the docs name no command"
    assert documented <= set(get_commands())


def test_every_make_target_in_the_docs_exists():
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    assert _documented(r"`make ([\w-]+)") <= targets
