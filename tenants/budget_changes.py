"""Announce a change of a tenant's or a plan's daily budget (tenants.signals.budget_changed).

The old value is read in pre_save (a save of a tenant or a plan is a staff action, rare), and
the signal is sent in post_save only when the budget really moved: a deferred Autopilot job is
woken by a budget change and nothing else.
"""

from .models import Plan, Tenant
from .signals import budget_changed


def budget_before_save(*, sender, instance, raw: bool, **_) -> None:
    if raw or instance._state.adding:
        return
    field = _BUDGET_FIELD[sender]
    instance._budget_before_save = (
        sender.objects.filter(pk=instance.pk).values_list(field, flat=True).first()
    )


def budget_after_save(*, sender, instance, created: bool, raw: bool, **_) -> None:
    if raw or created:
        return
    before = getattr(instance, "_budget_before_save", None)
    if before == getattr(instance, _BUDGET_FIELD[sender]):
        return
    if sender is Tenant:
        budget_changed.send(sender=Tenant, tenant_ids={instance.pk}, plan_code=None)
    else:
        budget_changed.send(sender=Plan, tenant_ids=None, plan_code=instance.pk)


_BUDGET_FIELD = {Tenant: "daily_budget_override", Plan: "daily_budget_usd"}
