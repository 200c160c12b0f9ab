"""The assist pipeline: guardrails → LiteLLM (or fallback) → accounting, one usage row each."""

from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from alerts.models import Alert
from alerts.selectors import alerts_today
from tenants.models import Tenant, User
from usage.budget import (
    BudgetState,
    budget_close_abandoned_and_read,
    budget_settle,
    minimal_call_micros,
    worst_case_cost,
)
from usage.exceptions import BudgetExceeded, Refusal
from usage.models import AIUsage
from usage.pricing import cost_usd, from_micros
from usage.recording import UsageEntry, usage_record

from .client import Completion, litellm_complete
from .exceptions import UpstreamError
from .fallback import fallback_completion
from .guardrails import guardrails_admit, kill_switches_read
from .metrics import upstream_call_timed
from .prompts import upstream_messages

Status = AIUsage.Status


def fallback_mode() -> bool:
    """Without a LiteLLM master key nothing is sent upstream (the seed's rollback switch)."""
    return not settings.KEYBUZZ["LITELLM_MASTER_KEY"]


def _provider() -> str:
    return AIUsage.Provider.FALLBACK if fallback_mode() else AIUsage.Provider.LITELLM


@dataclass(frozen=True)
class AssistResult:
    completion: Completion
    provider: str
    model: str
    cost_usd: Decimal
    request_id: str

    @property
    def tokens(self) -> int:
        return self.completion.prompt_tokens + self.completion.completion_tokens


def assist_suggest(
    *, tenant: Tenant, user: User, conversation: list[dict[str, str]], feature: str, request_id: str
) -> AssistResult:
    """Suggest replies for a conversation, within the tenant's guardrails and budget.

    Every call past the tenant check writes exactly one ai_usage row: blocked, error or success.
    """
    price = tenant.plan.model
    messages = upstream_messages(conversation)
    call = UsageEntry(
        tenant=tenant,
        feature=feature,
        provider=_provider(),
        model=price.alias,
        status=Status.SUCCESS,
        user_id=str(user.pk),
        request_id=request_id,
    )
    admitted_at = timezone.now()
    try:
        reservation = guardrails_admit(
            tenant=tenant,
            worst_case=worst_case_cost(price=price, messages=messages),
            admitted_at=admitted_at,
            call=call,
        )
    except Refusal as refusal:
        usage_record(
            entry=replace(
                call, status=Status.BLOCKED, error_code=refusal.reason, created_at=admitted_at
            )
        )
        raise
    try:
        if fallback_mode():
            completion = fallback_completion(
                conversation=conversation, tenant_language=tenant.language
            )
        else:
            with upstream_call_timed(model=price.alias):
                completion = litellm_complete(
                    model=price.alias, messages=messages, tenant_id=tenant.id, request_id=request_id
                )
    except Exception as error:
        # Release the hold now rather than at the TTL, whatever went wrong.
        error_code = error.error_code if isinstance(error, UpstreamError) else "internal_error"
        budget_settle(
            reservation=reservation,
            outcome=replace(call, status=Status.ERROR, error_code=error_code),
        )
        raise
    cost = cost_usd(
        price=price,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
    )
    row = budget_settle(
        reservation=reservation,
        outcome=replace(
            call,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=cost,
        ),
    )
    charged = row.cost_usd_est if row else from_micros(reservation.amount_micros)
    return AssistResult(completion, call.provider, call.model, charged, request_id)


@dataclass(frozen=True)
class AssistStatus:
    """Whether a tenant can get suggestions now, and its budget today (CONTRACT §4)."""

    provider: str
    plan: str
    model: str
    budget: BudgetState
    allowed: bool  # a minimal request would be admitted now
    switch_reason: str | None  # the kill switch that is on, if any
    alerts_today: list[Alert]

    @property
    def available(self) -> bool:
        return self.allowed and self.switch_reason is None

    @property
    def reason(self) -> str | None:
        return self.switch_reason or (None if self.allowed else BudgetExceeded.reason)


def assist_status(*, tenant: Tenant) -> AssistStatus:
    """The tenant's status now. Closes the abandoned reservations it finds holding the budget
    (CONTRACT §5), so its `used` is true."""
    price = tenant.plan.model
    switches = kill_switches_read(tenant=tenant)
    state = budget_close_abandoned_and_read(tenant=tenant, day=tenant.local_day())
    return AssistStatus(
        provider=_provider(),
        plan=tenant.plan_id,
        model=price.alias,
        budget=state,
        allowed=state.admits(minimal_call_micros(price=price)),
        switch_reason=switches.reason,
        alerts_today=alerts_today(tenant=tenant),
    )
