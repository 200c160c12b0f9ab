"""Autopilot's Prometheus metrics (CONTRACT §9, docs/OPERATIONS.md).

Read from the database at scrape time, so right whichever worker holds a job: jobs by status,
and how long the longest-waiting claimable job has waited. Observed by the workers as they run
jobs (exported by any process sharing PROMETHEUS_MULTIPROC_DIR with the web server): how long
a run takes, by outcome, and how many attempts a job took when it ended.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Histogram
from prometheus_client.core import GaugeMetricFamily

from ai.models import AutopilotJob

logger = logging.getLogger(__name__)
Status = AutopilotJob.Status

JOB_RUN_DURATION = Histogram(
    "keybuzz_autopilot_run_duration_seconds",
    "Duration of one run of an Autopilot job through the pipeline, by outcome.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60),
)
JOB_ATTEMPTS = Histogram(
    "keybuzz_autopilot_job_attempts",
    "Attempts an Autopilot job took, observed when it ends, by final status.",
    ["status"],
    buckets=(0, 1, 2, 3, 4, 5, 8, 13),
)


@contextmanager
def job_attempt_timed() -> Iterator[None]:
    started, outcome = time.perf_counter(), "error"
    try:
        yield
        outcome = "success"
    except Exception as error:
        outcome = getattr(error, "reason", None) or getattr(error, "error_code", None) or "error"
        raise
    finally:
        JOB_RUN_DURATION.labels(outcome).observe(time.perf_counter() - started)


def job_finished_observe(*, job: AutopilotJob) -> None:
    JOB_ATTEMPTS.labels(job.status).observe(job.attempts)


class AutopilotQueue:
    """keybuzz_autopilot_jobs{status} and keybuzz_autopilot_queue_age_seconds, read at scrape
    time (two grouped statements on the job table's indexes)."""

    def describe(self) -> list[GaugeMetricFamily]:
        return [_jobs_family(), _age_family()]

    def collect(self) -> list[GaugeMetricFamily]:
        try:
            counts = dict(
                AutopilotJob.objects.filter(status__in=(*AutopilotJob.UNFINISHED, Status.FAILED))
                .values_list("status")
                .annotate(n=Count("pk"))
            )
            now = timezone.now()
            oldest = AutopilotJob.objects.filter(
                status__in=(Status.QUEUED, Status.DEFERRED), next_run_at__lte=now
            ).aggregate(at=Min("next_run_at"))["at"]
        except DatabaseError as exc:
            logger.warning("Metrics: the Autopilot gauges could not read the database: %s", exc)
            return []
        jobs = _jobs_family()
        for status in (*AutopilotJob.UNFINISHED, Status.FAILED):
            jobs.add_metric([status], counts.get(status, 0))
        age = _age_family()
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        return [jobs, age]


def _jobs_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "keybuzz_autopilot_jobs",
        "Autopilot jobs now, by status (unfinished ones, and failed ones kept).",
        labels=["status"],
    )


def _age_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "keybuzz_autopilot_queue_age_seconds",
        "How long the longest-waiting job that could run now has waited (0: none waits).",
    )
