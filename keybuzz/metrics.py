"""Prometheus metrics (CONTRACT §7): the /metrics view, all workers added up.

Under gunicorn, gunicorn.conf.py gives every master start a fresh PROMETHEUS_MULTIPROC_DIR
before the workers fork: each worker's counters then live in files there, and a scrape served
by any worker reads them all. Without it (runserver, tests in-process) the process's own
registry is served.

The metrics themselves are defined by the apps that move them (usage.metrics, ai.metrics).
An app whose gauge must be read at scrape time names its collector classes in its AppConfig's
`scrape_collectors` (dotted paths), so this core module imports no app.
"""

import hmac
import os
from functools import cache

from django.apps import apps
from django.conf import settings
from django.http import HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from .errors import Unauthenticated, error_response

# prometheus-client picks in-memory or file-backed values when it is first imported, from this
# variable; the view must read the same way the values are written.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# `_created` series exist only in single-process mode; without them both modes expose the same.
disable_created_metrics()


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
    for collector in _scrape_collectors():
        registry.register(collector())
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response


def _bearer_matches(header: str, expected: str) -> bool:
    scheme, _, token = header.partition(" ")
    # Compared in constant time, as bytes: a non-ASCII header must not raise.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    )


@cache
def _scrape_collectors() -> list[type]:
    return [
        import_string(path)
        for config in apps.get_app_configs()
        for path in getattr(config, "scrape_collectors", ())
    ]
