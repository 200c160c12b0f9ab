from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """What tenants see of their spend: the usage page and the analytics endpoints."""

    name = "reports"
    verbose_name = _("Usage reports")
