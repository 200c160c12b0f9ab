from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _

from tenants.signals import budget_changed
from usage.minimal_request import minimal_request_define
from usage.signals import usage_purged

from .prompts import MINIMAL_CONVERSATION, upstream_messages
from .signals import kill_switch_turned_off


class AiConfig(AppConfig):
    name = "ai"
    verbose_name = _("AI switches, rate limits and idempotency")
    scrape_collectors = ["ai.autopilot.metrics.AutopilotQueue"]  # read by keybuzz.metrics

    def ready(self) -> None:
        # These read models: only once apps are loaded.
        from .autopilot.receivers import jobs_resume_on_switch_off, jobs_wake_on_budget_change
        from .autopilot.tasks import wakeups_enqueue
        from .autopilot.transitions import wakeup_needed
        from .idempotency import idempotency_keys_purge_with_usage
        from .kill_switches import ai_settings_create_for_tenant

        minimal_request_define(messages=upstream_messages(MINIMAL_CONVERSATION))
        post_save.connect(
            ai_settings_create_for_tenant, sender="tenants.Tenant", dispatch_uid="ai.settings"
        )
        usage_purged.connect(idempotency_keys_purge_with_usage, dispatch_uid="ai.idempotency")
        wakeup_needed.connect(wakeups_enqueue, dispatch_uid="ai.autopilot.tasks")
        budget_changed.connect(jobs_wake_on_budget_change, dispatch_uid="ai.autopilot.budget")
        kill_switch_turned_off.connect(
            jobs_resume_on_switch_off, dispatch_uid="ai.autopilot.switch"
        )
