"""A real LiteLLM proxy for the integration suite, built from the production config.

The test config is deploy/litellm/config.yaml with only what must change on a machine without
providers: every deployment becomes an OpenAI-compatible model on a fake provider on loopback
(primaries on one FakeUpstream, fallbacks on another), with a short per-attempt timeout.
Aliases, fallbacks, retries and the retry policy are the production ones.
"""

import contextlib
import copy
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from tests.conftest import REPO_ROOT

PRODUCTION_CONFIG = REPO_ROOT / "deploy" / "litellm" / "config.yaml"
VENV_SCRIPT = Path(__file__).with_name("litellm_venv.sh")
MASTER_KEY = "sk-integration-master-key-0123456789"
PROVIDER_KEY = "sk-fake-provider-key"  # what LiteLLM sends the fake providers
TEST_ATTEMPT_TIMEOUT = 1.0  # seconds per attempt, instead of production's
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
START_SECONDS = 90  # it takes about 7 s on 2 cores; longer with a cold disk cache

# LiteLLM sleeps between retries: 0.5 * 2^k s (k = 0…retries, capped at 8 s), each plus up to
# 0.75 s of jitter, and sleeps once more after the last attempt (litellm.utils
# calculate_retry_after, Router.async_function_with_retries).
_BACKOFF_BASE, _BACKOFF_CAP, _JITTER = 0.5, 8.0, 0.75


def production_config() -> dict:
    return yaml.safe_load(PRODUCTION_CONFIG.read_text())


def fallback_groups(config: dict) -> dict[str, list[str]]:
    """{alias: [its fallback model groups]} from router_settings.fallbacks."""
    groups: dict[str, list[str]] = {}
    for entry in config["router_settings"].get("fallbacks") or []:
        groups.update(entry)
    return groups


def deployment(config: dict, model_name: str) -> dict:
    """The litellm_params of the one deployment of a model group."""
    (params,) = [e["litellm_params"] for e in config["model_list"] if e["model_name"] == model_name]
    return params


def provider_model(config: dict, model_name: str) -> str:
    """The provider's own model id of a group's deployment: `anthropic/x` → `x`."""
    return deployment(config, model_name)["model"].split("/", 1)[1]


def attempts(config: dict, model_name: str, *, failure: str) -> int:
    """How many calls a group's deployment gets for one request that keeps failing with
    `failure` (a RetryPolicy key prefix: "InternalServerError", "TimeoutError", …)."""
    router = config["router_settings"]
    retries = deployment(config, model_name).get("num_retries", router.get("num_retries", 0))
    policy = router.get("retry_policy") or {}  # wins over both, for the kinds it names
    return policy.get(f"{failure}Retries", policy.get("DefaultRetries", retries)) + 1


def backoff_bound(retries: int) -> float:
    """The most LiteLLM sleeps in one group's retry loop."""
    if not retries:
        return 0.0
    return sum(min(_BACKOFF_BASE * 2**k, _BACKOFF_CAP) + _JITTER for k in range(retries + 1))


def worst_case_seconds(config: dict, alias: str, *, failure: str) -> float:
    """Attempts * timeout + sleeps, over the alias and its fallbacks, every attempt timing out."""
    total = 0.0
    for group in [alias, *fallback_groups(config).get(alias, [])]:
        count = attempts(config, group, failure=failure)
        total += count * float(deployment(config, group)["timeout"]) + backoff_bound(count - 1)
    return total


def proxy_config(*, primary_url: str, fallback_url: str) -> dict:
    """The production config with its deployments moved onto the fake providers."""
    config = copy.deepcopy(production_config())
    fallbacks = {group for targets in fallback_groups(config).values() for group in targets}
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        params["model"] = f"openai/{params['model'].split('/', 1)[1]}"
        base = fallback_url if entry["model_name"] in fallbacks else primary_url
        params["api_base"] = f"{base}/v1"
        params["api_key"] = PROVIDER_KEY
        params["timeout"] = TEST_ATTEMPT_TIMEOUT
    return config


def litellm_executable() -> Path:
    """The cached virtualenv's `litellm`, installed on first use (minutes; later, instant)."""
    done = subprocess.run(
        ["bash", str(VENV_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{VENV_SCRIPT.name} failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def proxy_env(**extra: str) -> dict:
    """A clean environment: nothing of ours leaks in (DATABASE_URL would make LiteLLM use that
    database, a *_PROXY variable would route loopback calls elsewhere), the bundled price map
    instead of a download, and telemetry off."""
    inherited = {key: os.environ[key] for key in _INHERITED_ENV if key in os.environ}
    return {
        **inherited,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY_DISABLED": "True",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "OPENAI_API_KEY": PROVIDER_KEY,
        "ANTHROPIC_API_KEY": PROVIDER_KEY,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@dataclass
class LiteLLMProxy:
    """`litellm --config <file>` on a free loopback port; its output goes to a log file."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, *, grace: float = 5.0) -> None:
        """SIGTERM to its process group (uvicorn and anything it spawned); SIGKILL after `grace`
        seconds, since uvicorn waits for calls in flight (a provider dripping its body…)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it may have just exited
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


def proxy_start(*, executable: Path, config: dict, workdir: Path) -> LiteLLMProxy:
    """Start a proxy and wait until it answers an authenticated /v1/models, or raise."""
    config_path = workdir / "litellm-test.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = _free_port()
    log_path = workdir / "litellm.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(executable), "--config", str(config_path), "--host", "127.0.0.1",
             "--port", str(port), "--num_workers", "1"],
            cwd=workdir, env=proxy_env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )  # fmt: skip
    proxy = LiteLLMProxy(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + START_SECONDS
    while not _serves_models(proxy.url):
        if process.poll() is not None or time.monotonic() > deadline:
            proxy.stop()
            raise RuntimeError(f"LiteLLM did not start:\n{proxy.log_tail()}")
        time.sleep(0.25)
    return proxy


def _serves_models(url: str) -> bool:
    """Up, config loaded and the master key accepted: what the app needs."""
    try:
        response = requests.get(
            f"{url}/v1/models", headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=2
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
