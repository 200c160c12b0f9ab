"""What wakes Autopilot jobs up from outside: a budget change, a kill switch going off."""

from .transitions import jobs_resume_paused, jobs_wake_deferred


def jobs_wake_on_budget_change(*, tenant_ids, plan_code, **_) -> None:
    """tenants.signals.budget_changed: a top-up, or a tenant's or plan's new daily budget."""
    jobs_wake_deferred(tenant_ids=tenant_ids, plan_code=plan_code)


def jobs_resume_on_switch_off(*, tenant, **_) -> None:
    """ai.signals.kill_switch_turned_off: the global switch (tenant None) or a tenant's."""
    jobs_resume_paused(tenant_id=tenant.id if tenant is not None else None)
