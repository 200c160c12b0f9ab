"""Structured logs: one JSON object per line, each carrying the request and tenant it is about.

The request id middleware opens a log context per request and the tenant-access check adds the
tenant to it; `LogContextFilter` copies both onto every record the console handler emits, so a
`logger.warning(...)` anywhere below a view is traceable without passing ids around.

What is logged is the message and the ids, never the request body: prompts, conversation
contents, credentials and the LiteLLM master key stay out of log calls by convention (see
ai/client.py), and the formatters add nothing from the request.

No Django import here: the formatters stay usable by gunicorn's own logging configuration.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

CONTEXT_FIELDS = ("request_id", "tenant_id")

# The fields of the request being served; None outside a request. Each value is a fresh dict,
# never mutated, and the middleware resets the variable when the request ends, so one request's
# ids never leak into the next request that the same worker thread serves.
_log_context: ContextVar[dict[str, str] | None] = ContextVar("keybuzz_log_context", default=None)


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Open a log context for the duration of the block (a request, a command's unit of work)."""
    token = _log_context.set({name: value for name, value in fields.items() if value})
    try:
        yield
    finally:
        _log_context.reset(token)


def log_context_set(**fields: str) -> None:
    """Add fields (tenant_id once the tenant is known) to the open log context.

    Outside one (a test or a command calling a service directly) it does nothing, so nothing
    can stick to the records of unrelated later work.
    """
    context = _log_context.get()
    if context is not None:
        _log_context.set({**context, **{name: value for name, value in fields.items() if value}})


def log_context_get() -> dict[str, str]:
    return dict(_log_context.get() or {})


class LogContextFilter(logging.Filter):
    """Puts the current request id and tenant id on every record (explicit `extra` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _log_context.get() or {}
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, context.get(name))
        if record.request_id is None:
            # django.request logs 4xx/5xx after the middleware chain has returned, outside the
            # context, but it passes the request along.
            record.request_id = getattr(getattr(record, "request", None), "request_id", None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids when known, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # json.dumps escapes newlines, so a traceback stays on its one line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for a developer's terminal (LOG_FORMAT=text), ids appended when known."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%"):
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s", datefmt, style)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = " ".join(
            f"{name}={value}"
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, None)) is not None
        )
        return f"{line} [{context}]" if context else line
