"""deploy/litellm/config.yaml against the plans we sell and the LiteLLM version we pin."""

import json
import re
import subprocess

import pytest
from django.conf import settings

from tenants.models import Plan

from .litellm_proxy import (
    PRODUCTION_CONFIG,
    deployment,
    fallback_groups,
    production_config,
    proxy_env,
    worst_case_seconds,
)


@pytest.fixture(scope="module")
def config() -> dict:
    return production_config()


@pytest.mark.django_db
def test_every_plan_has_its_alias_and_the_fallback_its_label_names(config):
    fallbacks = fallback_groups(config)
    for plan in Plan.objects.all():
        # given a plan, its alias and the label of its fallback (e.g. "Claude Sonnet 4")
        alias, label = plan.model_id, plan.fallback_model
        # then LiteLLM serves the alias, and falls back to one group whose model the label names
        assert deployment(config, alias)
        (group,) = fallbacks[alias]
        model = deployment(config, group)["model"]
        assert re.sub(r"\s+", "-", label.lower()) in model, f"{plan.code}: {label} vs {model}"


def test_models_missing_from_litellm_price_map_have_explicit_prices(config, litellm_bin):
    # given the price map bundled with the pinned LiteLLM (used with LITELLM_LOCAL_MODEL_COST_MAP)
    (price_map,) = litellm_bin.parent.parent.glob(
        "lib/python*/site-packages/litellm/model_prices_and_context_window_backup.json"
    )
    known = json.loads(price_map.read_text())
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        provider_id = params["model"].split("/", 1)[1]
        # then every deployment is priced, by LiteLLM's map or by the config
        if provider_id not in known and params["model"] not in known:
            assert params.get("input_cost_per_token") and params.get("output_cost_per_token"), (
                f"{entry['model_name']}: {params['model']} has no price"
            )


def test_litellm_gives_up_on_timeouts_and_429_before_our_default_deadline(config):
    # given the app's deadline for the whole call
    deadline = settings.KEYBUZZ["LITELLM_TIMEOUT_SECONDS"]
    for alias in fallback_groups(config):
        # then a primary's retries alone fit in it (CONTRACT §1)…
        params = deployment(config, alias)
        assert params["timeout"] * (config["router_settings"]["num_retries"] + 1) < deadline
        # …and, fallback included, so do the failures that take longest: hangs and 429s
        for failure in ("TimeoutError", "RateLimitError"):
            assert worst_case_seconds(config, alias, failure=failure) < deadline, (alias, failure)


def test_the_pinned_litellm_accepts_the_production_config(litellm_bin):
    # when LiteLLM loads the config, with placeholder secrets
    checked = subprocess.run(
        [str(litellm_bin), "--config", str(PRODUCTION_CONFIG), "--validate_config"],
        env=proxy_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # then it has no complaint, and serves the six model groups
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    assert "config OK (6 models)" in checked.stdout + checked.stderr
