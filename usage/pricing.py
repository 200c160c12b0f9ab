"""What a call costs, in Decimal USD rounded half-up to the micro-dollar (CONTRACT §2)."""

from decimal import ROUND_HALF_UP, Decimal

from tenants.models import ModelPrice

MICRO_USD = Decimal("0.000001")
MICROS_PER_USD = 1_000_000
TOKENS_PER_PRICE_UNIT = Decimal(1_000_000)


def cost_usd(*, price: ModelPrice, prompt_tokens: int, completion_tokens: int) -> Decimal:
    raw = (
        prompt_tokens * price.input_usd_per_million
        + completion_tokens * price.output_usd_per_million
    ) / TOKENS_PER_PRICE_UNIT
    return raw.quantize(MICRO_USD, rounding=ROUND_HALF_UP)


def to_micros(usd: Decimal) -> int:
    """USD as integer micro-dollars, the unit of the budget counters (rounded half-up)."""
    return int(usd.quantize(MICRO_USD, rounding=ROUND_HALF_UP) / MICRO_USD)


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) * MICRO_USD).quantize(MICRO_USD)
