"""Liveness and readiness probes for load balancers and orchestrators."""

import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
def healthz(request):
    """The process is up and serving; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """Ready when the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("Readiness check failed: %s", exc)
        return JsonResponse(
            {"status": "unavailable", "message": "The database is unreachable."}, status=503
        )
    return JsonResponse({"status": "ready"})
