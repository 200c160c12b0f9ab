"""POST/GET /ai/autopilot/jobs and cancel (CONTRACT §9), in process."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ai.models import AutopilotJob
from tests.ai.autopilot.conftest import create, job, job_body, tasks_due

pytestmark = pytest.mark.django_db

Status = AutopilotJob.Status


def test_a_job_is_accepted_with_202_and_its_status_url(pilot_agent):
    # when a member of an autopilot tenant posts a conversation
    response = create(pilot_agent)
    # then it is accepted at once, queued, with a task to run it
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["statusUrl"] == f"/ai/autopilot/jobs/{body['jobId']}"
    assert tasks_due() == 1
    created = job(body["jobId"])
    assert created.deadline - created.created_at == timedelta(hours=24)
    assert created.request["payload"]["messages"][0]["content"] == "Ma commande est en retard"


def test_the_job_reads_back_with_every_field(pilot_agent):
    job_id = create(pilot_agent).json()["jobId"]
    # when it is read
    response = pilot_agent.get(f"/ai/autopilot/jobs/{job_id}")
    # then every field of the contract is there
    assert response.status_code == 200
    assert set(response.json()) == {
        "jobId", "tenantId", "status", "attempts", "createdAt", "startedAt", "finishedAt",
        "nextRunAt", "deadline", "result", "error",
    }  # fmt: skip
    assert response.json()["tenantId"] == "pilot-001"
    assert response.json()["nextRunAt"] is not None


def test_a_plan_without_autopilot_gets_403(client_for, member):
    # given a member of a pro tenant (autopilot_enabled false)
    response = create(client_for(member), job_body("ecomlg-001"))
    assert response.status_code == 403
    assert response.json()["status"] == "plan_feature_unavailable"
    assert not AutopilotJob.objects.exists()


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"feature": "assist"}, "feature"),
        ({"callbackUrl": "ftp://example.com/x"}, "callbackUrl"),
        ({"deadline": "not a date"}, "deadline"),
        ({"payload": {"messages": []}}, "payload.messages.non_field_errors"),
    ],
)
def test_an_invalid_body_gets_400_naming_the_field(pilot_agent, extra, field):
    response = create(pilot_agent, job_body(**extra))
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not AutopilotJob.objects.exists()


@pytest.mark.parametrize("delta", [timedelta(minutes=-1), timedelta(days=7, minutes=1)])
def test_a_deadline_in_the_past_or_beyond_7_days_gets_400(pilot_agent, delta):
    deadline = (timezone.now() + delta).isoformat()
    response = create(pilot_agent, job_body(deadline=deadline))
    assert response.status_code == 400
    assert "deadline" in response.json()["errors"]


def test_a_callback_to_a_private_address_gets_400(pilot_agent, settings):
    # given the outbound rule on (as in production)
    settings.KEYBUZZ = {**settings.KEYBUZZ, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False}
    response = create(pilot_agent, job_body(callbackUrl="http://127.0.0.1:9/hook"))
    assert response.status_code == 400
    assert "callbackUrl" in response.json()["errors"]


def test_a_callback_needs_the_tenants_webhook_secret(pilot_agent):
    # given a tenant with no webhook endpoint (the secret that signs callbacks)
    response = create(pilot_agent, job_body(callbackUrl="http://127.0.0.1:9/hook"))
    assert response.status_code == 400
    assert "webhook" in response.json()["errors"]["callbackUrl"][0]


def test_the_same_idempotency_key_gives_one_job(pilot_agent):
    first = create(pilot_agent, HTTP_IDEMPOTENCY_KEY="k-1")
    again = create(pilot_agent, HTTP_IDEMPOTENCY_KEY="k-1")
    # then the retry gets the existing job (200), and there is one job and one task
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["jobId"] == first.json()["jobId"]
    assert AutopilotJob.objects.count() == 1
    assert tasks_due() == 1


def test_the_same_idempotency_key_with_another_body_gets_422(pilot_agent):
    create(pilot_agent, HTTP_IDEMPOTENCY_KEY="k-1")
    other = create(pilot_agent, job_body(quality="fast"), HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422
    assert other.json()["status"] == "idempotency_key_mismatch"


def test_a_key_older_than_24_hours_makes_a_new_job(pilot_agent):
    first = create(pilot_agent, HTTP_IDEMPOTENCY_KEY="k-1").json()["jobId"]
    AutopilotJob.objects.filter(pk=first).update(created_at=timezone.now() - timedelta(hours=25))
    again = create(pilot_agent, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 202
    assert again.json()["jobId"] != first


def test_beyond_the_pending_cap_gets_429_queue_full(pilot_agent, settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "AUTOPILOT_MAX_PENDING_PER_TENANT": 2}
    assert create(pilot_agent).status_code == 202
    assert create(pilot_agent).status_code == 202
    response = create(pilot_agent)
    assert response.status_code == 429
    assert response.json()["status"] == "queue_full"
    assert AutopilotJob.objects.count() == 2


def test_another_tenants_job_is_404(pilot_agent, client_for, member):
    job_id = create(pilot_agent).json()["jobId"]
    outsider = client_for(member)
    assert outsider.get(f"/ai/autopilot/jobs/{job_id}").status_code == 404
    assert outsider.post(f"/ai/autopilot/jobs/{job_id}/cancel").status_code == 404
    assert pilot_agent.get("/ai/autopilot/jobs/not-a-uuid").status_code == 404


def test_a_queued_job_is_cancelled_and_a_finished_one_is_409(pilot_agent):
    job_id = create(pilot_agent).json()["jobId"]
    response = pilot_agent.post(f"/ai/autopilot/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["error"]["code"] == "cancelled"
    again = pilot_agent.post(f"/ai/autopilot/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["status"] == "job_not_cancellable"


def test_the_list_is_newest_first_filtered_and_paginated(pilot_agent, monkeypatch):
    monkeypatch.setattr("ai.autopilot.selectors.PAGE_SIZE", 2)
    ids = [create(pilot_agent).json()["jobId"] for _ in range(3)]
    pilot_agent.post(f"/ai/autopilot/jobs/{ids[0]}/cancel")
    first = pilot_agent.get("/ai/autopilot/jobs", {"tenantId": "pilot-001"}).json()
    assert [j["jobId"] for j in first["jobs"]] == [ids[2], ids[1]]
    rest = pilot_agent.get(
        "/ai/autopilot/jobs", {"tenantId": "pilot-001", "cursor": first["nextCursor"]}
    ).json()
    assert [j["jobId"] for j in rest["jobs"]] == [ids[0]]
    assert rest["nextCursor"] is None
    cancelled = pilot_agent.get(
        "/ai/autopilot/jobs", {"tenantId": "pilot-001", "status": "cancelled"}
    ).json()
    assert [j["jobId"] for j in cancelled["jobs"]] == [ids[0]]
    bad = pilot_agent.get("/ai/autopilot/jobs", {"tenantId": "pilot-001", "cursor": "zz"})
    assert bad.status_code == 400
