"""The real LiteLLM proxy, exactly as `make test-integration` runs it (tests/integration/
litellm_proxy.py: deploy/litellm/config.yaml with every deployment moved onto a fake provider,
in its cached virtualenv), here in front of the bench stub.

That module imports the suite's conftest, which imports the app's models: Django is set up
first, on the gateway database (nothing here touches it)."""

import os
from pathlib import Path

LITELLM_VERSION = os.environ.get("LITELLM_VERSION", "1.108.7")  # as litellm_venv.sh


def cached() -> bool:
    """Whether litellm_venv.sh has already installed the proxy (so starting it is quick)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "keybuzz"
    return (cache / f"litellm-{LITELLM_VERSION}" / ".installed").is_file()


def _module(django_env: dict):
    import django

    os.environ.update(django_env)
    django.setup()
    from tests.integration import litellm_proxy

    return litellm_proxy


def master_key(*, django_env: dict) -> str:
    return _module(django_env).MASTER_KEY


def start(*, stub_url: str, workdir: Path, django_env: dict):
    """A started LiteLLMProxy (its .url, .process, .stop()) with every model group on the stub.

    The production per-attempt timeout (7 s) is kept rather than the suite's 1 s: under load
    a slow answer must be measured, not retried.
    """
    module = _module(django_env)
    config = module.proxy_config(primary_url=stub_url, fallback_url=stub_url)
    production = {e["model_name"]: e for e in module.production_config()["model_list"]}
    for entry in config["model_list"]:
        timeout = production[entry["model_name"]]["litellm_params"]["timeout"]
        entry["litellm_params"]["timeout"] = timeout
    return module.proxy_start(
        executable=module.litellm_executable(), config=config, workdir=workdir
    )
