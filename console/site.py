"""The staff console's admin site: the dashboard as its index, the kill switch on every page."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ai.models import AIGlobalSettings

from .dashboard import dashboard_read


class StaffSite(admin.AdminSite):
    site_header = _("KeyBuzz AI console")
    site_title = _("KeyBuzz AI console")
    index_title = _("Dashboard")
    index_template = "admin/console/index.html"

    def each_context(self, request):
        context = super().each_context(request)
        if request.user.is_active and request.user.is_staff:
            # Read fresh on every page: during an incident nobody should miss that AI is off.
            context["global_switch"] = AIGlobalSettings.objects.get(
                pk=AIGlobalSettings.SINGLETON_ID
            )
        return context

    def index(self, request, extra_context=None):
        context = {
            "dashboard": dashboard_read(),
            "can_see_autopilot_queue": request.user.has_perm("ai.view_autopilotjob"),
            **(extra_context or {}),
        }
        return super().index(request, context)
