from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _

from usage.minimal_request import minimal_request_define
from usage.signals import usage_purged

from .prompts import MINIMAL_CONVERSATION, upstream_messages


class AiConfig(AppConfig):
    name = "ai"
    verbose_name = _("AI switches, rate limits and idempotency")

    def ready(self) -> None:
        from .idempotency import idempotency_keys_purge_with_usage  # these read models:
        from .kill_switches import ai_settings_create_for_tenant  # only once apps are loaded

        minimal_request_define(messages=upstream_messages(MINIMAL_CONVERSATION))
        post_save.connect(
            ai_settings_create_for_tenant, sender="tenants.Tenant", dispatch_uid="ai.settings"
        )
        usage_purged.connect(idempotency_keys_purge_with_usage, dispatch_uid="ai.idempotency")
