"""Autopilot jobs run by real `manage.py db_worker` processes on PostgreSQL (CONTRACT §9): the
budget's hard cap, top-ups, kill switches, retries, a worker killed mid-job, fairness between
tenants, expiry, cancellation and callbacks. The LLM is a fake on loopback."""

import hashlib
import hmac
import json
import os
import signal
import time
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from ai.autopilot.transitions import job_cancel
from ai.kill_switches import kill_switch_set
from ai.models import AutopilotJob
from ai.prompts import upstream_messages
from alerts.models import WebhookEndpoint
from tenants.models import ModelPrice, Plan
from tests.ai.autopilot.conftest import MESSAGES, enqueue
from tests.conftest import wait_for
from tests.fakes.upstream import FakeUpstream
from tests.fakes.webhook_receiver import WebhookReceiver
from usage.budget import worst_case_cost
from usage.models import AIUsage, Reservation
from usage.top_ups import budget_top_up

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

Status = AutopilotJob.Status


@pytest.fixture
def pilot(make_tenant):
    # The budget and the workers are under test, not the rate limit.
    Plan.objects.filter(code="autopilot").update(requests_per_minute=60_000)
    return make_tenant("pilot-001", plan="autopilot", timezone="Europe/Paris")


def llm(fake: FakeUpstream, **env) -> dict:
    return {"LITELLM_BASE_URL": fake.url, "LITELLM_MASTER_KEY": "test-master-key", **env}


def statuses(**filters) -> dict[str, int]:
    counted = AutopilotJob.objects.filter(**filters).values_list("status").annotate(n=Count("pk"))
    return dict(counted)


def settled(**filters) -> bool:
    """No job is queued or running any more (each is final, deferred or paused)."""
    return not AutopilotJob.objects.filter(
        status__in=(Status.QUEUED, Status.RUNNING), **filters
    ).exists()


def test_200_jobs_on_a_budget_for_about_20_never_overspend_and_finish_after_a_top_up(
    pilot, db_workers
):
    # given a day's budget of 20 worst-case calls, and a model that bills every max_token
    price = ModelPrice.objects.get(alias="kbz-premium")
    budget = 20 * worst_case_cost(price=price, messages=upstream_messages(MESSAGES))
    pilot.daily_budget_override = budget
    pilot.save()
    ids = enqueue(pilot, 200)
    with FakeUpstream() as fake:
        fake.delay = 0.02
        # when two workers run them
        db_workers(2, **llm(fake))
        wait_for(lambda: settled(tenant=pilot), timeout=120)
        # then Σ cost ≤ budget, the rest is deferred to the next local day with one blocked
        # row each, and no job ran twice
        spent = AIUsage.objects.filter(tenant=pilot).aggregate(s=Sum("cost_usd_est"))["s"]
        counts = statuses(tenant=pilot)
        print(f"\n200 jobs, budget ${budget}: {counts}, spent ${spent}")
        assert spent <= budget
        assert counts.get(Status.SUCCEEDED, 0) >= 15
        assert counts[Status.DEFERRED] == 200 - counts[Status.SUCCEEDED]
        blocked = AIUsage.objects.filter(tenant=pilot, status="blocked")
        assert blocked.count() == counts[Status.DEFERRED]
        assert set(blocked.values_list("feature", flat=True)) == {"autopilot"}
        next_day = pilot.next_day_start()
        deferred = AutopilotJob.objects.filter(status=Status.DEFERRED)
        assert set(deferred.values_list("next_run_at", flat=True)) == {next_day}
        # when support tops the day up
        budget_top_up(tenant=pilot, amount=Decimal("50"), reason="backlog", actor="ops@kb.test")
        # then every job finishes, each with exactly one success row
        wait_for(lambda: statuses(tenant=pilot) == {Status.SUCCEEDED: 200}, timeout=120)
    assert AIUsage.objects.filter(tenant=pilot, status="success").count() == 200
    per_job = AIUsage.objects.filter(tenant=pilot, status="success").values("request_id")
    assert per_job.distinct().count() == len(ids)
    assert not Reservation.objects.exists()


