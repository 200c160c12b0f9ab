from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from usage.signals import usage_recorded


class AlertsConfig(AppConfig):
    """Cost alerts: thresholds detected at write time, delivered by email and webhook."""

    name = "alerts"
    verbose_name = _("Cost alerts")

    def ready(self) -> None:
        from .detection import alerts_on_usage_recorded  # reads models: once apps are loaded

        usage_recorded.connect(alerts_on_usage_recorded, dispatch_uid="alerts.detection")
