"""The task framework's side of the outbox: "send the due deliveries", now or at a retry's
time, run by `manage.py db_worker` (`manage.py deliver_alerts` stays the housekeeping pass)."""

from datetime import datetime

from django.db.models import Min
from django_tasks import task

from .delivery import alerts_deliver
from .models import AlertDelivery

BATCH = 100


@task()
def deliver_due() -> str:
    """Send the deliveries that are due (claimed one at a time: concurrent workers share);
    if some failed, come back when the first retry is due."""
    report = alerts_deliver(limit=BATCH)
    if report.failed:
        retry_at = AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING).aggregate(
            at=Min("next_attempt_at")
        )["at"]
        deliveries_wakeup(at=retry_at)
    return str(report)


def deliveries_wakeup(*, at: datetime | None) -> None:
    (deliver_due.using(run_after=at) if at else deliver_due).enqueue()