def test_a_kill_switch_pauses_jobs_without_a_row_and_they_resume_when_it_goes_off(
    pilot, db_workers
):
    kill_switch_set(tenant=pilot, on=True, reason="abuse", actor="ops@kb.test")
    enqueue(pilot, 5)
    with FakeUpstream() as fake:
        db_workers(1, **llm(fake))
        wait_for(lambda: statuses(tenant=pilot) == {Status.PAUSED: 5})
        assert not AIUsage.objects.exists()
        assert not fake.requests
        kill_switch_set(tenant=pilot, on=False, reason="resolved", actor="ops@kb.test")
        wait_for(lambda: statuses(tenant=pilot) == {Status.SUCCEEDED: 5})
    assert AIUsage.objects.filter(status="success").count() == 5


def test_an_upstream_failing_twice_then_answering_gives_succeeded_after_3_attempts(
    pilot, db_workers
):
    (job_id,) = enqueue(pilot, 1)
    with FakeUpstream() as fake:
        fake.failures_left = 2
        db_workers(1, **llm(fake, AUTOPILOT_RETRY_BASE_SECONDS="0.2"))
        wait_for(lambda: statuses() == {Status.SUCCEEDED: 1})
    job = AutopilotJob.objects.get(pk=job_id)
    assert job.attempts == 3
    assert AIUsage.objects.filter(status="error").count() == 2
    assert AIUsage.objects.filter(status="success").count() == 1
    assert len(fake.requests) == 3


