"""Routing (CONTRACT §8): which alias and `max_tokens` a call may use, by need and by budget.

`route_candidates` is a pure function of the plan's route table, the request (feature,
quality, conversation size, prompt bound) and the day's budget as read. It returns the calls
the request may become, in order: the routed one, then the cheapest alias the table names,
then lower `max_tokens` down to AI_MIN_OUTPUT_TOKENS. The ledger's one admission statement
(usage.budget.budget_reserve) admits the first that fits, atomically, at its own worst case;
so the budget is never checked against a model other than the one called.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tenants.models import ModelPrice
from tenants.route_tables import RouteRule
from usage.budget import BudgetState, max_tokens_that_fit, worst_case_of
from usage.pricing import to_micros


class Reason:
    DEFAULT = "default"  # no rule matched
    RULE = "rule"  # a rule without a budget condition matched
    BUDGET_LOW = "budget_low"  # a rule with a budget condition matched
    FIT_TO_BUDGET = "fit_to_budget"  # fitting changed the alias or max_tokens: wins


@dataclass(frozen=True)
class Candidate:
    """One call the request may become, and its worst case."""

    price: ModelPrice
    max_tokens: int
    reason: str
    rule: str | None
    worst_case_micros: int

    @property
    def alias(self) -> str:
        return self.price.alias


@dataclass(frozen=True)
class RouteRequest:
    feature: str
    quality: str
    conversation_bytes: int  # the conversation's UTF-8 size, what minBytes/maxBytes bound
    prompt_tokens: int  # the upper bound of the prompt as sent (system prompt included)


def rule_matching(
    rules: Sequence[RouteRule], request: RouteRequest, budget: BudgetState | None
) -> RouteRule | None:
    """The first rule whose conditions all hold. Without a budget (a call stopped before the
    budget is looked at), rules with a budget condition are skipped."""
    for rule in rules:
        if rule.watches_budget and budget is None:
            continue
        if _holds(rule, request, budget):
            return rule
    return None


def _holds(rule: RouteRule, request: RouteRequest, budget: BudgetState | None) -> bool:
    size = request.conversation_bytes
    return (
        (rule.features is None or request.feature in rule.features)
        and (rule.qualities is None or request.quality in rule.qualities)
        and (rule.min_bytes is None or size >= rule.min_bytes)
        and (rule.max_bytes is None or size <= rule.max_bytes)
        and (
            rule.budget_left_below_percent is None
            or budget.left_percent < rule.budget_left_below_percent
        )
    )


def route_candidates(
    *,
    rules: Sequence[RouteRule],
    prices: Mapping[str, ModelPrice],
    default: str,
    request: RouteRequest,
    budget: BudgetState,
    max_tokens: int,
    min_tokens: int,
) -> list[Candidate]:
    """The calls `request` may become, best first (see the module's docstring). `prices` holds
    the default alias and every alias the rules name."""
    rule = rule_matching(rules, request, budget)

    def candidate(price: ModelPrice, tokens: int, reason: str) -> Candidate:
        worst = worst_case_of(price=price, prompt_tokens=request.prompt_tokens, max_tokens=tokens)
        return Candidate(price, tokens, reason, rule.name if rule else None, to_micros(worst))

    if rule is None:
        routed = candidate(prices[default], max_tokens, Reason.DEFAULT)
    else:
        reason = Reason.BUDGET_LOW if rule.watches_budget else Reason.RULE
        routed = candidate(prices[rule.target], max_tokens, reason)
    candidates = [routed]
    cheapest = cheapest_price(
        rules=rules, prices=prices, default=default, request=request, max_tokens=max_tokens
    )
    if cheapest.alias != routed.alias:
        full = candidate(cheapest, max_tokens, Reason.FIT_TO_BUDGET)
        if full.worst_case_micros < routed.worst_case_micros:
            candidates.append(full)
    fitting = max_tokens_that_fit(
        price=cheapest,
        prompt_tokens=request.prompt_tokens,
        room_micros=budget.room_micros,
        ceiling=max_tokens,
    )
    # What fits the day as read, then the least: the admission, which sees the day as it is
    # then, takes the first that still fits.
    for tokens in sorted({fitting, min_tokens}, reverse=True):
        if min_tokens <= tokens < max_tokens:
            candidates.append(candidate(cheapest, tokens, Reason.FIT_TO_BUDGET))
    return _without_repeats(candidates)


def cheapest_price(
    *,
    rules: Sequence[RouteRule],
    prices: Mapping[str, ModelPrice],
    default: str,
    request: RouteRequest,
    max_tokens: int,
) -> ModelPrice:
    """The alias the table names (its targets and the default) whose full-size worst case for
    this request is the lowest; the default wins a tie."""
    aliases = dict.fromkeys([default, *(rule.target for rule in rules)])
    return min(
        (prices[alias] for alias in aliases),
        key=lambda price: worst_case_of(
            price=price, prompt_tokens=request.prompt_tokens, max_tokens=max_tokens
        ),
    )


def _without_repeats(candidates: list[Candidate]) -> list[Candidate]:
    seen, kept = set(), []
    for candidate in candidates:
        key = (candidate.alias, candidate.max_tokens)
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept
