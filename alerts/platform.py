"""The platform's daily spend threshold, checked by `deliver_alerts` on each pass.

Not at write time, unlike the tenants' thresholds (alerts.detection): a platform-wide counter
moved by every usage write would be one hot row serialising every tenant's writes, the very
contention the per-tenant counters avoid. Each pass reads the platform's spend today from the
daily rollups instead: the figure of the dashboard and of /admin/ai/usage without a tenant.
"""

from django.db import transaction

from usage.selectors import platform_today, usage_history

from .detection import alert_key, alerts_insert
from .models import Alert, AlertSettings

PLATFORM_SCOPE = "platform"
Kind = Alert.Kind


def alerts_detect_platform_spend() -> Alert | None:
    """Create today's platform alert if the platform's spend today reached the threshold.

    Once it exists, a pass costs two indexed reads: the settings row and the alert's key.
    """
    threshold = AlertSettings.objects.values_list("platform_daily_usd", flat=True).first()
    if threshold is None:
        return None
    day = platform_today()
    key = alert_key(scope=PLATFORM_SCOPE, day=day, kind=Kind.PLATFORM_SPEND, threshold=threshold)
    if Alert.objects.filter(key=key).exists():
        return None
    # The platform view of /admin/ai/usage, so the alert and the dashboard always agree.
    spend = usage_history(tenant=None, days=1).summary.cost_usd
    if spend < threshold:
        return None
    alert = Alert(key=key, kind=Kind.PLATFORM_SPEND, day=day, threshold=threshold, spend_usd=spend)
    with transaction.atomic():
        created = alerts_insert([alert], tenant=None)
    return created[0] if created else None
