"""The assist endpoints: validate, check tenant access, call one service, render."""

from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from keybuzz.api_docs import (
    BudgetExceededSerializer,
    BudgetSerializer,
    UpstreamErrorSerializer,
    error_responses,
)
from keybuzz.api_fields import StrictCharField, money_field
from keybuzz.bound_serializers import represented, validated
from tenants.access import Access, tenant_for_user
from usage.models import AIUsage

from .idempotency import HEADER as IDEMPOTENCY_KEY
from .idempotency import idempotency_key_from_header, idempotency_request_hash, idempotency_run
from .prompts import OPENAI_ROLE
from .services import DEFAULT_QUALITY, assist_status, assist_suggest

SEED_REQUEST = {
    "tenantId": "ecomlg-001",
    "contextType": "conversation",
    "contextId": "conv-123",
    "payload": {"messages": [{"role": "customer", "content": "Ma commande est en retard"}]},
}
SEED_ANSWER = {
    "status": "success",
    "suggestions": ["Je suis désolé pour ce retard. Je vérifie votre commande tout de suite."],
    "explanations": ["Reconnaît le problème et annonce la prochaine étape."],
    "confidenceLevel": "high",
    "provider": "litellm",
    "model": "kbz-standard",
    "usage": {"tokens": 331, "costUsd": 0.002589},
    "requestId": "3f2a9c1e0b7d4e5f8a6b2c1d0e9f8a7b",
    "routing": {"defaultModel": "kbz-standard", "reason": "default", "rule": None,
                "maxTokens": 1024},
}  # fmt: skip
SEED_STATUS = {
    "available": True,
    "provider": "litellm",
    "plan": "pro",
    "model": "kbz-standard",
    "budget": {
        "dailyBudget": 10,
        "used": 0.002589,
        "reserved": 0,
        "remaining": 9.997411,
        "allowed": True,
    },
    "alertsToday": [],
    "routing": {"defaultModel": "kbz-standard", "reason": "default"},
}
STATUS_WITH_ALERTS = {
    **SEED_STATUS,
    "budget": {
        "dailyBudget": 10,
        "used": 8.004512,
        "reserved": 0.02,
        "remaining": 1.995488,
        "allowed": True,
    },
    "alertsToday": [
        {"kind": "budget_percent", "threshold": 80, "at": "2026-03-10T14:42:07.123456Z"}
    ],
}
REQUEST_ID_HEADER = OpenApiParameter(
    "X-Request-Id",
    str,
    OpenApiParameter.HEADER,
    description="Echoed back in the header and as `requestId`; generated when absent.",
)
IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    IDEMPOTENCY_KEY,
    str,
    OpenApiParameter.HEADER,
    description="Optional, 1 to 255 printable ASCII characters, scoped to the tenant and kept "
    "24 hours. The first request's 200 answer is stored and replayed to every retry with the "
    "same key and body: same body and `requestId` (also as `X-Request-Id`, with "
    "`Idempotent-Replayed: true`), no new usage row, no upstream call, no charge. Any other "
    "outcome frees the key, so a retry runs again. The same key with another body: 422. "
    "While the first request is in flight, a retry waits for it, then gets its answer or 409.",
)


REASONS = ["default", "rule", "budget_low", "fit_to_budget"]


@extend_schema_serializer(component_name="AssistRouting")
class RoutingSerializer(serializers.Serializer):
    """How the call was routed (CONTRACT §8): `model` is the alias called."""

    defaultModel = serializers.CharField(source="default_model")
    reason = serializers.ChoiceField(
        choices=REASONS,
        help_text="`default`: no rule matched; `rule`: a rule matched; `budget_low`: a rule on "
        "the budget left matched; `fit_to_budget`: the call was moved to the cheapest alias or "
        "given fewer max_tokens to fit what is left of the day's budget.",
    )
    rule = serializers.CharField(allow_null=True, help_text="The matching rule's name, or null.")
    maxTokens = serializers.IntegerField(source="max_tokens", help_text="As sent upstream.")


@extend_schema_serializer(component_name="AssistStatusRouting")
class StatusRoutingSerializer(serializers.Serializer):
    defaultModel = serializers.CharField(source="default_model")
    reason = serializers.ChoiceField(choices=REASONS)


@extend_schema_serializer(component_name="AssistMessage")
class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=sorted(OPENAI_ROLE))
    content = StrictCharField(max_length=20_000, trim_whitespace=False)


@extend_schema_serializer(component_name="AssistPayload")
class PayloadSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True, min_length=1, max_length=50, allow_empty=False)


