from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "keybuzz.tenants"
    label = "tenants"
    verbose_name = "Tenants, plans and users"

    def ready(self) -> None:
        from . import schema  # noqa: F401 (registers the OpenAPI authentication extensions)
