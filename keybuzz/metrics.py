"""Prometheus metrics (CONTRACT §7): AI spend and LiteLLM latency, all workers added up.

Under gunicorn, gunicorn.conf.py gives every master start a fresh PROMETHEUS_MULTIPROC_DIR
before the workers fork: each worker's counters then live in files there, and a scrape served
by any worker reads them all. Without it (runserver, tests in-process) the process's own
registry is served.

The usage counters move only in usage.services, after the transaction that writes the ai_usage
rows commits, once per row: they count exactly what the table holds (for the rows this
deployment's web processes wrote). The reservations gauge is read from the database at scrape
time, so it is right whichever process holds a reservation.
"""

import hmac
import logging
import os
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from ai.models import Reservation

from .errors import Unauthenticated, error_response

if TYPE_CHECKING:
    from usage.services import UsageEntry

logger = logging.getLogger(__name__)

# prometheus-client picks in-memory or file-backed values when it is first imported, from this
# variable; the view must read the same way the values are written.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# `_created` series exist only in single-process mode; without them both modes expose the same.
disable_created_metrics()

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
UPSTREAM_DURATION = Histogram(
    "keybuzz_upstream_request_duration_seconds",
    "Duration of LiteLLM calls; outcome is success or the upstream error code.",
    ["model", "outcome"],
    # LLM calls take seconds, not milliseconds; 60 s is twice the default deadline (30 s).
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60),
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


@require_GET
def metrics_view(request):
    """GET /metrics in Prometheus text format; Bearer METRICS_TOKEN when one is configured."""
    expected = settings.KEYBUZZ["METRICS_TOKEN"]
    if expected and not _bearer_matches(request.headers.get("Authorization", ""), expected):
        error = Unauthenticated(headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return error_response(error, request=request)
    registry = CollectorRegistry()
    if MULTIPROCESS:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(ReservationsInFlight())
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response


def _bearer_matches(header: str, expected: str) -> bool:
    scheme, _, token = header.partition(" ")
    # Compared in constant time, as bytes: a non-ASCII header must not raise.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    )


def usage_rows_count_on_commit(entries: Sequence["UsageEntry"]) -> None:
    """Count these ai_usage rows once the transaction writing them commits; never if it rolls
    back. Called inside that transaction by the one recording path (usage.services)."""
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


@contextmanager
def upstream_call_timed(*, model: str) -> Iterator[None]:
    """Observe the duration of the LiteLLM call in the block, by its outcome."""
    started = time.perf_counter()
    outcome = "internal_error"
    try:
        yield
        outcome = "success"
    except Exception as error:
        outcome = getattr(error, "error_code", None) or "internal_error"
        raise
    finally:
        UPSTREAM_DURATION.labels(model, outcome).observe(time.perf_counter() - started)
