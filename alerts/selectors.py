"""Reads of the alerts that tenants see (the status endpoint, the usage page)."""

from django.db import connection

from keybuzz import fixed_sql
from tenants.models import Tenant

from .models import Alert


def alerts_today(*, tenant: Tenant) -> list[Alert]:
    """The tenant's alerts of its local today, oldest first (`threshold` a percent of the
    budget, None for `budget_blocked`). One indexed query, in fixed SQL: the status endpoint
    runs it on every call (keybuzz.fixed_sql)."""
    with connection.cursor() as cursor:
        cursor.execute(_ALERTS_OF_DAY, [tenant.id, tenant.local_day()])
        return [fixed_sql.from_row(Alert, row) for row in cursor.fetchall()]


_ALERTS_OF_DAY = (
    f"SELECT {fixed_sql.columns(Alert, 'a')} "  # noqa: S608 (names from _meta)
    f'FROM "{Alert._meta.db_table}" a WHERE a."{fixed_sql.column(Alert, "tenant")}" = %s '
    'AND a."day" = %s ORDER BY a."created_at"'
)
