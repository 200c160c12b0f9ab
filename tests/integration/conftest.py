"""The integration suite: the app under gunicorn on PostgreSQL, a real LiteLLM proxy built from
deploy/litellm/config.yaml, and fake providers behind it on loopback.

It is slow (LiteLLM is installed into a cached virtualenv on first use, and started once per
run), so only `make test-integration` runs it: without KEYBUZZ_INTEGRATION=1 nothing in this
folder is collected, and plain `pytest` / `make test` never see it.
"""

import os
from dataclasses import dataclass

import pytest

from tests.fakes.upstream import FakeUpstream

from . import litellm_proxy

ENABLED = os.environ.get("KEYBUZZ_INTEGRATION") == "1"
if not ENABLED:
    collect_ignore_glob = ["test_*.py"]


def pytest_report_header(config):
    if not ENABLED:
        return "tests/integration: not collected (KEYBUZZ_INTEGRATION=1 or make test-integration)"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of the LiteLLM log: what LiteLLM saw and answered."""
    outcome = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    for name in ("litellm", "own_litellm"):
        if report.failed and name in funcargs:
            report.sections.append((f"{name} log (end)", funcargs[name].log_tail()))


@dataclass(frozen=True)
class Providers:
    """The fake OpenAI-compatible providers behind LiteLLM: every primary deployment on one,
    every fallback deployment on the other, so a test can fail one side only."""

    primary: FakeUpstream
    fallback: FakeUpstream

    def reset(self) -> None:
        for fake in (self.primary, self.fallback):
            fake.behaviour, fake.status, fake.delay, fake.drip_interval = "ok", 500, 0.0, 0.2
            fake.prompt_tokens = fake.completion_tokens = None
            fake.give_up_after = 30.0  # a "hang" outlives every LiteLLM attempt, not the run
            fake.requests.clear()


@pytest.fixture(scope="session")
def litellm_bin():
    return litellm_proxy.litellm_executable()


@pytest.fixture(scope="session")
def session_providers():
    with FakeUpstream() as primary, FakeUpstream() as fallback:
        yield Providers(primary, fallback)


@pytest.fixture
def providers(session_providers) -> Providers:
    """Both fake providers answering "ok", with no requests recorded."""
    session_providers.reset()
    return session_providers


@pytest.fixture(scope="session")
def proxy_config(session_providers) -> dict:
    return litellm_proxy.proxy_config(
        primary_url=session_providers.primary.url, fallback_url=session_providers.fallback.url
    )


@pytest.fixture(scope="session")
def litellm(litellm_bin, proxy_config, tmp_path_factory):
    """One LiteLLM proxy for the whole run, stopped at the end (also when tests fail)."""
    proxy = litellm_proxy.proxy_start(
        executable=litellm_bin, config=proxy_config, workdir=tmp_path_factory.mktemp("litellm")
    )
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def app_deadline(proxy_config) -> float:
    """The app's LITELLM_TIMEOUT_SECONDS: above the proxy's worst case for every alias and
    failure kind, so LiteLLM always answers first, as in production."""
    worst = max(
        litellm_proxy.worst_case_seconds(proxy_config, alias, failure=failure)
        for alias in litellm_proxy.fallback_groups(proxy_config)
        for failure in ("InternalServerError", "TimeoutError", "RateLimitError")
    )
    return float(int(worst) + 5)


@pytest.fixture
def app_on(app_server, app_deadline):
    """Start the app under gunicorn with LiteLLM at `base_url` (the proxy, or nothing)."""

    def start(base_url: str, *, workers: int = 2, deadline: float = app_deadline):
        return app_server(
            workers=workers,
            env={
                "LITELLM_BASE_URL": base_url,
                "LITELLM_MASTER_KEY": litellm_proxy.MASTER_KEY,
                "LITELLM_TIMEOUT_SECONDS": str(deadline),
            },
        )

    return start
