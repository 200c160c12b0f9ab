from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone

from console.export import usage_csv_lines
from keybuzz.read_only_admin import ReadOnlyModelAdmin
from tenants.models import Tenant, User
from tenants.models.users import normalize_email
from usage.models import AIUsage, UsagePurge, UsageRollup


class UsedModelFilter(admin.SimpleListFilter):
    """The models usage was recorded for, read from the rollups, which hold one row per
    tenant-day and model rather than one per call: a DISTINCT over ai_usage would read the
    whole table on every page."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = UsageRollup.objects.order_by("model").values_list("model", flat=True).distinct()
        return [(model, model) for model in models]

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


def usage_search_q(term: str) -> Q:
    """Rows with that request id or user id, of the tenant with that id or of tenants whose name
    contains the term, or of the user with that email.

    Tenants and users are looked up first, on their own small tables, so that the query on
    ai_usage is only equality and IN on its own columns: no join and no LIKE over its rows.
    """
    tenants = Tenant.objects.filter(Q(pk=term) | Q(name__icontains=term))
    tenant_ids = list(tenants.values_list("pk", flat=True))
    user_ids = [term]
    if "@" in term:
        users = User.objects.filter(email=normalize_email(term)).values_list("pk", flat=True)
        user_ids += [str(pk) for pk in users]  # ai_usage.user_id holds the key as text
    return Q(request_id=term) | Q(user_id__in=user_ids) | Q(tenant_id__in=tenant_ids)


@admin.register(AIUsage)
class AIUsageAdmin(ReadOnlyModelAdmin):
    list_display = [
        "created_at",
        "tenant",
        "user_id",
        "feature",
        "provider",
        "model",
        "status",
        "error_code",
        "total_tokens",
        "cost_usd_est",
        "request_id",
    ]
    list_select_related = ["tenant"]
    # Choices come from the fields' choices, the tenants table and the rollups; never from a
    # DISTINCT over ai_usage (what RelatedOnlyFieldListFilter and a plain "model" would do).
    list_filter = [
        "status",
        "feature",
        UsedModelFilter,
        "provider",
        ("tenant", admin.RelatedFieldListFilter),
    ]
    # What the search box finds; get_search_results says how.
    search_fields = ["request_id", "tenant__id", "tenant__name", "user_id"]
    search_help_text = "A request id, a tenant id or name, a user id or a user's email."
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over the whole table on every page
    show_facets = admin.ShowFacets.NEVER  # each facet count is an aggregate over ai_usage

    def get_search_results(self, request, queryset, search_term):
        """The whole term, as one (tenant names have spaces), matched by usage_search_q."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(usage_search_q(term)), False

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/", export, name="usage_aiusage_export"), *super().get_urls()]

    def export_view(self, request):
        """The changelist's rows (its filters, search and dates: its own queryset) as CSV,
        streamed so that a million rows never sit in memory."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:  # as the changelist itself answers a bad filter
            changelist_url = reverse("admin:usage_aiusage_changelist")
            return HttpResponseRedirect(f"{changelist_url}?{ERROR_FLAG}=1")
        response = StreamingHttpResponse(
            usage_csv_lines(rows=changelist.queryset), content_type="text/csv; charset=utf-8"
        )
        filename = f"ai-usage-{timezone.now():%Y-%m-%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyModelAdmin):
    list_display = ["day", "tenant", "feature", "model", "status", "calls", "tokens",
                    "cost_micros"]  # fmt: skip
    list_filter = ["status", "feature", "model"]
    search_fields = ["tenant__id"]
    date_hierarchy = "day"


@admin.register(UsagePurge)
class UsagePurgeAdmin(ReadOnlyModelAdmin):
    list_display = ["purged_at", "before", "rows_deleted"]
