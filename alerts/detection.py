"""Cost alerts detected at write time, in the transaction that records the usage (an outbox).

usage.recording adds each tenant-day's new spend to its budget counter with one statement that
also returns the counter's new spend and top-ups; it then sends `usage_recorded` with the spend
before and after the write, which `alerts_on_usage_recorded` receives in the same transaction.
Concurrent writers serialize on that counter row, so exactly one of them sees a threshold
between its before and after, and the alert's unique key makes any other attempt (a top-up
that moved the thresholds, a retry) a no-op. Finding the crossed thresholds is arithmetic on
the tenant and plan already loaded: no query unless one is crossed.

Thresholds are percents of the day's budget, top-ups included (the tenant's `alert_percents`,
else its plan's). A percent is passed when the spend reaches it, or when the budget is reached
(CONTRACT §5: less than one minimal call is left, `allowed: false`), whichever comes first, so
"100" fires when the tenant is effectively out of budget, even though the hard cap stops spend
a little below the exact budget.

Which days alert: a live call's write (usage_record) alerts on its day if that is the tenant's
local today or yesterday (a call admitted before midnight and settled after still counts for
the day it was admitted); bulk writes (usage_record_many: generate_usage, seed_demo) alert only
on the tenant's current local day, never on the history they backfill.

The platform threshold is not detected here (see alerts.platform).
"""

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from django.db import DatabaseError, transaction

from tenants.models import Tenant
from usage.budget import (
    budget_reached_from,
    minimal_call_micros,
    minimal_call_micros_on_plan,
    plan_aliases,
    plan_prices,
)
from usage.models import BudgetCounter
from usage.pricing import from_micros, to_micros

from .models import Alert, AlertDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

Kind = Alert.Kind


def alerts_on_usage_recorded(
    *, spend_moved: dict, budget_refused: set, tenants: dict, now: datetime, live: bool, **_
) -> None:
    """Raise the alerts of the tenant-days a recording moved (usage.signals.usage_recorded),
    in its transaction; no query unless one is due."""
    for tenant_id, day in sorted(spend_moved.keys() | budget_refused):
        tenant = tenants[tenant_id]
        if not alerts_day_watched(tenant=tenant, day=day, now=now, live=live):
            continue
        if (tenant_id, day) in budget_refused:
            alerts_detect_blocked(tenant=tenant, day=day)
        if (tenant_id, day) in spend_moved:
            before, after, granted = spend_moved[tenant_id, day]
            alerts_detect_spend(
                tenant=tenant,
                day=day,
                before_micros=before,
                after_micros=after,
                granted_micros=granted,
            )


def alert_key(*, scope: str, day: date, kind: str, threshold: Decimal | None) -> str:
    """'<tenant id or platform>:<day>:<kind>:<threshold>': one alert per key, ever."""
    shown = "-" if threshold is None else format(threshold.normalize(), "f")
    return f"{scope}:{day.isoformat()}:{kind}:{shown}"


def alerts_day_watched(*, tenant: Tenant, day: date, now: datetime, live: bool) -> bool:
    """Whether a write on `day` may raise alerts (see the module's docstring)."""
    today = tenant.local_day(now)
    return day >= (today - timedelta(days=1) if live else today)


def alert_percents(tenant: Tenant) -> list[Decimal]:
    percents = tenant.alert_percents
    if percents is None:
        percents = tenant.plan.alert_percents
    return [Decimal(str(percent)) for percent in percents]


def alert_thresholds(
    *, tenant: Tenant, budget_micros: int, spend_micros: int
) -> list[tuple[Decimal, int]]:
    """(percent, spend in micro-dollars from which it is passed) for a day's budget."""
    # Reached when a minimal request on the cheapest alias the plan may use no longer fits. Its
    # default alias costs at least as much, so until the spend nears that bound no price needs
    # reading: the plan's other prices are read only within one minimal call of the budget.
    reached = budget_reached_from(
        daily_micros=budget_micros, minimal_micros=minimal_call_micros(price=tenant.plan.model)
    )
    if spend_micros >= reached and plan_aliases(tenant.plan) != [tenant.plan.model_id]:
        minimal = minimal_call_micros_on_plan(
            plan=tenant.plan, prices=plan_prices(plans=[tenant.plan])
        )
        reached = budget_reached_from(daily_micros=budget_micros, minimal_micros=minimal)
    thresholds = []
    for percent in alert_percents(tenant):
        exact = (percent * budget_micros / 100).to_integral_value(rounding=ROUND_CEILING)
        thresholds.append((percent, max(1, min(int(exact), reached))))
    return thresholds


