"""The pipeline's Prometheus metrics: how long LiteLLM takes to answer, by outcome."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Histogram

UPSTREAM_DURATION = Histogram(
    "keybuzz_upstream_request_duration_seconds",
    "Duration of LiteLLM calls; outcome is success or the upstream error code.",
    ["model", "outcome"],
    # LLM calls take seconds, not milliseconds; 60 s is twice the default deadline (30 s).
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60),
)


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
