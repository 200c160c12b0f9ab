"""The ledger's Prometheus metrics: what ai_usage records, and the reservations in flight.

The usage counters move only after the transaction that writes the ai_usage rows commits,
once per row (usage.recording): they count exactly what the table holds (for the rows this
deployment's processes wrote). The reservations gauge is read from the database at scrape
time, so it is right whichever process holds a reservation (keybuzz.metrics serves both).
"""

import logging
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.db import DatabaseError, transaction
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from .models import Reservation

logger = logging.getLogger(__name__)

AI_REQUESTS = Counter(
    "keybuzz_ai_requests",
    "AI requests recorded in ai_usage (one per row); reason is the row's error_code or none.",
    ["feature", "status", "reason", "plan", "model"],
)
AI_TOKENS = Counter(
    "keybuzz_ai_tokens", "Tokens (prompt + completion) recorded in ai_usage.", ["plan", "model"]
)
AI_COST_USD = Counter(
    "keybuzz_ai_cost_usd", "Estimated cost in USD recorded in ai_usage.", ["plan", "model"]
)


class ReservationsInFlight:
    """keybuzz_ai_reservations_in_flight: Reservation rows now, one COUNT at scrape time."""

    name = "keybuzz_ai_reservations_in_flight"
    documentation = "Budget reservations held by AI calls in flight (or not yet closed)."

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation)]

    def collect(self) -> list[GaugeMetricFamily]:
        try:
            count = Reservation.objects.count()
        except DatabaseError as exc:
            # Leave the gauge out rather than fail the scrape: the other metrics stay visible
            # and `absent(...)` can alert on it.
            logger.warning("Metrics: the reservations gauge could not read the database: %s", exc)
            return []
        return [GaugeMetricFamily(self.name, self.documentation, value=count)]


def usage_rows_count_on_commit(entries: Sequence) -> None:
    """Count these ai_usage rows once the transaction writing them commits; never if it rolls
    back. Called inside that transaction by the one recording path (usage.recording), with
    its UsageEntry items."""
    requests: Tally[tuple[str, ...]] = Tally()
    tokens: Tally[tuple[str, str]] = Tally()
    cost: dict[tuple[str, str], Decimal] = {}
    for entry in entries:
        plan_model = (entry.tenant.plan_id, entry.model)
        requests[entry.feature, entry.status, entry.error_code or "none", *plan_model] += 1
        tokens[plan_model] += entry.prompt_tokens + entry.completion_tokens
        cost[plan_model] = cost.get(plan_model, Decimal(0)) + entry.cost_usd
    transaction.on_commit(_counters_add(requests, tokens, cost), robust=True)


def _counters_add(requests: Tally, tokens: Tally, cost: dict) -> Callable[[], None]:
    def add() -> None:
        for labels, count in requests.items():
            AI_REQUESTS.labels(*labels).inc(count)
        for labels, count in tokens.items():
            AI_TOKENS.labels(*labels).inc(count)
        for labels, amount in cost.items():
            AI_COST_USD.labels(*labels).inc(float(amount))

    return add
