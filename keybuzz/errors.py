"""The one place where errors become responses.

Code anywhere raises an `ApiError` subclass (a status, a code, a message, optional extra body
fields). `api_exception_handler` renders those and DRF's own exceptions for API views;
`ErrorsMiddleware` does the same for everything outside DRF on API paths (unknown routes,
wrong methods on plain views, crashes), so an API client never sees an HTML page or a traceback;
on the server-rendered pages it renders the same errors as an HTML page (templates/error.html).
"""

import logging

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext
from rest_framework import exceptions as drf
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import set_rollback

logger = logging.getLogger("keybuzz.errors")

# The server-rendered pages of the contract (§7); every other path is an API path.
PAGE_PREFIXES = ("/staff/", "/accounts/", "/usage/", "/i18n/", "/api/docs/", "/static/")


class ApiError(Exception):
    """An error with a contract code; raised anywhere, rendered here."""

    status_code = 500
    code = "internal_error"
    message = "Internal server error."

    def __init__(self, message: str | None = None, *, extra: dict | None = None, headers=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.extra = extra or {}
        self.headers = headers or {}


class InvalidRequest(ApiError):
    status_code = 400
    code = "invalid_request"
    message = "The request is invalid."

    def __init__(self, message: str | None = None, *, errors: dict | None = None, headers=None):
        super().__init__(message, extra={"errors": errors} if errors else None, headers=headers)


class Unauthenticated(ApiError):
    status_code = 401
    code = "unauthenticated"
    message = "Authentication credentials were missing or invalid."


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"
    message = "You do not have access to this resource."


class NotFound(ApiError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class MethodNotAllowed(ApiError):
    status_code = 405
    code = "method_not_allowed"
    message = "Method not allowed."


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large."


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests."


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "unavailable"
    message = "The service is temporarily unavailable."


def is_api_path(path: str) -> bool:
    return not path.startswith(PAGE_PREFIXES)


def error_response(error: ApiError, *, request=None) -> JsonResponse:
    body = {"status": error.code, "message": error.message, **error.extra}
    request_id = getattr(request, "request_id", None)
    if request_id:
        body.setdefault("requestId", request_id)
    response = JsonResponse(body, status=error.status_code, encoder=JSONEncoder)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"payload.messages.0.role": ["..."]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(_flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, list) and detail and all(isinstance(d, (dict, list)) for d in detail):
        flat = {}
        for index, value in enumerate(detail):
            if value:
                flat.update(_flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


def _api_error_for(exc: Exception) -> ApiError | None:
    """The contract error for a known exception; None for an unexpected one."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable (or gave up a transaction): transient, retry later.
        # Transactions roll back whole, so nothing is half-written.
        logger.warning("Database unavailable: %s", exc.__class__.__name__)
        return ServiceUnavailable(headers={"Retry-After": "5"})
    if isinstance(exc, drf.ValidationError):
        return InvalidRequest(errors=_flatten_errors(exc.detail))
    if isinstance(exc, drf.ParseError):
        return InvalidRequest(f"The request body could not be parsed: {exc.detail}")
    if isinstance(exc, drf.UnsupportedMediaType):
        return InvalidRequest("Unsupported media type: send application/json.")
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        auth_header = getattr(exc, "auth_header", None)
        return Unauthenticated(
            str(exc.detail), headers={"WWW-Authenticate": auth_header} if auth_header else None
        )
    if isinstance(exc, (drf.PermissionDenied, PermissionDenied)):
        return Forbidden(str(getattr(exc, "detail", "")) or None)
    if isinstance(exc, (drf.NotFound, Http404)):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.Throttled):
        headers = {"Retry-After": str(exc.wait)} if exc.wait is not None else None
        return RateLimited(headers=headers)
    if isinstance(exc, RequestDataTooBig):  # before its parent class, SuspiciousOperation
        return PayloadTooLarge()
    if isinstance(exc, (BadRequest, SuspiciousOperation)):
        return InvalidRequest()
    if isinstance(exc, drf.APIException):
        error = ApiError(str(exc.detail))
        error.status_code, error.code = exc.status_code, exc.default_code
        return error
    return None


def _unexpected(exc: Exception, request) -> ApiError:
    logger.error(
        "Unhandled error on %s %s (request id %s)",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        getattr(request, "request_id", "-"),
        exc_info=exc,
    )
    return ApiError()


def api_exception_handler(exc: Exception, context: dict):
    """DRF's EXCEPTION_HANDLER: every exception raised in an API view ends here."""
    request = context.get("request")
    set_rollback()
    error = _api_error_for(exc) or _unexpected(exc, request)
    return error_response(error, request=request)


# Statuses that Django itself produces outside DRF, as contract errors.
_ERROR_FOR_STATUS = {
    400: InvalidRequest,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


# Headers of the original response that still mean something on its JSON replacement.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ErrorsMiddleware:
    """API paths answer errors as JSON whatever produced them (routing, plain views, crashes);
    a page that raises an ApiError (e.g. the usage page's tenant check) shows it as HTML."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            error = _ERROR_FOR_STATUS.get(response.status_code, ApiError)(
                headers={name: response[name] for name in _KEPT_HEADERS if name in response}
            )
            error.status_code = response.status_code  # e.g. a 502 from elsewhere stays a 502
            return error_response(error, request=request)
        return response

    def process_exception(self, request, exc):
        if not is_api_path(request.path):
            return error_page(exc, request=request) if isinstance(exc, ApiError) else None
        return error_response(_api_error_for(exc) or _unexpected(exc, request), request=request)


def error_page(error: ApiError, *, request) -> HttpResponse:
    """An ApiError as the page a person reads, in their language."""
    context = {"message": gettext(error.message), "status_code": error.status_code}
    return render(request, "error.html", context, status=error.status_code)
