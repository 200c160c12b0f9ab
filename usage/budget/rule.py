"""THE budget rule (CONTRACT §5), and the worst case every admission is checked against.

A request of worst-case cost x is admitted only if spent + reserved + x ≤ budget + granted,
where `budget` is the tenant's daily budget and `granted` the day's top-ups. `budget_admits`
is the only place that comparison is written: BudgetState.admits calls it on integers, and the
ledger's one admission statement (usage.budget.admission) is built by calling it on column
names, so the reads and the atomic write can never disagree.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenants.models import ModelPrice, Plan, Tenant
from tenants.route_tables import RouteRule
from usage.minimal_request import minimal_request_messages, minimal_request_on_change
from usage.pricing import cost_usd, from_micros, to_micros

# Byte-level BPE tokenizers (OpenAI's, Anthropic's) never emit more tokens than UTF-8 bytes,
# so bytes bound a text's tokens. The allowances bound what the chat format adds around them.
TOKENS_PER_MESSAGE_ALLOWANCE = 16  # role markers and separators
TOKENS_PER_REQUEST_ALLOWANCE = 256  # priming, provider-side framing such as JSON mode


def budget_admits(*, spent, reserved, amount, budget, granted):
    """Whether `amount` fits the day: spent + reserved + amount ≤ budget + granted.

    On integers (micro-dollars) it answers True or False. On `SqlTerm`s it returns the same
    comparison as SQL text, which is how the admission statement gets its WHERE clause.
    """
    return spent + reserved + amount <= budget + granted


class SqlTerm(str):
    """A piece of SQL that `+` and `<=` combine into SQL: lets budget_admits write the
    admission statement's condition, so the rule exists once."""

    def __add__(self, other) -> "SqlTerm":
        return SqlTerm(f"{self} + {other}")

    def __le__(self, other) -> "SqlTerm":  # type: ignore[override]
        return SqlTerm(f"{self} <= {other}")


@dataclass(frozen=True)
class BudgetState:
    """A tenant-day's budget as it stands: the daily budget, the day's top-ups, what is spent
    and what calls in flight hold, all in micro-dollars."""

    budget_micros: int
    spent_micros: int = 0
    reserved_micros: int = 0
    granted_micros: int = 0

    @classmethod
    def of(cls, tenant: Tenant, spent: int = 0, reserved: int = 0, granted: int = 0):
        return cls(to_micros(tenant.daily_budget), spent, reserved, granted)

    def admits(self, amount_micros: int) -> bool:
        return budget_admits(
            spent=self.spent_micros,
            reserved=self.reserved_micros,
            amount=amount_micros,
            budget=self.budget_micros,
            granted=self.granted_micros,
        )

    @property
    def daily_micros(self) -> int:
        """The day's budget: the tenant's daily budget plus the day's top-ups."""
        return self.budget_micros + self.granted_micros

    @property
    def daily(self) -> Decimal:
        return from_micros(self.daily_micros)

    @property
    def used(self) -> Decimal:
        return from_micros(self.spent_micros)

    @property
    def reserved(self) -> Decimal:
        return from_micros(self.reserved_micros)

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.daily - self.used)

    @property
    def granted(self) -> Decimal:
        return from_micros(self.granted_micros)

    @property
    def room_micros(self) -> int:
        """What is left to admit: budget + top-ups - spent - reserved (never below 0)."""
        return max(0, self.daily_micros - self.spent_micros - self.reserved_micros)

    @property
    def left_percent(self) -> Decimal:
        """room ÷ (budget + top-ups) * 100; 0 for a day with no budget at all."""
        if self.daily_micros <= 0:
            return Decimal(0)
        return Decimal(self.room_micros) * 100 / Decimal(self.daily_micros)


def budget_reached_from(*, daily_micros: int, minimal_micros: int) -> int:
    """The least spend (nothing reserved) at which a minimal request is no longer admitted:
    where the budget counts as reached (CONTRACT §5), for alerts and red bars."""
    # budget_admits(spent=s, reserved=0, amount=minimal, budget=daily, granted=0) holds up to
    # s = daily - minimal and for no spend above it.
    return daily_micros - minimal_micros + 1


# --- the worst case --------------------------------------------------------------------------


def prompt_tokens_upper_bound(messages: Sequence[dict[str, str]]) -> int:
    return TOKENS_PER_REQUEST_ALLOWANCE + sum(
        len(message["content"].encode()) + TOKENS_PER_MESSAGE_ALLOWANCE for message in messages
    )


