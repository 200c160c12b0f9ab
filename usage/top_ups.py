"""One-day budget top-ups: support grants a tenant extra budget for its current local day."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from keybuzz.errors import InvalidRequest
from tenants.models import Tenant
from tenants.signals import budget_changed

from .models import BudgetCounter, BudgetTopUp
from .pricing import MICRO_USD, to_micros

TOP_UP_MAX_USD = Decimal("1000")  # per grant: a slip of the keyboard must not open the tap


def top_up_amount_errors(amount: Decimal) -> list[str]:
    """Why `amount` cannot be granted, if it cannot (shared by the admin form and the CLI)."""
    if not amount.is_finite() or amount <= 0:
        return [gettext("The amount must be a positive number of USD.")]
    if amount != amount.quantize(MICRO_USD):
        return [gettext("The amount has at most 6 decimals.")]
    if amount > TOP_UP_MAX_USD:
        return [gettext("A top-up is at most %(max)s USD.") % {"max": TOP_UP_MAX_USD}]
    return []


@transaction.atomic
def budget_top_up(*, tenant: Tenant, amount: Decimal, reason: str, actor: str) -> BudgetTopUp:
    """Raise the tenant's budget of its current local day by `amount`, and audit who and why.

    The amount goes onto the tenant-day's counter row, the row every admission checks in its
    one conditional statement, so the next request in any process is admitted against it.
    """
    reason = reason.strip()
    errors = {
        "amount": top_up_amount_errors(amount),
        "reason": [] if reason else [gettext("Required.")],
    }
    if any(errors.values()):
        raise InvalidRequest(errors={field: found for field, found in errors.items() if found})
    now = timezone.now()
    day = tenant.local_day(now)
    BudgetCounter.objects.add_granted(tenant_id=tenant.id, day=day, amount=to_micros(amount))
    top_up = BudgetTopUp.objects.create(
        tenant=tenant, day=day, amount_usd=amount, reason=reason, granted_by=actor, granted_at=now
    )
    budget_changed.send(sender=BudgetTopUp, tenant_ids={tenant.id}, plan_code=None)
    return top_up
