"""Kill switches: the global one and each tenant's, every change audited."""

from django.db import transaction
from django.utils import timezone

from keybuzz.errors import InvalidRequest
from tenants.models import Tenant

from .models import AIGlobalSettings, AISettings, KillSwitchChange
from .signals import kill_switch_turned_off


@transaction.atomic
def kill_switch_set(
    *, tenant: Tenant | None, on: bool, reason: str, actor: str
) -> KillSwitchChange:
    """Turn the global switch (tenant=None) or a tenant's switch on or off, and audit it.

    The settings row is locked so that concurrent changes are recorded with true old values.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidRequest(errors={"reason": ["A reason is required."]})
    now = timezone.now()
    if tenant is None:
        row = AIGlobalSettings.objects.select_for_update().get(pk=AIGlobalSettings.SINGLETON_ID)
        old_value, row.global_kill_switch = row.global_kill_switch, on
    else:
        AISettings.objects.get_or_create(tenant=tenant)
        row = AISettings.objects.select_for_update().get(tenant=tenant)
        old_value, row.kill_switch = row.kill_switch, on
    row.reason, row.updated_by, row.updated_at = reason, actor, now
    row.save()
    if old_value and not on:
        kill_switch_turned_off.send(sender=kill_switch_set, tenant=tenant)
    return KillSwitchChange.objects.create(
        tenant=tenant,
        old_value=old_value,
        new_value=on,
        reason=reason,
        changed_by=actor,
        changed_at=now,
    )


def ai_settings_create_for_tenant(*, instance: Tenant, created: bool, raw: bool, **_) -> None:
    """Every new tenant gets its AI settings row, its kill switch off (a post_save receiver:
    tenants are created below the pipeline, which owns the switches)."""
    if created and not raw:
        AISettings.objects.get_or_create(tenant=instance)