def worst_case_cost(
    *, price: ModelPrice, messages: Sequence[dict[str, str]], max_tokens: int | None = None
) -> Decimal:
    """An upper bound of what sending `messages` (as sent upstream, system prompt included)
    with `max_tokens` (AI_MAX_OUTPUT_TOKENS by default) can cost at `price`."""
    return worst_case_of(
        price=price,
        prompt_tokens=prompt_tokens_upper_bound(messages),
        max_tokens=max_tokens or settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
    )


def worst_case_of(*, price: ModelPrice, prompt_tokens: int, max_tokens: int) -> Decimal:
    """The worst case of a request whose prompt is bounded by `prompt_tokens`."""
    return cost_usd(price=price, prompt_tokens=prompt_tokens, completion_tokens=max_tokens)


def max_tokens_that_fit(
    *, price: ModelPrice, prompt_tokens: int, room_micros: int, ceiling: int
) -> int:
    """The largest `max_tokens` (at most `ceiling`) whose worst case fits in `room_micros`;
    0 when not even one output token does."""
    output = price.output_usd_per_million  # USD per 1M tokens: micro-dollars per token

    def fits(tokens: int) -> bool:
        cost = to_micros(worst_case_of(price=price, prompt_tokens=prompt_tokens, max_tokens=tokens))
        return budget_admits(spent=0, reserved=0, amount=cost, budget=room_micros, granted=0)

    if fits(ceiling):
        return ceiling
    if not output:
        return 0  # free output: only the prompt counts, and it does not fit
    guess = int((room_micros - prompt_tokens * price.input_usd_per_million) / output)
    guess = max(0, min(ceiling, guess))
    while guess and not fits(guess):  # rounding may leave the guess one or two above
        guess -= 1
    while guess < ceiling and fits(guess + 1):
        guess += 1
    return guess


def minimal_call_cost(*, price: ModelPrice) -> Decimal:
    """The worst case of the smallest request at `price`, sent with AI_MIN_OUTPUT_TOKENS (the
    least that fitting to the budget lowers max_tokens to, CONTRACT §8): a budget below it
    admits nothing."""
    messages = minimal_request_messages()
    if not messages:
        raise ImproperlyConfigured("No minimal request defined: is the 'ai' app installed?")
    return worst_case_cost(
        price=price, messages=messages, max_tokens=settings.KEYBUZZ["AI_MIN_OUTPUT_TOKENS"]
    )


def minimal_call_micros(*, price: ModelPrice) -> int:
    """minimal_call_cost in micro-dollars, computed once per price (its values and the
    output limit are in the cache key, so a price change is seen at once)."""
    return _minimal_micros(
        price.alias,
        price.input_usd_per_million,
        price.output_usd_per_million,
        settings.KEYBUZZ["AI_MIN_OUTPUT_TOKENS"],
    )


@lru_cache(maxsize=256)
def _minimal_micros(alias: str, input_usd: Decimal, output_usd: Decimal, _max_tokens: int) -> int:
    price = ModelPrice(
        alias=alias, input_usd_per_million=input_usd, output_usd_per_million=output_usd
    )
    return to_micros(minimal_call_cost(price=price))


minimal_request_on_change(_minimal_micros.cache_clear)


def plan_aliases(plan: Plan, rules: Sequence[RouteRule] | None = None) -> list[str]:
    """The aliases a plan's calls may use: its default model, then its route table's targets
    (`rules`: the table already parsed, if the caller has it)."""
    rules = plan.route_table if rules is None else rules
    return list(dict.fromkeys([plan.model_id, *(rule.target for rule in rules)]))


def minimal_call_micros_on_plan(*, plan: Plan, prices: Mapping[str, ModelPrice]) -> int:
    """The worst case of the smallest request on the cheapest alias the plan may use (its
    route table can send a call there when the budget runs low, CONTRACT §8): what `allowed`,
    the 100 % alert and "blocked by budget" ask about. `prices` holds the plan's aliases."""
    return cheapest_minimal_call(plan=plan, prices=prices)[1]


def cheapest_minimal_call(*, plan: Plan, prices: Mapping[str, ModelPrice]) -> tuple[str, int]:
    """The cheapest alias the plan may use for a minimal request, and that request's worst
    case there (micro-dollars); the first of the plan's aliases wins a tie."""
    return min(
        ((alias, minimal_call_micros(price=prices[alias]))
         for alias in plan_aliases(plan) if alias in prices),
        key=lambda found: found[1],
    )  # fmt: skip
