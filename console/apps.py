from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    """The staff console: its admin site, dashboard, audit log and staff groups."""

    name = "console"
    label = "console"
    verbose_name = _("Staff console")


class StaffAdminConfig(AdminConfig):
    """Django's admin, served by the console's site (dashboard, kill switch banner)."""

    default_site = "console.site.StaffSite"
