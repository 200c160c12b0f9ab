from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    """Cost alerts: thresholds detected at write time, delivered by email and webhook."""

    name = "alerts"
    verbose_name = _("Cost alerts")
