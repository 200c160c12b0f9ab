"""THE budget rule (CONTRACT §5), and the worst case every admission is checked against.

A request of worst-case cost x is admitted only if spent + reserved + x ≤ budget + granted,
where `budget` is the tenant's daily budget and `granted` the day's top-ups. `budget_admits`
is the only place that comparison is written: BudgetState.admits calls it on integers, and the
ledger's one admission statement (usage.budget.admission) is built by calling it on column
names, so the reads and the atomic write can never disagree.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenants.models import ModelPrice, Tenant
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


def worst_case_cost(*, price: ModelPrice, messages: Sequence[dict[str, str]]) -> Decimal:
    """An upper bound of what sending `messages` (as sent upstream, system prompt included)
    can cost at `price`."""
    return cost_usd(
        price=price,
        prompt_tokens=prompt_tokens_upper_bound(messages),
        completion_tokens=settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
    )


def minimal_call_cost(*, price: ModelPrice) -> Decimal:
    """The worst case of the smallest request at `price`: a budget below it admits nothing."""
    messages = minimal_request_messages()
    if not messages:
        raise ImproperlyConfigured("No minimal request defined: is the 'ai' app installed?")
    return worst_case_cost(price=price, messages=messages)


def minimal_call_micros(*, price: ModelPrice) -> int:
    """minimal_call_cost in micro-dollars, computed once per price (its values and the
    output limit are in the cache key, so a price change is seen at once)."""
    return _minimal_micros(
        price.alias,
        price.input_usd_per_million,
        price.output_usd_per_million,
        settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
    )


@lru_cache(maxsize=256)
def _minimal_micros(alias: str, input_usd: Decimal, output_usd: Decimal, _max_tokens: int) -> int:
    price = ModelPrice(
        alias=alias, input_usd_per_million=input_usd, output_usd_per_million=output_usd
    )
    return to_micros(minimal_call_cost(price=price))


minimal_request_on_change(_minimal_micros.cache_clear)