class AssistApi(APIView):
    """POST /ai/assist: reply suggestions for a conversation."""

    @extend_schema_serializer(component_name="AssistRequest")
    class InputSerializer(serializers.Serializer):
        tenantId = StrictCharField(max_length=64)
        payload = PayloadSerializer()
        contextType = StrictCharField(max_length=200, required=False, allow_blank=True)
        contextId = StrictCharField(max_length=200, required=False, allow_blank=True)
        feature = serializers.ChoiceField(
            choices=AIUsage.Feature.values, default=AIUsage.Feature.ASSIST
        )
        quality = serializers.ChoiceField(
            choices=["fast", "balanced"],
            default=DEFAULT_QUALITY,
            help_text="`fast` may route to a cheaper model (the plan's route table, CONTRACT §8).",
        )

    @extend_schema_serializer(component_name="AssistAnswer")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="AssistUsage")
        class UsageSerializer(serializers.Serializer):
            tokens = serializers.IntegerField()
            costUsd = money_field(source="cost_usd")

        status = serializers.CharField(default="success")
        suggestions = serializers.ListField(
            child=serializers.CharField(), source="completion.suggestions"
        )
        explanations = serializers.ListField(
            child=serializers.CharField(), source="completion.explanations"
        )
        confidenceLevel = serializers.CharField(source="completion.confidence")
        provider = serializers.CharField()
        model = serializers.CharField()
        usage = UsageSerializer(source="*")
        requestId = serializers.CharField(source="request_id")
        routing = RoutingSerializer()

    @extend_schema(
        operation_id="ai_assist",
        summary="Suggest replies for a conversation",
        description="Checks, in order: authentication, body size, validation, tenant, "
        "idempotent replay, global kill switch, tenant kill switch, rate limit (the plan's "
        "requests per minute), budget, then LiteLLM. Every request past the tenant check writes "
        "exactly one ai_usage row, except an idempotent replay (and its 409 and 422). The model "
        "is chosen by the plan's route table (`feature`, `quality`, the conversation's size, the "
        "budget left); a call that does not fit what is left today moves to the cheapest alias "
        "the table names, then to fewer max_tokens (down to AI_MIN_OUTPUT_TOKENS), before a 402: "
        "`routing` says what happened.",
        request=InputSerializer,
        parameters=[REQUEST_ID_HEADER, IDEMPOTENCY_KEY_HEADER],
        responses={
            200: OutputSerializer,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                413,
                422,
                429,
                500,
                503,
                e402=OpenApiResponse(
                    BudgetExceededSerializer,
                    description="Even the cheapest call the request may become (the cheapest "
                    "alias at AI_MIN_OUTPUT_TOKENS) would exceed what is left of the day's budget.",
                ),
                e502=OpenApiResponse(
                    UpstreamErrorSerializer,
                    description="LiteLLM unreachable, 5xx, 429 or an unreadable answer.",
                ),
                e504=OpenApiResponse(
                    UpstreamErrorSerializer, description="LiteLLM did not answer in time."
                ),
            ),
        },
        examples=[
            OpenApiExample("The seed's call", value=SEED_REQUEST, request_only=True),
            OpenApiExample("The seed's answer", value=SEED_ANSWER, response_only=True),
        ],
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        key = idempotency_key_from_header(request.headers.get(IDEMPOTENCY_KEY))
        tenant = tenant_for_user(user=request.user, tenant_id=data["tenantId"], access=Access.SPEND)

        def answer() -> dict:
            result = assist_suggest(
                tenant=tenant,
                user_id=str(request.user.pk),
                conversation=data["payload"]["messages"],
                feature=data["feature"],
                quality=data["quality"],
                request_id=request.request_id,
            )
            return represented(self.OutputSerializer, result)

        if key is None:
            return Response(answer())
        answered = idempotency_run(
            tenant=tenant,
            key=key,
            request_hash=idempotency_request_hash(data),
            request_id=request.request_id,
            run=lambda: JSONRenderer().render(answer()).decode(),
        )
        # The stored bytes as they are, under the request id they carry.
        response = HttpResponse(answered.body, content_type="application/json")
        response["X-Request-Id"] = answered.request_id
        if answered.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


@extend_schema_serializer(component_name="AssistStatusAlert")
class AlertTodaySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["budget_percent", "budget_blocked"],
        help_text="`budget_percent`: spend passed `threshold` % of the day's budget (top-ups "
        "included); `budget_blocked`: a request was refused by the budget.",
    )
    threshold = money_field(
        allow_null=True, help_text="A percent of the daily budget; null for `budget_blocked`."
    )
    at = serializers.DateTimeField(
        source="created_at", help_text="When it happened (the alert was raised)."
    )


class AssistStatusApi(APIView):
    """GET /ai/assist/status?tenantId=: availability and today's budget."""

    @extend_schema_serializer(component_name="AssistStatusQuery")
    class InputSerializer(serializers.Serializer):
        tenantId = StrictCharField(max_length=64)

    @extend_schema_serializer(component_name="AssistStatus")
    class OutputSerializer(serializers.Serializer):
        available = serializers.BooleanField()
        provider = serializers.CharField()
        plan = serializers.CharField()
        model = serializers.CharField()
        budget = BudgetSerializer(source="*")
        reason = serializers.CharField(required=False)
        routing = StatusRoutingSerializer()
        alertsToday = AlertTodaySerializer(
            source="alerts_today",
            many=True,
            help_text="The cost alerts raised for the tenant's local today, oldest first: each "
            "threshold passed and a first refusal by the budget, once a day each.",
        )

        def to_representation(self, instance):
            status = super().to_representation(instance)
            if status["reason"] is None:  # given only when not available
                del status["reason"]
            return status

    @extend_schema(
        operation_id="ai_assist_status",
        summary="Whether the tenant can get suggestions now, and its budget today",
        parameters=[InputSerializer],
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 500, 503)},
        examples=[
            OpenApiExample("A pro tenant after the seed's call", value=SEED_STATUS),
            OpenApiExample("A pro tenant past 80 % of its budget", value=STATUS_WITH_ALERTS),
        ],
    )
    def get(self, request):
        data = validated(self.InputSerializer, request.query_params)
        tenant = tenant_for_user(user=request.user, tenant_id=data["tenantId"], access=Access.READ)
        return Response(represented(self.OutputSerializer, assist_status(tenant=tenant)))
