"""Autopilot jobs in the staff console: read-only, each job with its request, result and error
(CONTRACT §9), and the queue page per tenant (autopilot_queue.py). Jobs change state only
through ai.autopilot.transitions, never by an edit here."""

import json
import uuid

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ai.models import AutopilotJob
from keybuzz.read_only_admin import ReadOnlyModelAdmin
from tenants.models import Tenant

from .autopilot_queue import AutopilotQueueViews


def job_search_q(term: str) -> Q:
    """Jobs with that id or request id, of the tenant with that id or of tenants whose name
    contains the term. Tenants are looked up first, on their own small table, so the query on
    the jobs is only equality and IN on their own indexed columns."""
    tenants = Tenant.objects.filter(Q(pk=term) | Q(name__icontains=term))
    found = Q(request_id=term) | Q(tenant_id__in=list(tenants.values_list("pk", flat=True)))
    try:
        return found | Q(pk=uuid.UUID(term))
    except ValueError:
        return found


def _json_shown(value) -> str:
    if value is None:
        return "—"
    return format_html(
        '<pre class="kbz-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False)
    )


@admin.register(AutopilotJob)
class AutopilotJobAdmin(AutopilotQueueViews, ReadOnlyModelAdmin):
    list_display = ["created_at", "id", "tenant", "status", "attempts", "next_run_at",
                    "deadline", "finished_at", "error_code"]  # fmt: skip
    list_select_related = ["tenant"]
    list_filter = ["status", ("tenant", admin.RelatedFieldListFilter)]
    # What the search box finds; get_search_results says how.
    search_fields = ["id", "request_id", "tenant__id", "tenant__name"]
    search_help_text = _("A job id, a request id, or a tenant id or name.")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over the whole table on every page
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [
        (None, {"fields": ["id", "tenant", "status", "attempts", "created_by", "request_id",
                           "idempotency_key", "callback_url"]}),
        (_("Times"), {"fields": ["created_at", "started_at", "finished_at", "next_run_at",
                                 "deadline", "lease_expires_at"]}),
        (_("Request"), {"fields": ["request_shown"]}),
        (_("Outcome"), {"fields": ["result_shown", "error_shown"]}),
    ]  # fmt: skip
    readonly_fields = ["request_shown", "result_shown", "error_shown"]

    class Media:
        css = {"all": ["console/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        """The whole term, as one (tenant names have spaces), matched by job_search_q."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(job_search_q(term)), False

    @admin.display(description=_("error"))
    def error_code(self, job: AutopilotJob) -> str:
        return (job.error or {}).get("code", "")

    @admin.display(description=_("request"))
    def request_shown(self, job: AutopilotJob) -> str:
        return _json_shown(job.request)

    @admin.display(description=_("result"))
    def result_shown(self, job: AutopilotJob) -> str:
        return _json_shown(job.result)

    @admin.display(description=_("error"))
    def error_shown(self, job: AutopilotJob) -> str:
        return _json_shown(job.error)
