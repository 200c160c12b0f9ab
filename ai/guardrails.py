"""What may stop a request before it costs anything, in the contract's order:
global kill switch → tenant kill switch → rate limit → budget (CONTRACT §4)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Subquery

from keybuzz.tenants.models import Tenant
from usage.services import UsageEntry

from .budget import budget_reserve
from .exceptions import GlobalKillSwitchOn, TenantKillSwitchOn
from .models import AIGlobalSettings, AISettings, Reservation
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
    """Both switches in one query, read fresh on every request (no cache), so a change is seen
    by the next request in every process."""
    tenant_switch = AISettings.objects.filter(tenant=tenant).values("kill_switch")[:1]
    global_on, tenant_on = (
        AIGlobalSettings.objects.filter(pk=AIGlobalSettings.SINGLETON_ID)
        .annotate(tenant_on=Subquery(tenant_switch))
        .values_list("global_kill_switch", "tenant_on")
        .get()
    )
    return KillSwitches(global_on=global_on, tenant_on=bool(tenant_on))


def guardrails_admit(
    *, tenant: Tenant, worst_case: Decimal, admitted_at: datetime, call: UsageEntry
) -> Reservation:
    """Raise the first refusal that applies, or hold the budget for the call."""
    switches = kill_switches_read(tenant=tenant)
    if switches.global_on:
        raise GlobalKillSwitchOn()
    if switches.tenant_on:
        raise TenantKillSwitchOn()
    # After the switches (a switched-off tenant is told so, and uses no slot); before the
    # budget, so a flood is turned away without reserving anything.
    rate_limit_take(tenant=tenant, at=admitted_at)
    return budget_reserve(tenant=tenant, worst_case=worst_case, admitted_at=admitted_at, call=call)
