from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    label = "tenants"
    verbose_name = _("Tenants, plans and users")

    def ready(self) -> None:
        from . import schema  # noqa: F401 (registers the OpenAPI authentication extensions)