def test_a_worker_killed_mid_job_loses_nothing_and_runs_nothing_twice(pilot, db_workers):
    # given jobs in flight on two workers, with a short timeout and lease
    ids = enqueue(pilot, 12)
    short = dict(LITELLM_TIMEOUT_SECONDS="2", AI_RESERVATION_TTL_SECONDS="3",
                 AUTOPILOT_LEASE_SECONDS="4")  # fmt: skip
    with FakeUpstream() as fake:
        fake.delay = 0.5
        workers = db_workers(2, **llm(fake, **short))
        wait_for(lambda: AutopilotJob.objects.filter(status=Status.RUNNING).count() == 2)
        # when one worker is killed mid-call
        victim = workers.processes[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        # then every job still ends, succeeded, each once
        wait_for(lambda: statuses() == {Status.SUCCEEDED: 12}, timeout=90)
    successes = AIUsage.objects.filter(status="success")
    assert successes.count() == 12
    assert sorted(successes.values_list("request_id", flat=True)) == sorted(
        AutopilotJob.objects.values_list("request_id", flat=True)
    )
    # the killed run: closed as abandoned (CONTRACT §5), counted as an attempt
    assert AIUsage.objects.filter(error_code="abandoned").count() == 1
    assert sum(AutopilotJob.objects.values_list("attempts", flat=True)) == 13
    assert not Reservation.objects.exists()
    assert len(ids) == 12


def test_a_small_tenant_is_not_held_back_by_another_tenants_backlog(make_tenant, db_workers):
    Plan.objects.filter(code="autopilot").update(requests_per_minute=60_000)
    big = make_tenant("big", plan="autopilot")
    small = make_tenant("small", plan="autopilot")
    with FakeUpstream() as fake:
        fake.delay = 0.05
        # given the time the small tenant's 20 jobs need alone on 2 workers
        enqueue(small, 20)
        workers = db_workers(2, **llm(fake))
        started = time.monotonic()
        wait_for(lambda: statuses(tenant=small) == {Status.SUCCEEDED: 20})
        alone = time.monotonic() - started
        workers.stop()
        # when another tenant has 2,000 jobs queued first
        enqueue(big, 2000)
        ids = enqueue(small, 20)
        db_workers(2, **llm(fake))
        started = time.monotonic()
        wait_for(
            lambda: AutopilotJob.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == 20
        )
        beside = time.monotonic() - started
    big_done = AutopilotJob.objects.filter(tenant=big, status=Status.SUCCEEDED).count()
    print(f"\nsmall tenant's 20 jobs: {alone:.2f} s alone, {beside:.2f} s beside 2,000 queued "
          f"(big finished {big_done} meanwhile)")  # fmt: skip
    # then they finish in about the time they need alone: they share the workers with the big
    # tenant (each worker takes from the tenant with fewer running), never wait behind it
    assert beside < 3 * alone + 2
    assert big_done < 500


def test_an_expired_job_and_a_cancelled_one_never_run(pilot, db_workers):
    kill_switch_set(tenant=pilot, on=True, reason="maintenance", actor="ops@kb.test")
    deadline = timezone.now() + timezone.timedelta(seconds=3)
    (expiring,) = enqueue(pilot, 1, deadline=deadline)
    (cancelled,) = enqueue(pilot, 1)
    assert job_cancel(job=AutopilotJob.objects.get(pk=cancelled))
    with FakeUpstream() as fake:
        db_workers(1, **llm(fake))
        # the paused job waits for the switch, then expires at its deadline
        wait_for(lambda: statuses() == {Status.EXPIRED: 1, Status.CANCELLED: 1}, timeout=30)
        kill_switch_set(tenant=pilot, on=False, reason="done", actor="ops@kb.test")
        time.sleep(0.5)
        assert not fake.requests
    assert not AIUsage.objects.exists()
    assert AutopilotJob.objects.get(pk=expiring).attempts == 0


def test_callbacks_deliver_each_final_state_once_signed(pilot, db_workers):
    with WebhookReceiver() as receiver, FakeUpstream() as fake:
        endpoint = WebhookEndpoint.objects.create(tenant=pilot, url=receiver.url)
        # given a job that will succeed and one cancelled before any worker runs
        (succeeds,) = enqueue(pilot, 1, callbackUrl=receiver.url)
        (cancelled,) = enqueue(pilot, 1, callbackUrl=receiver.url)
        assert job_cancel(job=AutopilotJob.objects.get(pk=cancelled))
        db_workers(1, **llm(fake, AUTOPILOT_MAX_ATTEMPTS="1"))
        wait_for(lambda: len(receiver.delivered) == 2)
        # and one whose only attempt fails, and one that expires while a kill switch is on
        fake.failures_left = 1
        (fails,) = enqueue(pilot, 1, callbackUrl=receiver.url)
        wait_for(lambda: len(receiver.delivered) == 3)
        kill_switch_set(tenant=pilot, on=True, reason="maintenance", actor="ops@kb.test")
        soon = timezone.now() + timezone.timedelta(seconds=2)
        (expires,) = enqueue(pilot, 1, callbackUrl=receiver.url, deadline=soon)
        wait_for(lambda: len(receiver.delivered) == 4)
        time.sleep(1)  # no second delivery of anything
    # then each final state arrived once, signed with the tenant's secret
    assert len(receiver.requests) == 4
    bodies = {json.loads(h.body)["jobId"]: json.loads(h.body) for h in receiver.delivered}
    assert {job_id: body["status"] for job_id, body in bodies.items()} == {
        succeeds: "succeeded",
        cancelled: "cancelled",
        fails: "failed",
        expires: "expired",
    }
    assert bodies[succeeds]["result"]["status"] == "success"
    assert bodies[fails]["error"]["code"] == "upstream_error"
    for hook in receiver.delivered:
        signature = dict(p.split("=", 1) for p in hook.headers["x-keybuzz-signature"].split(","))
        signed = f"{signature['t']}.".encode() + hook.body
        expected = hmac.new(endpoint.secret.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(signature["v1"], expected)
        assert hook.headers["x-keybuzz-event-id"].startswith("cb_")
