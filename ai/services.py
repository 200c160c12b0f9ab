"""The assist pipeline: guardrails → LiteLLM (or fallback) → accounting, one usage row each."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert
from alerts.selectors import alerts_today
from tenants.models import Tenant
from tenants.route_tables import RouteRule
from usage.budget import (
    BudgetState,
    Hold,
    budget_close_abandoned_and_read,
    budget_settle,
    budget_state_and_prices,
    minimal_call_micros_on_plan,
    plan_aliases,
    plan_prices,
    prompt_tokens_upper_bound,
)
from usage.exceptions import BudgetExceeded, Refusal
from usage.models import AIUsage
from usage.pricing import cost_usd, from_micros
from usage.recording import UsageEntry, usage_record

from .client import Completion, litellm_complete
from .exceptions import AIDisabled, TenantRateLimited, UpstreamError
from .fallback import fallback_completion
from .guardrails import guardrails_admit, kill_switches_read
from .metrics import upstream_call_timed
from .prompts import MINIMAL_CONVERSATION, upstream_messages
from .routing import Candidate, Reason, RouteRequest, route_candidates, rule_matching

Status = AIUsage.Status
DEFAULT_QUALITY = "balanced"


def fallback_mode() -> bool:
    """Without a LiteLLM master key nothing is sent upstream (the seed's rollback switch)."""
    return not settings.KEYBUZZ["LITELLM_MASTER_KEY"]


def _provider() -> str:
    return AIUsage.Provider.FALLBACK if fallback_mode() else AIUsage.Provider.LITELLM


@dataclass(frozen=True)
class Routing:
    """How a call was routed (CONTRACT §8): `reason` one of ai.routing.Reason."""

    default_model: str
    reason: str
    rule: str | None
    max_tokens: int


@dataclass(frozen=True)
class AssistResult:
    completion: Completion
    provider: str
    model: str
    cost_usd: Decimal
    request_id: str
    routing: Routing

    @property
    def tokens(self) -> int:
        return self.completion.prompt_tokens + self.completion.completion_tokens


def assist_suggest(
    *,
    tenant: Tenant,
    user_id: str,
    conversation: list[dict[str, str]],
    feature: str,
    request_id: str,
    quality: str = DEFAULT_QUALITY,
    waits_recorded: bool = True,
    settled: Callable[[AssistResult], None] | None = None,
) -> AssistResult:
    """Suggest replies for a conversation, within the tenant's guardrails and budget, on the
    model its plan's route table and its budget choose (CONTRACT §8).

    Every call past the tenant check writes exactly one ai_usage row: blocked, error or success.
    An Autopilot job passes `waits_recorded=False`: a kill switch or the rate limit makes it
    wait, and a wait writes no row (CONTRACT §9). `settled(result)` runs in the transaction
    that charges an answered call: a job records its success with its charge, so a worker
    killed in between leaves neither (the reservation is then closed as abandoned).
    """
    plan = tenant.plan
    messages = upstream_messages(conversation)
    request = RouteRequest(
        feature=feature,
        quality=quality,
        conversation_bytes=sum(len(message["content"].encode()) for message in conversation),
        prompt_tokens=prompt_tokens_upper_bound(messages),
    )
    rules = plan.route_table
    # A call stopped before the budget records the alias its rules give without the budget.
    unbudgeted = rule_matching(rules, request, None)
    call = UsageEntry(
        tenant=tenant,
        feature=feature,
        provider=_provider(),
        model=unbudgeted.target if unbudgeted else plan.model_id,
        status=Status.SUCCESS,
        user_id=user_id,
        request_id=request_id,
        default_model=plan.model_id,
        route_reason=_reason_without_budget(unbudgeted),
        max_tokens=settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
    )
    admitted_at = timezone.now()
    candidates: list[Candidate] = []

    def holds() -> list[Hold]:
        """The route decision, on the day's budget as read (one statement with the prices)."""
        state, prices = budget_state_and_prices(
            tenant=tenant, day=tenant.local_day(admitted_at), aliases=plan_aliases(plan, rules)
        )
        candidates[:] = route_candidates(
            rules=rules, prices=prices, default=plan.model_id, request=request, budget=state,
            max_tokens=settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
            min_tokens=settings.KEYBUZZ["AI_MIN_OUTPUT_TOKENS"],
        )  # fmt: skip
        return [
            Hold(worst_case=from_micros(c.worst_case_micros), call=_routed(call, c))
            for c in candidates
        ]

    try:
        admission = guardrails_admit(tenant=tenant, admitted_at=admitted_at, holds=holds)
    except Refusal as refusal:
        if not waits_recorded and isinstance(refusal, AIDisabled | TenantRateLimited):
            raise
        if isinstance(refusal, BudgetExceeded) and candidates:
            call = _routed(call, candidates[-1])  # the row names the last call tried
        usage_record(
            entry=replace(
                call, status=Status.BLOCKED, error_code=refusal.reason, created_at=admitted_at
            )
        )
        raise
    chosen = candidates[admission.index]
    reservation, call, price = admission.reservation, _routed(call, chosen), chosen.price
    try:
        if fallback_mode():
            completion = fallback_completion(
                conversation=conversation, tenant_language=tenant.language
            )
        else:
            with upstream_call_timed(model=call.model):
                completion = litellm_complete(
                    model=call.model, messages=messages, tenant_id=tenant.id,
                    request_id=request_id, max_tokens=call.max_tokens,
                )  # fmt: skip
    except Exception as error:
        # Release the hold now rather than at the TTL, whatever went wrong.
        error_code = error.error_code if isinstance(error, UpstreamError) else "internal_error"
        budget_settle(
            reservation=reservation,
            outcome=replace(call, status=Status.ERROR, error_code=error_code),
        )
        raise
    tokens = dict(
        prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens
    )
    outcome = replace(
        call,
        **tokens,
        cost_usd=cost_usd(price=price, **tokens),
        default_cost_usd=cost_usd(price=plan.model, **tokens),
        upstream_model=completion.upstream_model,
    )
    routing = Routing(plan.model_id, chosen.reason, chosen.rule, chosen.max_tokens)
    with transaction.atomic():  # the charge and what the caller records of it, or neither
        row = budget_settle(reservation=reservation, outcome=outcome)
        charged = row.cost_usd_est if row else from_micros(reservation.amount_micros)
        result = AssistResult(completion, call.provider, call.model, charged, request_id, routing)
        if settled is not None:
            settled(result)
    return result


def _reason_without_budget(rule: RouteRule | None) -> str:
    return Reason.DEFAULT if rule is None else Reason.RULE


def _routed(call: UsageEntry, candidate: Candidate) -> UsageEntry:
    return replace(
        call, model=candidate.alias, route_reason=candidate.reason, max_tokens=candidate.max_tokens
    )


@dataclass(frozen=True)
class StatusRouting:
    default_model: str
    reason: str


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
    routing: "StatusRouting"

    @property
    def available(self) -> bool:
        return self.allowed and self.switch_reason is None

    @property
    def reason(self) -> str | None:
        return self.switch_reason or (None if self.allowed else BudgetExceeded.reason)


def assist_status(*, tenant: Tenant) -> AssistStatus:
    """The tenant's status now (CONTRACT §4, §8). Closes the abandoned reservations it finds
    holding the budget (CONTRACT §5), so its `used` is true."""
    plan = tenant.plan
    switches = kill_switches_read(tenant=tenant)
    state = budget_close_abandoned_and_read(tenant=tenant, day=tenant.local_day())
    prices = plan_prices(plans=[plan])
    # Where a minimal default request would go now: the first call it may become that fits,
    # else the last (the cheapest alias, at the least max_tokens).
    minimal = upstream_messages(MINIMAL_CONVERSATION)
    request = RouteRequest(
        feature=AIUsage.Feature.ASSIST,
        quality=DEFAULT_QUALITY,
        conversation_bytes=sum(len(m["content"].encode()) for m in MINIMAL_CONVERSATION),
        prompt_tokens=prompt_tokens_upper_bound(minimal),
    )
    candidates = route_candidates(
        rules=plan.route_table, prices=prices, default=plan.model_id, request=request,
        budget=state, max_tokens=settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
        min_tokens=settings.KEYBUZZ["AI_MIN_OUTPUT_TOKENS"],
    )  # fmt: skip
    routed = next((c for c in candidates if state.admits(c.worst_case_micros)), candidates[-1])
    return AssistStatus(
        provider=_provider(),
        plan=tenant.plan_id,
        model=routed.alias,
        budget=state,
        allowed=state.admits(minimal_call_micros_on_plan(plan=plan, prices=prices)),
        switch_reason=switches.reason,
        alerts_today=alerts_today(tenant=tenant),
        routing=StatusRouting(default_model=plan.model_id, reason=routed.reason),
    )
