"""The error shapes of CONTRACT §3 for the OpenAPI schema, and a helper to document them.

Errors are produced by keybuzz.errors; these serializers describe them. The budget shape is
shared: a 402 shows it, and /ai/assist/status renders with it.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from .api_fields import money_field


class ErrorSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="The error code, e.g. `not_found`.")
    message = serializers.CharField()
    requestId = serializers.CharField()


class ValidationErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class RefusalSerializer(ErrorSerializer):
    reason = serializers.CharField(
        required=False, help_text="`global_kill_switch` or `tenant_kill_switch` (ai_disabled)."
    )


class BudgetSerializer(serializers.Serializer):
    """A tenant's budget today, in /ai/assist/status and in a 402 (CONTRACT §4): reads
    `budget` (the ledger's BudgetState) and `allowed` of what it is given."""

    dailyBudget = money_field(source="budget.daily")
    used = money_field(source="budget.used")
    reserved = money_field(source="budget.reserved")
    remaining = money_field(source="budget.remaining")
    allowed = serializers.BooleanField()


class BudgetExceededSerializer(ErrorSerializer):
    upgradeRequired = serializers.BooleanField()
    plan = serializers.CharField()
    budget = BudgetSerializer()


class UpstreamErrorSerializer(ErrorSerializer):
    errorCode = serializers.ChoiceField(
        choices=[
            "upstream_unavailable",
            "upstream_error",
            "upstream_rate_limited",
            "upstream_bad_response",
            "upstream_timeout",
        ]
    )


def _example(status: str, message: str, **extra) -> OpenApiExample:
    return OpenApiExample(
        status,
        value={"status": status, "message": message, **extra, "requestId": "3f2a…"},
        response_only=True,
    )


_ERRORS = {
    400: (ValidationErrorSerializer, "Invalid body or query; `errors` per field.",
          [_example("invalid_request", "The request is invalid.",
                    errors={"payload.messages": ["This list may not be empty."]})]),
    401: (ErrorSerializer, "Missing or invalid credentials.",
          [_example("unauthenticated", "Invalid or revoked token.")]),
    403: (RefusalSerializer, "Another tenant, an inactive tenant, or (assist) the tenant's "
          "kill switch.", [_example("forbidden", "You are not a member of this tenant."),
                           _example("tenant_inactive", "This tenant is inactive.")]),
    404: (ErrorSerializer, "Unknown tenant.", [_example("not_found", "There is no tenant “x”.")]),
    409: (ErrorSerializer, "The first request with this Idempotency-Key is still in flight "
          "after the wait; retry after `Retry-After` seconds.",
          [_example("idempotency_in_progress",
                    "A request with this Idempotency-Key is still in progress; retry shortly.")]),
    413: (ErrorSerializer, "Body too large.", [_example("payload_too_large", "Too large.")]),
    422: (ErrorSerializer, "This Idempotency-Key was already used with another request body.",
          [_example("idempotency_key_mismatch",
                    "This Idempotency-Key was already used with a different request body.")]),
    429: (ErrorSerializer, "Rate limited: the tenant's plan allows no more requests per minute "
          "now; `Retry-After` (whole seconds) says when the next one is admitted.",
          [_example("rate_limited",
                    "Too many requests for this tenant: retry after the delay in Retry-After.")]),
    500: (ErrorSerializer, "Unexpected error (logged with the request id).",
          [_example("internal_error", "Internal server error.")]),
    503: (RefusalSerializer, "The global kill switch is on, or the database is unreachable.",
          [_example("ai_disabled", "AI suggestions are temporarily disabled for everyone.",
                    reason="global_kill_switch"),
           _example("unavailable", "The service is temporarily unavailable.")]),
}  # fmt: skip


def error_responses(*statuses: int, **overrides: OpenApiResponse) -> dict:
    """The contract's error responses for `statuses`; `overrides` (e.g. e402=...) add or
    replace one status with an endpoint-specific description."""
    responses = {
        status: OpenApiResponse(serializer, description=description, examples=examples)
        for status, (serializer, description, examples) in _ERRORS.items()
        if status in statuses
    }
    for key, response in overrides.items():
        responses[int(key.removeprefix("e"))] = response
    return responses