def alerts_detect_spend(
    *, tenant: Tenant, day: date, before_micros: int, after_micros: int, granted_micros: int
) -> list[Alert]:
    """Create the alerts of the percents this write's spend went past (before < at ≤ after)."""
    budget = to_micros(tenant.daily_budget) + granted_micros
    if after_micros <= before_micros or budget <= 0:
        return []
    crossed = [
        percent
        for percent, at in alert_thresholds(
            tenant=tenant, budget_micros=budget, spend_micros=after_micros
        )
        if before_micros < at <= after_micros
    ]
    if not crossed:
        return []
    return alerts_insert(
        [
            Alert(
                key=alert_key(scope=tenant.id, day=day, kind=Kind.BUDGET_PERCENT, threshold=p),
                kind=Kind.BUDGET_PERCENT,
                tenant=tenant,
                day=day,
                threshold=p,
                spend_usd=from_micros(after_micros),
                budget_usd=from_micros(budget),
            )
            for p in crossed
        ],
        tenant=tenant,
    )


def alerts_detect_blocked(*, tenant: Tenant, day: date) -> list[Alert]:
    """Create the day's `budget_blocked` alert, the first time the budget refuses a request.

    Every later refusal that day costs one indexed read of the alert's key.
    """
    key = alert_key(scope=tenant.id, day=day, kind=Kind.BUDGET_BLOCKED, threshold=None)
    if Alert.objects.filter(key=key).exists():
        return []
    spent, granted = BudgetCounter.objects.filter(tenant=tenant, day=day).values_list(
        "spent_micros", "granted_micros"
    ).first() or (0, 0)
    alert = Alert(
        key=key,
        kind=Kind.BUDGET_BLOCKED,
        tenant=tenant,
        day=day,
        spend_usd=from_micros(spent),
        budget_usd=from_micros(to_micros(tenant.daily_budget) + granted),
    )
    return alerts_insert([alert], tenant=tenant)


def alerts_insert(alerts: Iterable[Alert], *, tenant: Tenant | None) -> list[Alert]:
    """Insert the alerts whose key is new, each with its deliveries; returns those inserted.

    In a savepoint: a failure here is logged and must not undo the usage being recorded.
    """
    alerts = sorted(alerts, key=lambda alert: alert.key)  # one lock order for every writer
    try:
        with transaction.atomic():
            Alert.objects.bulk_create(alerts, ignore_conflicts=True)
            ours = set(
                Alert.objects.filter(pk__in=[alert.pk for alert in alerts]).values_list(
                    "pk", flat=True
                )
            )
            created = [alert for alert in alerts if alert.pk in ours]
            if created:
                channels = _channels(tenant)
                AlertDelivery.objects.bulk_create(
                    AlertDelivery(alert=alert, channel=channel)
                    for alert in created
                    for channel in channels
                )
    except DatabaseError:
        logger.exception("Could not create the alerts %s.", [alert.key for alert in alerts])
        return []
    for alert in created:
        logger.info("Alert %s raised (%s).", alert.event_id, alert.key)
    return created


def _channels(tenant: Tenant | None) -> list[str]:
    """Email always (the tenant's owners and admins, and staff); the tenant's webhook if it
    has an active one. Platform alerts go to staff by email only."""
    channels = [AlertDelivery.Channel.EMAIL]
    if (
        tenant is not None
        and WebhookEndpoint.objects.filter(tenant=tenant, is_active=True).exists()
    ):
        channels.append(AlertDelivery.Channel.WEBHOOK)
    return channels
