"""Autopilot's Prometheus metrics on /metrics (docs/OPERATIONS.md)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ai.models import AutopilotJob
from tests.ai.autopilot.conftest import create, run_all
from tests.ai.conftest import answer
from tests.test_metrics import parse

pytestmark = pytest.mark.django_db


def test_jobs_by_status_and_the_queue_age_are_exported(client, pilot_agent, litellm):
    # given one job that succeeded and two waiting, the older since 90 seconds
    answer(litellm)
    create(pilot_agent)
    run_all()
    waiting = [create(pilot_agent).json()["jobId"] for _ in range(2)]
    AutopilotJob.objects.filter(pk=waiting[0]).update(
        next_run_at=timezone.now() - timedelta(seconds=90)
    )
    # when Prometheus scrapes
    samples = parse(client.get("/metrics").content.decode())
    # then the gauges say so, and the run and its attempts were observed
    assert samples[("keybuzz_autopilot_jobs", frozenset({("status", "queued")}))] == 2
    assert samples[("keybuzz_autopilot_jobs", frozenset({("status", "running")}))] == 0
    assert samples[("keybuzz_autopilot_queue_age_seconds", frozenset())] >= 90
    assert any(name == "keybuzz_autopilot_run_duration_seconds_count" for name, _ in samples)
    assert any(name == "keybuzz_autopilot_job_attempts_count" for name, _ in samples)
