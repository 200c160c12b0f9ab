"""A job's runs through the pipeline and its transitions (CONTRACT §9), in process: the task's
body (job_run_next) called as a worker calls it. Real db_worker processes: test_workers.py."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ai.autopilot.claims import job_claim_next
from ai.autopilot.transitions import job_succeed, retry_delay
from ai.kill_switches import kill_switch_set
from ai.models import AutopilotJob
from tenants.models import Plan, Tenant
from tests.ai.autopilot.conftest import create, job, job_body, run_all, tasks_due
from tests.ai.conftest import answer
from tests.conftest import COMPLETIONS
from usage.models import AIUsage, Reservation
from usage.top_ups import budget_top_up

pytestmark = pytest.mark.django_db

Status = AutopilotJob.Status


def rows(**filters):
    return AIUsage.objects.filter(tenant_id="pilot-001", **filters)


def make_due(job_id) -> None:
    """What the clock does to a waiting job: its next run time comes."""
    AutopilotJob.objects.filter(pk=job_id).update(next_run_at=timezone.now())


def test_a_job_runs_through_the_pipeline_and_succeeds(pilot_agent, litellm):
    # given a queued job and a model that answers
    answer(litellm)
    job_id = create(pilot_agent).json()["jobId"]
    # when a worker runs
    assert run_all() == ["succeeded"]
    # then the job holds the assist answer, and one autopilot success row was written
    done = job(job_id)
    assert done.status == Status.SUCCEEDED
    assert done.attempts == 1
    assert done.result["status"] == "success"
    assert done.result["routing"]["defaultModel"] == "kbz-premium"
    assert done.result["model"] == rows().get().model
    assert rows(feature="autopilot", status="success").count() == 1
    shown = pilot_agent.get(f"/ai/autopilot/jobs/{job_id}").json()
    assert shown["status"] == "succeeded"
    assert shown["nextRunAt"] is None
    assert shown["finishedAt"] is not None


def test_a_budget_refusal_defers_to_the_next_local_day_with_one_blocked_row(
    pilot_agent, pilot, litellm
):
    # given a tenant whose budget is spent
    pilot.daily_budget_override = Decimal("0.000001")
    pilot.save()
    job_id = create(pilot_agent).json()["jobId"]
    # when a worker runs it
    assert run_all() == ["deferred"]
    # then it is deferred to the tenant's next local midnight, not an attempt, one blocked row
    deferred = job(job_id)
    assert deferred.status == Status.DEFERRED
    assert deferred.attempts == 0
    assert deferred.next_run_at == pilot.next_day_start()
    assert deferred.next_run_at.astimezone(pilot.zone).hour == 0
    assert rows(status="blocked", error_code="budget_exceeded", feature="autopilot").count() == 1
    assert not litellm.calls


def test_a_top_up_wakes_a_deferred_job_and_it_succeeds(pilot_agent, pilot, litellm):
    pilot.daily_budget_override = Decimal("0.000001")
    pilot.save()
    job_id = create(pilot_agent).json()["jobId"]
    run_all()
    answer(litellm)
    # when support tops the day up
    budget_top_up(tenant=pilot, amount=Decimal("5"), reason="launch", actor="ops@kb.test")
    # then the job is queued again at once and runs
    assert job(job_id).status == Status.QUEUED
    assert run_all() == ["succeeded"]


def test_a_budget_change_of_the_tenant_wakes_its_deferred_jobs(pilot_agent, pilot, litellm):
    pilot.daily_budget_override = Decimal("0.000001")
    pilot.save()
    job_id = create(pilot_agent).json()["jobId"]
    run_all()
    # when the tenant's budget changes
    pilot.daily_budget_override = Decimal("20")
    pilot.save()
    assert job(job_id).status == Status.QUEUED


def test_saving_the_tenant_without_changing_its_budget_wakes_nothing(pilot_agent, pilot):
    pilot.daily_budget_override = Decimal("0.000001")
    pilot.save()
    job_id = create(pilot_agent).json()["jobId"]
    run_all()
    pilot.name = "Renamed"
    pilot.save()
    assert job(job_id).status == Status.DEFERRED


def test_a_plan_budget_change_wakes_the_deferred_jobs_it_binds(pilot_agent, pilot):
    # given a job deferred while the tenant had an override of its own
    pilot.daily_budget_override = Decimal("0.000001")
    pilot.save()
    job_id = create(pilot_agent).json()["jobId"]
    run_all()
    # when the plan's budget changes, the override still binds: the job waits
    Plan.objects.get(pk="autopilot").save()  # unchanged: nothing happens
    plan = Plan.objects.get(pk="autopilot")
    plan.daily_budget_usd = Decimal("60")
    plan.save()
    assert job(job_id).status == Status.DEFERRED
    # when the override goes and the plan's budget changes again, the job is queued
    Tenant.objects.filter(pk=pilot.pk).update(daily_budget_override=None)
    plan.daily_budget_usd = Decimal("70")
    plan.save()
    assert job(job_id).status == Status.QUEUED


def test_a_kill_switch_pauses_without_a_row_and_resumes_when_off(pilot_agent, pilot, litellm):
    kill_switch_set(tenant=pilot, on=True, reason="abuse", actor="ops@kb.test")
    job_id = create(pilot_agent).json()["jobId"]
    # when a worker runs it: paused, no row, no attempt
    assert run_all() == ["paused"]
    assert job(job_id).status == Status.PAUSED
    assert job(job_id).attempts == 0
    assert not rows().exists()
    # when the switch goes off: queued again, and it runs
    answer(litellm)
    kill_switch_set(tenant=pilot, on=False, reason="resolved", actor="ops@kb.test")
    assert job(job_id).status == Status.QUEUED
    assert run_all() == ["succeeded"]
    assert rows().count() == 1


def test_the_global_kill_switch_pauses_and_resumes_every_tenant(pilot_agent, litellm):
    kill_switch_set(tenant=None, on=True, reason="outage", actor="ops@kb.test")
    job_id = create(pilot_agent).json()["jobId"]
    assert run_all() == ["paused"]
    kill_switch_set(tenant=None, on=False, reason="over", actor="ops@kb.test")
    assert job(job_id).status == Status.QUEUED


def test_the_rate_limit_delays_a_job_without_a_row(pilot_agent, pilot, litellm):
    # given a plan allowing one request a minute, already used
    pilot.plan.requests_per_minute = 1
    pilot.plan.save()
    answer(litellm)
    first = create(pilot_agent).json()["jobId"]
    second = create(pilot_agent).json()["jobId"]
    # when both are run
    assert run_all() == ["succeeded", "delayed"]
    # then the second waits for its Retry-After, queued, with no row and no attempt
    delayed = job(second)
    assert job(first).status == Status.SUCCEEDED
    assert delayed.status == Status.QUEUED
    assert delayed.attempts == 0
    assert delayed.next_run_at > timezone.now() + timedelta(seconds=30)
    assert rows().count() == 1


def test_an_upstream_failing_twice_then_answering_succeeds_after_3_attempts(pilot_agent, litellm):
    # given a model that fails twice, then answers
    litellm.post(COMPLETIONS, status=500, json={"error": "boom"})
    litellm.post(COMPLETIONS, status=503, json={"error": "boom"})
    answer(litellm)
    job_id = create(pilot_agent).json()["jobId"]
    # when the worker runs it, and runs it again each time its back-off ends
    assert run_all() == ["queued"]
    first_retry = job(job_id)
    assert first_retry.next_run_at > timezone.now()  # a back-off, not at once
    assert first_retry.error["code"] == "upstream_error"
    make_due(job_id)
    assert run_all() == ["queued"]
    make_due(job_id)
    assert run_all() == ["succeeded"]
    # then 3 attempts and 2 error rows
    done = job(job_id)
    assert done.status == Status.SUCCEEDED
    assert done.attempts == 3
    assert done.error is None
    assert rows(status="error").count() == 2
    assert rows(status="success").count() == 1


def test_a_job_fails_after_the_maximum_attempts(pilot_agent, litellm, settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "AUTOPILOT_MAX_ATTEMPTS": 2}
    litellm.post(COMPLETIONS, status=500, json={"error": "boom"})
    job_id = create(pilot_agent).json()["jobId"]
    run_all()
    make_due(job_id)
    assert run_all() == ["failed"]
    failed = job(job_id)
    assert failed.status == Status.FAILED
    assert failed.attempts == 2
    assert failed.error["code"] == "upstream_error"
    assert rows(status="error").count() == 2


def test_the_back_off_grows_and_is_jittered():
    delays = [retry_delay(attempts=n).total_seconds() for n in (1, 2, 3) for _ in range(20)]
    assert min(delays[:20]) >= 2.5 and max(delays[:20]) <= 7.5
    assert min(delays[40:]) >= 10 and max(delays[40:]) <= 30
    assert len(set(delays[:20])) > 1


def test_a_job_past_its_deadline_expires_and_never_runs(pilot_agent, litellm):
    job_id = create(pilot_agent).json()["jobId"]
    AutopilotJob.objects.filter(pk=job_id).update(deadline=timezone.now())
    assert run_all() == []
    expired = job(job_id)
    assert expired.status == Status.EXPIRED
    assert expired.error["code"] == "expired"
    assert not litellm.calls
    assert not rows().exists()


def test_a_cancelled_job_never_runs(pilot_agent, litellm):
    job_id = create(pilot_agent).json()["jobId"]
    pilot_agent.post(f"/ai/autopilot/jobs/{job_id}/cancel")
    assert run_all() == []
    assert job(job_id).status == Status.CANCELLED
    assert not litellm.calls


class WorkerKilled(BaseException):
    """What SIGKILL looks like from inside the run: nothing after it runs."""


def test_a_job_whose_worker_died_runs_again_and_its_reservation_is_closed(
    pilot_agent, litellm, monkeypatch
):
    # given a job whose worker dies during the model call, holding a reservation
    job_id = create(pilot_agent).json()["jobId"]

    def die(**_):
        raise WorkerKilled

    monkeypatch.setattr("ai.services.litellm_complete", die)
    with pytest.raises(WorkerKilled):
        run_all()
    monkeypatch.undo()
    assert job(job_id).status == Status.RUNNING
    assert Reservation.objects.count() == 1
    assert run_all() == []  # its lease holds: nobody else runs it meanwhile
    # when its lease (and the reservation's TTL) ends
    past = timezone.now() - timedelta(seconds=1)
    AutopilotJob.objects.filter(pk=job_id).update(next_run_at=past)
    Reservation.objects.update(expires_at=past)
    answer(litellm)
    assert run_all() == ["succeeded"]
    # then it ran once more, the dead run counted, and its reservation was closed as a row
    done = job(job_id)
    assert done.attempts == 2
    assert not Reservation.objects.exists()
    assert rows(error_code="abandoned").count() == 1
    assert rows(status="success").count() == 1


def test_a_worker_killed_after_the_answer_leaves_no_success_to_repeat(
    pilot_agent, litellm, monkeypatch
):
    # given a worker that dies once the model answered, as it records the job's success
    job_id = create(pilot_agent).json()["jobId"]
    answer(litellm)

    def die(**_):
        raise WorkerKilled

    monkeypatch.setattr("ai.autopilot.runner.job_succeed", die)
    with pytest.raises(WorkerKilled):
        run_all()
    monkeypatch.undo()
    # then the charge rolled back with it: no success row, the reservation still held
    assert not rows(status="success").exists()
    assert Reservation.objects.count() == 1
    # when the lease and the reservation's TTL end, the job runs again
    past = timezone.now() - timedelta(seconds=1)
    AutopilotJob.objects.filter(pk=job_id).update(next_run_at=past)
    Reservation.objects.update(expires_at=past)
    answer(litellm)
    assert run_all() == ["succeeded"]
    # then one success row, and the dead run charged as abandoned (CONTRACT §5)
    assert rows(status="success").count() == 1
    assert rows(error_code="abandoned").count() == 1


def test_a_worker_that_lost_its_lease_cannot_write_the_job(pilot_agent, litellm):
    job_id = create(pilot_agent).json()["jobId"]
    dead = job_claim_next()
    AutopilotJob.objects.filter(pk=job_id).update(next_run_at=timezone.now())
    answer(litellm)
    assert run_all() == ["succeeded"]
    assert job_succeed(lease=dead, result={"late": True}) is False
    assert job(job_id).result["status"] == "success"


def test_a_claim_takes_the_tenant_with_fewest_running_and_honours_the_cap(
    make_tenant, make_user, client_for
):
    # given two autopilot tenants with a cap of 2: big's 4 jobs queued before small's 2
    Plan.objects.filter(code="autopilot").update(autopilot_concurrency=2)
    clients = {}
    for name in ("big", "small"):
        clients[name] = client_for(
            make_user(f"a@{name}.test", tenant=make_tenant(name, plan="autopilot"))
        )
    for name, count in (("big", 4), ("small", 2)):
        for _ in range(count):
            create(clients[name], job_body(name))
    # when free workers claim one job each, none finishing
    claimed = [job_claim_next() for _ in range(5)]
    # then: big (the oldest, at a tie), small (fewest running), big, small, then none: both
    # tenants are at their cap
    assert [c.job.tenant_id if c else None for c in claimed] == [
        "big",
        "small",
        "big",
        "small",
        None,
    ]


def test_each_job_made_claimable_has_a_task(pilot_agent, pilot):
    create(pilot_agent)
    assert tasks_due() == 1
