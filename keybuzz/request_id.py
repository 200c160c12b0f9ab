"""Every request carries a request id: the caller's `X-Request-Id` when sane, else a new one."""

import re
import uuid

from .structured_logging import log_context

# Echoed back in a header and written to ai_usage: keep it short and printable.
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from_header(value: str | None) -> str:
    if value and _ACCEPTABLE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from_header(request.headers.get("X-Request-Id"))
        with log_context(request_id=request.request_id):  # every log line of this request
            response = self.get_response(request)
        # Unless the view answers for an earlier request (an idempotent replay) and says so.
        response.setdefault("X-Request-Id", request.request_id)
        return response
