"""The task framework's side of Autopilot: one task, "run the next job".

A task names no job: the job table says which job runs (claims.py), so a task the backend
loses, replays or leaves marked running after its worker was killed costs nothing — a lease's
end re-drives the job. Tasks are enqueued in the transaction that makes jobs claimable
(transitions.wakeup_needed), with `run_after` for a time: a back-off's end, the tenant's next
day, a lease's end. Workers: `python manage.py db_worker`.
"""

from datetime import datetime

from django_tasks import task

from .runner import job_run_next


@task()
def run_next_job() -> str | None:
    """Run the next Autopilot job a worker should run, if any may run now."""
    return job_run_next()


def wakeups_enqueue(*, at: datetime | None, count: int, **_) -> None:
    """The receiver of transitions.wakeup_needed: `count` tasks due at `at` (None: now)."""
    wake = run_next_job.using(run_after=at) if at else run_next_job
    for _ in range(count):
        wake.enqueue()
