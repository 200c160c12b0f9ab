from django.apps import AppConfig
from django.db.models.signals import post_save, pre_save
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    label = "tenants"
    verbose_name = _("Tenants, plans and users")

    def ready(self) -> None:
        from . import schema  # noqa: F401 (registers the OpenAPI authentication extensions)
        from .budget_changes import budget_after_save, budget_before_save  # read models
        from .models import Plan, Tenant

        for model in (Tenant, Plan):
            uid = f"tenants.budget_changes.{model.__name__}"
            pre_save.connect(budget_before_save, sender=model, dispatch_uid=uid)
            post_save.connect(budget_after_save, sender=model, dispatch_uid=uid)
