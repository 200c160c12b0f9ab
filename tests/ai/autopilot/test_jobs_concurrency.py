"""The same Idempotency-Key sent at once to several gunicorn processes gives one job."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ai.models import AutopilotJob
from tests.ai.autopilot.conftest import job_body

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_the_same_idempotency_key_at_once_on_4_processes_gives_one_job(
    app_server, make_tenant, make_user, token_for
):
    # given an autopilot tenant's agent
    tenant = make_tenant("pilot-001", plan="autopilot")
    auth = {"Authorization": f"Bearer {token_for(make_user('a@pilot.test', tenant=tenant))}"}
    server = app_server(workers=4)

    # when 20 identical requests with one key arrive at once
    def post(_):
        return requests.post(
            f"{server.url}/ai/autopilot/jobs", json=job_body(),
            headers={**auth, "Idempotency-Key": "order-42"}, timeout=60,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(post, range(20)))

    # then one job exists: one 202 created it, the others got it back with 200
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 19 + [202]
    assert {answer.json()["jobId"] for answer in answers} == {str(AutopilotJob.objects.get().pk)}
