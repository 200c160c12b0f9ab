"""What may stop a request before it costs anything, in the contract's order:
global kill switch → tenant kill switch → rate limit → budget (CONTRACT §4)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from tenants.models import Tenant
from usage.budget import Admission, Hold, budget_refusal, budget_reserve

from .exceptions import GlobalKillSwitchOn, TenantKillSwitchOn
from .models import AIGlobalSettings, AISettings
from .rate_limit import rate_limit_take


@dataclass(frozen=True)
class KillSwitches:
    global_on: bool
    tenant_on: bool

    @property
    def reason(self) -> str | None:
        if self.global_on:
            return "global_kill_switch"
        if self.tenant_on:
            return "tenant_kill_switch"
        return None


def kill_switches_read(*, tenant: Tenant) -> KillSwitches:
    """Both switches in one fixed statement, read fresh on every request (no cache), so a change
    is seen by the next request in every process."""
    with connection.cursor() as cursor:
        cursor.execute(_KILL_SWITCHES, [tenant.id, AIGlobalSettings.SINGLETON_ID])
        row = cursor.fetchone()
    if row is None:  # the migration creates it; nothing deletes it
        raise AIGlobalSettings.DoesNotExist("The global AI settings row is missing.")
    global_on, tenant_on = row
    return KillSwitches(global_on=bool(global_on), tenant_on=bool(tenant_on))


_KILL_SWITCHES = (
    f'SELECT g."global_kill_switch", s."kill_switch" '  # noqa: S608 (names from _meta)
    f'FROM "{AIGlobalSettings._meta.db_table}" g '
    f'LEFT JOIN "{AISettings._meta.db_table}" s ON s."tenant_id" = %s '
    'WHERE g."id" = %s'
)


def guardrails_admit(
    *, tenant: Tenant, admitted_at: datetime, holds: Callable[[], Sequence[Hold]]
) -> Admission:
    """Raise the first refusal that applies, or hold the budget for the first of the calls
    `holds()` names (the route decision, read once the switches are known to be off) that
    fits."""
    switches = kill_switches_read(tenant=tenant)
    if switches.global_on:
        raise GlobalKillSwitchOn()
    if switches.tenant_on:
        raise TenantKillSwitchOn()
    candidates = holds()
    # After the switches (a switched-off tenant is told so, and uses no slot); before the
    # budget, so a flood is turned away without reserving anything. Both in one transaction:
    # an admission costs one commit. A refusal by the budget still uses its slot.
    with transaction.atomic():
        rate_limit_take(tenant=tenant, at=admitted_at)
        admission = budget_reserve(tenant=tenant, holds=candidates, admitted_at=admitted_at)
    if admission is None:
        raise budget_refusal(tenant=tenant, day=tenant.local_day(admitted_at))
    return admission
