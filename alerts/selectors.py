"""Reads of the alerts that tenants see (the status endpoint, the usage page)."""

from keybuzz.tenants.models import Tenant

from .models import Alert


def alerts_today(*, tenant: Tenant) -> list[dict]:
    """The tenant's alerts of its local today, oldest first: `{kind, threshold, at}` each
    (`threshold` a percent of the budget, None for `budget_blocked`). One indexed query."""
    return [
        {"kind": kind, "threshold": threshold, "at": at}
        for kind, threshold, at in Alert.objects.filter(tenant=tenant, day=tenant.local_day())
        .order_by("created_at")
        .values_list("kind", "threshold", "created_at")
    ]
