"""An Autopilot job posted to the app under gunicorn and run by a real `db_worker` through a
real LiteLLM proxy (deploy/litellm/config.yaml on fake providers)."""

import pytest
import requests

from ai.models import AutopilotJob
from tests.conftest import wait_for
from usage.models import AIUsage

from . import litellm_proxy
from .litellm_proxy import provider_model

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BODY = {
    "tenantId": "pilot-001",
    "contextType": "conversation",
    "contextId": "conv-123",
    "payload": {"messages": [{"role": "customer", "content": "Ma commande est en retard"}]},
}


def test_a_job_is_answered_through_litellm_by_a_worker(
    litellm, providers, proxy_config, app_on, app_deadline, db_workers, make_tenant, make_user,
    token_for,
):  # fmt: skip
    # given an autopilot tenant, the app and one worker, both pointed at the proxy
    tenant = make_tenant("pilot-001", plan="autopilot")
    auth = {"Authorization": f"Bearer {token_for(make_user('a@pilot.test', tenant=tenant))}"}
    providers.primary.prompt_tokens, providers.primary.completion_tokens = 1000, 200
    app = app_on(litellm.url)
    db_workers(1, LITELLM_BASE_URL=litellm.url, LITELLM_MASTER_KEY=litellm_proxy.MASTER_KEY,
               LITELLM_TIMEOUT_SECONDS=app_deadline)  # fmt: skip

    # when a job is posted
    accepted = requests.post(f"{app.url}/ai/autopilot/jobs", json=BODY, headers=auth, timeout=60)
    assert accepted.status_code == 202, accepted.text
    status_url = f"{app.url}{accepted.json()['statusUrl']}"
    wait_for(lambda: AutopilotJob.objects.get().status == "succeeded", timeout=60)

    # then the worker reached the premium deployment through LiteLLM, and the job's result is
    # the assist answer, accounted as one autopilot row
    job = requests.get(status_url, headers=auth, timeout=60).json()
    assert job["status"] == "succeeded"
    assert job["attempts"] == 1
    assert job["result"]["model"] == "kbz-premium"
    assert job["result"]["usage"]["tokens"] == 1200
    assert [call.json["model"] for call in providers.primary.requests] == [
        provider_model(proxy_config, "kbz-premium")
    ]
    row = AIUsage.objects.get(tenant=tenant)
    assert (row.feature, row.status, row.model, row.upstream_model) == (
        "autopilot", "success", "kbz-premium", "kbz-premium",
    )  # fmt: skip
