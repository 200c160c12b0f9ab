"""The usage analytics endpoints: validate, check tenant access, read one selector, render."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from keybuzz.api_docs import error_responses
from keybuzz.api_fields import StrictCharField, money_field
from keybuzz.errors import Forbidden
from tenants.access import Access, tenant_for_user
from usage.selectors import usage_history, usage_today

SEED_BREAKDOWN = {
    "calls": 1,
    "blockedCalls": 0,
    "errorCalls": 0,
    "tokens": 331,
    "costUsd": 0.002589,
}
SEED_TODAY = {
    "tenantId": "ecomlg-001",
    "date": "2026-01-14",
    "plan": "pro",
    "calls": 1,
    "tokens": 331,
    "costUsd": 0.002589,
    "budget": {"daily": 10, "used": 0.002589, "remaining": 9.997411, "percentUsed": 0.02589},
}
SEED_HISTORY = {
    "tenantId": "ecomlg-001",
    "from": "2026-01-08",
    "to": "2026-01-14",
    "summary": {
        "totalCalls": 1,
        "totalTokens": 331,
        "totalCostUsd": 0.002589,
        "successCalls": 1,
        "blockedCalls": 0,
        "errorCalls": 0,
        "savedUsd": 0,
    },
    "byFeature": {"assist": SEED_BREAKDOWN},
    "byModel": {"kbz-standard": SEED_BREAKDOWN},
    "byDay": [
        {"date": f"2026-01-{day:02d}", "calls": 0, "blockedCalls": 0, "errorCalls": 0,
         "tokens": 0, "costUsd": 0, "savedUsd": 0}
        for day in range(8, 14)
    ] + [{"date": "2026-01-14", **SEED_BREAKDOWN, "savedUsd": 0}],
}  # fmt: skip


SAVED_HELP = (
    "What routing saved (CONTRACT §8): over successful calls, their tokens at the plan's "
    "default model's prices less what they cost."
)


@extend_schema_serializer(component_name="UsageBreakdown")
class BreakdownSerializer(serializers.Serializer):
    """A usage.selectors.Totals: `calls` counts the successful calls."""

    calls = serializers.IntegerField()
    blockedCalls = serializers.IntegerField(source="blocked_calls")
    errorCalls = serializers.IntegerField(source="error_calls")
    tokens = serializers.IntegerField()
    costUsd = money_field(source="cost_usd")


class UsageTodayApi(APIView):
    """GET /admin/ai/usage/today?tenantId=: the tenant's local day so far."""

    @extend_schema_serializer(component_name="UsageTodayQuery")
    class InputSerializer(serializers.Serializer):
        tenantId = StrictCharField(max_length=64)

    @extend_schema_serializer(component_name="UsageToday")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="UsageTodayBudget")
        class BudgetSerializer(serializers.Serializer):
            daily = money_field()
            used = money_field()
            remaining = money_field()
            percentUsed = money_field(source="percent_used")

        tenantId = serializers.CharField(source="tenant.id")
        date = serializers.DateField(source="day")
        plan = serializers.CharField(source="tenant.plan_id")
        calls = serializers.IntegerField(source="totals.calls")
        tokens = serializers.IntegerField(source="totals.tokens")
        costUsd = money_field(source="totals.cost_usd")
        budget = BudgetSerializer(source="*")

    @extend_schema(
        operation_id="usage_today",
        summary="The tenant's consumption on its local day so far",
        parameters=[InputSerializer],
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 500, 503)},
        examples=[OpenApiExample("After the seed's call", value=SEED_TODAY)],
    )
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        tenant = tenant_for_user(
            user=request.user, tenant_id=data.validated_data["tenantId"], access=Access.READ
        )
        return Response(self.OutputSerializer(usage_today(tenant=tenant)).data)


class UsageHistoryApi(APIView):
    """GET /admin/ai/usage?tenantId=&days=7: a tenant's last days, or the platform's (staff)."""

    @extend_schema_serializer(component_name="UsageHistoryQuery")
    class InputSerializer(serializers.Serializer):
        tenantId = StrictCharField(
            max_length=64, required=False, help_text="Omitted: the whole platform (staff only)."
        )
        days = serializers.IntegerField(min_value=1, max_value=90, default=7)

    @extend_schema_serializer(component_name="UsageHistory")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="UsageSummary")
        class SummarySerializer(serializers.Serializer):
            totalCalls = serializers.IntegerField(source="all_calls")
            totalTokens = serializers.IntegerField(source="tokens")
            totalCostUsd = money_field(source="cost_usd")
            successCalls = serializers.IntegerField(source="calls")
            blockedCalls = serializers.IntegerField(source="blocked_calls")
            errorCalls = serializers.IntegerField(source="error_calls")
            savedUsd = money_field(source="saved_usd", help_text=SAVED_HELP)

        @extend_schema_serializer(component_name="UsageDay")
        class DaySerializer(BreakdownSerializer):
            date = serializers.DateField(source="day")
            savedUsd = money_field(source="saved_usd", help_text=SAVED_HELP)

            def get_fields(self):  # the date first, as the contract shows it
                fields = super().get_fields()
                return {"date": fields.pop("date"), **fields}

        @extend_schema_serializer(component_name="UsageByTenant")
        class TenantSerializer(serializers.Serializer):
            tenantId = serializers.CharField(source="tenant_id")
            name = serializers.CharField()
            plan = serializers.CharField()
            calls = serializers.IntegerField()
            tokens = serializers.IntegerField()
            costUsd = money_field(source="cost_usd")

        tenantId = serializers.CharField(source="tenant.id", allow_null=True)
        # "from" is a Python keyword: declared below.
        to = serializers.DateField()
        summary = SummarySerializer()
        byFeature = serializers.DictField(child=BreakdownSerializer(), source="by_feature")
        byModel = serializers.DictField(child=BreakdownSerializer(), source="by_model")
        byDay = DaySerializer(many=True, source="by_day")
        byTenant = TenantSerializer(many=True, required=False, source="by_tenant")

        def get_fields(self):
            fields = super().get_fields()
            since = serializers.DateField(source="since")
            return {"tenantId": fields.pop("tenantId"), "from": since, **fields}

        def to_representation(self, instance):
            history = super().to_representation(instance)
            if history["byTenant"] is None:  # the platform view only
                del history["byTenant"]
            return history

    @extend_schema(
        operation_id="usage_history",
        summary="A tenant's last days, or the whole platform's (staff)",
        parameters=[InputSerializer],
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 500, 503)},
        examples=[OpenApiExample("A week with the seed's call", value=SEED_HISTORY)],
    )
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        tenant_id = data.validated_data.get("tenantId")
        if tenant_id is None:
            if not request.user.is_staff:
                raise Forbidden("tenantId is required: only staff read the whole platform.")
            tenant = None
        else:
            tenant = tenant_for_user(user=request.user, tenant_id=tenant_id, access=Access.READ)
        history = usage_history(tenant=tenant, days=data.validated_data["days"])
        return Response(self.OutputSerializer(history).data)
