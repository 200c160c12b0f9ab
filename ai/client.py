"""The only module that talks HTTP to LiteLLM (CONTRACT §4): one call, one typed answer or error.

Everything that can go wrong on the wire ends as an `UpstreamError` subclass, so the caller maps
outcomes to 502/504 and ai_usage rows without knowing anything about requests or sockets.
"""

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass

import requests
import requests.adapters
import urllib3
from django.conf import settings

from ai.exceptions import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)

logger = logging.getLogger("ai.client")

# A chat completion is a few KiB; anything past this is a broken or hostile upstream.
MAX_BODY_BYTES = 1024 * 1024
_READ_CHUNK_BYTES = 64 * 1024
_CONFIDENCE_LEVELS = ("low", "medium", "high")
_JSON_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)

_pool: requests.adapters.HTTPAdapter | None = None
_pool_lock = threading.Lock()


@dataclass(frozen=True)
class Completion:
    suggestions: list[str]
    explanations: list[str]
    confidence: str  # "low" | "medium" | "high"
    prompt_tokens: int
    completion_tokens: int
    upstream_model: str = ""  # the model LiteLLM says answered (its `model` field)


def litellm_complete(
    *,
    model: str,
    messages: list[dict[str, str]],
    tenant_id: str,
    request_id: str,
    max_tokens: int | None = None,
) -> Completion:
    """Ask LiteLLM for reply suggestions, or raise an `UpstreamError` subclass.

    LITELLM_TIMEOUT_SECONDS bounds the whole call, body included: an upstream that answers
    slowly or drips its body must not hold the worker (and the tenant's reservation) past it.
    """
    config = settings.KEYBUZZ
    deadline = time.monotonic() + float(config["LITELLM_TIMEOUT_SECONDS"])
    headers = {
        "Authorization": f"Bearer {config['LITELLM_MASTER_KEY']}",
        "X-Tenant-Id": tenant_id,
        "X-Request-Id": request_id,
    }
    payload = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens or config["AI_MAX_OUTPUT_TOKENS"],
        "response_format": {"type": "json_object"},
    }
    status = None
    try:
        url = f"{config['LITELLM_BASE_URL'].rstrip('/')}/v1/chat/completions"
        with _send(url=url, headers=headers, payload=payload, deadline=deadline) as response:
            status = response.status_code
            _raise_for_status(status)
            body = _read_body(response, deadline=deadline)
        return _completion_from(body)
    except UpstreamError as exc:
        # Kind, status and ids only: the key and the conversation never reach the logs.
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "-"
        logger.warning(
            "LiteLLM call failed: %s (status=%s, cause=%s) tenant=%s request=%s",
            exc.error_code, status, cause, tenant_id, request_id,
        )  # fmt: skip
        raise


def _pool_get() -> requests.adapters.HTTPAdapter:
    """The process's one connection pool to LiteLLM, made on first use so no fork ever shares
    its sockets.

    Calls go to it directly, not through a requests Session: no cookie jar, no proxy from the
    environment and no ~/.netrc entry can touch the call, and the Session's per-call merging
    of settings is skipped (0.56 -> 0.44 ms of CPU per call, docs/PERFORMANCE.md).
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = requests.adapters.HTTPAdapter()
        return _pool


def _pool_forget() -> None:
    """In a forked child, drop the parent's pool (and a lock another thread may have held)."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_pool_forget)


def _seconds_left(deadline: float) -> float:
    """What is left of the deadline; running out is a timeout wherever it happens."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise UpstreamTimeout()
    return left


def _send(*, url: str, headers: dict, payload: dict, deadline: float) -> requests.Response:
    """POST and wait for the status line and headers; the body is left on the socket.

    urllib3's `total` timeout bounds connect + headers by what is left of the deadline.
    Redirects are not followed (the pool never follows them): the master key goes to
    LITELLM_BASE_URL and nowhere else.
    """
    timeout = urllib3.util.Timeout(total=_seconds_left(deadline))
    try:
        request = requests.Request("POST", url, headers=headers, json=payload).prepare()
        return _pool_get().send(request, stream=True, timeout=timeout)
    except requests.Timeout as exc:
        raise UpstreamTimeout() from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamUnavailable() from exc


def _raise_for_status(status: int) -> None:
    """429 is worth telling apart (back off); LiteLLM reports its own timeout as 408 (and a
    gateway in front of it would say 504): those are timeouts. Any other non-2xx is generic."""
    if status == 429:
        raise UpstreamRateLimited()
    if status in (408, 504):
        raise UpstreamTimeout()
    if not 200 <= status < 300:
        raise UpstreamError()


def _read_body(response: requests.Response, *, deadline: float) -> bytes:
    """Read the body chunk by chunk, every wait bounded by what is left of the deadline.

    A per-read timeout alone lets an upstream that drips a byte a second hold the call forever:
    the socket timeout is re-armed before each read and the clock checked between reads.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise UpstreamBadResponse()
    body = bytearray()
    try:
        while chunk := _read_chunk(response.raw, seconds=_seconds_left(deadline)):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise UpstreamBadResponse()
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
        raise UpstreamTimeout() from exc
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
        raise UpstreamBadResponse() from exc  # cut short: truncated, reset mid-body
    return bytes(body)


def _read_chunk(raw: urllib3.HTTPResponse, *, seconds: float) -> bytes:
    """Whatever is available (at most one chunk), waiting no longer than `seconds`."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:  # None once the body is complete, and under test doubles
        sock.settimeout(seconds)
    return raw.read1(_READ_CHUNK_BYTES, decode_content=True) or b""


def _completion_from(body: bytes) -> Completion:
    """Check the OpenAI envelope strictly (tokens are money); read the model's text tolerantly."""
    try:
        envelope = json.loads(body)
        content = envelope["choices"][0]["message"]["content"]
        tokens = (envelope["usage"]["prompt_tokens"], envelope["usage"]["completion_tokens"])
    except (ValueError, RecursionError, LookupError, TypeError) as exc:
        raise UpstreamBadResponse() from exc
    if not isinstance(content, str) or not content.strip():
        raise UpstreamBadResponse()
    if not all(type(count) is int and count >= 0 for count in tokens):
        raise UpstreamBadResponse()
    suggestions, explanations, confidence = _suggestions_from(content)
    answered_by = envelope.get("model") if isinstance(envelope, dict) else None
    upstream_model = answered_by[:200] if isinstance(answered_by, str) else ""
    return Completion(suggestions, explanations, confidence, *tokens, upstream_model)


def _suggestions_from(content: str) -> tuple[list[str], list[str], str]:
    """The model was asked for JSON but may fence it or answer in prose; prose is one suggestion."""
    text = content.strip()
    fenced = _JSON_FENCE.match(text)
    try:
        answer = json.loads(fenced.group(1) if fenced else text)
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or not _is_list_of_strings(answer.get("suggestions")):
        return [text], [], "low"
    explanations = answer.get("explanations")
    level = answer.get("confidenceLevel")
    level = level.strip().lower() if isinstance(level, str) else None
    return (
        answer["suggestions"],
        explanations if _is_list_of_strings(explanations) else [],
        level if level in _CONFIDENCE_LEVELS else "medium",
    )


def _is_list_of_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
