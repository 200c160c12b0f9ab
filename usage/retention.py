"""Retention: delete old ai_usage rows, keep what was derived from them.

The rollups stay the history of the purged days (the analytics endpoints read only them) and
the budget counters stay as they were; usage.rebuild never touches days before a purge.
"""

import logging
from datetime import date, datetime, time

from django.db import transaction
from django.db.models import F

from tenants.models import Tenant, local_day

from .models import AIUsage, UsagePurge
from .signals import usage_purged

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 10_000


class PurgeRefused(ValueError):
    """The purge was not started: nothing was deleted or recorded."""


def usage_purge(*, before: date, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Delete the ai_usage rows of each tenant's local days before `before`; return how many.

    Rule: `before` may be at most today in AI_BUDGET_TIMEZONE (the platform's day). A later
    date would delete today's rows, which no retention policy means: the rollups and counters
    would stay right, but the day's detail would vanish while it is still being written.
    (For a tenant west of that timezone, `before` = today may still reach its local today.)

    Rows go in batches of `batch_size`, each committed on its own, so that no transaction or
    lock lasts long on a large table. Reservations are left alone: they are budget held by
    calls in flight, and closing abandoned ones is budget_close_abandoned's job.
    Then `usage_purged` is sent: the pipeline deletes the idempotency keys claimed more than 24
    hours ago, which already count as absent, whatever `before` (ai.idempotency); the rate
    limiter keeps one row per tenant and needs no purge.
    """
    if batch_size < 1:
        raise PurgeRefused(f"the batch size must be at least 1, not {batch_size}")
    today = local_day()
    if before > today:
        raise PurgeRefused(
            f"{before} is in the future (today is {today} in AI_BUDGET_TIMEZONE): "
            "only days that have ended can be purged"
        )
    # Recorded before the first row goes: were the purge interrupted, a rebuild must already
    # leave these days alone, or it would "repair" their rollups down to the rows left.
    purge = UsagePurge.objects.create(before=before, rows_deleted=0)
    deleted = 0
    for tenant in Tenant.objects.order_by("id"):
        # The first instant of the tenant's local day `before` (fold=0 also resolves a
        # midnight skipped or repeated by a DST change to the day's first instant).
        rows = AIUsage.objects.filter(
            tenant=tenant, created_at__lt=datetime.combine(before, time.min, tzinfo=tenant.zone)
        ).order_by()
        while batch := _delete_batch(rows, purge=purge, batch_size=batch_size):
            deleted += batch
    usage_purged.send(sender=UsagePurge, batch_size=batch_size)
    return deleted


def _delete_batch(rows, *, purge: UsagePurge, batch_size: int) -> int:
    with transaction.atomic():
        ids = list(rows.values_list("id", flat=True)[:batch_size])
        if not ids:
            return 0
        count, _ = AIUsage.objects.filter(pk__in=ids).delete()
        UsagePurge.objects.filter(pk=purge.pk).update(rows_deleted=F("rows_deleted") + count)
    return count
