"""The AI pipeline's errors, raised anywhere and rendered by keybuzz.errors (CONTRACT §4)."""

from keybuzz.errors import ApiError, RateLimited
from usage.exceptions import Refusal


class AIDisabled(Refusal):
    """A kill switch is on; `reason` names which one."""

    code = "ai_disabled"

    def __init__(self, *, reason: str, status_code: int, message: str):
        super().__init__(message, extra={"reason": reason})
        self.reason = reason
        self.status_code = status_code


class GlobalKillSwitchOn(AIDisabled):
    def __init__(self):
        super().__init__(
            reason="global_kill_switch",
            status_code=503,
            message="AI suggestions are temporarily disabled for everyone.",
        )


class TenantKillSwitchOn(AIDisabled):
    def __init__(self):
        super().__init__(
            reason="tenant_kill_switch",
            status_code=403,
            message="AI suggestions are disabled for this tenant.",
        )


class TenantRateLimited(Refusal, RateLimited):
    """The tenant made more requests than its plan allows per minute (ai/rate_limit.py)."""

    status_code = 429
    code = reason = "rate_limited"
    message = "Too many requests for this tenant: retry after the delay in Retry-After."

    def __init__(self, *, retry_after: int):
        super().__init__(headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class IdempotencyKeyMismatch(ApiError):
    """The Idempotency-Key was already used by this tenant for a different request body."""

    status_code = 422
    code = "idempotency_key_mismatch"
    message = "This Idempotency-Key was already used with a different request body."


class IdempotencyInProgress(ApiError):
    """The first request with this Idempotency-Key is still running: retry to get its answer."""

    status_code = 409
    code = "idempotency_in_progress"
    message = "A request with this Idempotency-Key is still in progress; retry shortly."

    def __init__(self, *, retry_after: int = 1):
        super().__init__(headers={"Retry-After": str(retry_after)})


class UpstreamError(ApiError):
    """LiteLLM could not give a usable answer; `error_code` is the contract's errorCode."""

    status_code = 502
    code = "error"
    error_code = "upstream_error"
    message = "The AI provider returned an error."

    def __init__(self, message: str | None = None):
        super().__init__(message, extra={"errorCode": self.error_code})


class UpstreamUnavailable(UpstreamError):
    error_code = "upstream_unavailable"
    message = "The AI provider could not be reached."


class UpstreamTimeout(UpstreamError):
    status_code = 504
    error_code = "upstream_timeout"
    message = "The AI provider did not answer in time."


class UpstreamRateLimited(UpstreamError):
    error_code = "upstream_rate_limited"
    message = "The AI provider is rate limiting requests."


class UpstreamBadResponse(UpstreamError):
    error_code = "upstream_bad_response"
    message = "The AI provider's answer could not be read."


class PlanFeatureUnavailable(ApiError):
    """The tenant's plan does not allow Autopilot (`plans.autopilot_enabled`)."""

    status_code = 403
    code = "plan_feature_unavailable"
    message = "The tenant's plan does not include Autopilot."


class QueueFull(ApiError):
    """The tenant has AUTOPILOT_MAX_PENDING_PER_TENANT unfinished jobs already."""

    status_code = 429
    code = "queue_full"
    message = "Too many unfinished Autopilot jobs for this tenant: wait for some to finish."


class JobNotCancellable(ApiError):
    """Only a queued, deferred or paused job can be cancelled."""

    status_code = 409
    code = "job_not_cancellable"
    message = "Only a queued, deferred or paused job can be cancelled."

    def __init__(self, *, status: str):
        super().__init__(extra={"jobStatus": status})
