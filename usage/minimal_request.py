"""What the smallest request sends upstream: one 1-byte message and the system prompt.

The pipeline owns the prompt and defines this at start-up (ai.apps); the ledger's budget rule
bounds its cost: `allowed: false`, the 100 % alert and a red bar all mean that this request
would no longer be admitted (CONTRACT §5). Kept apart from usage.budget, which reads models,
so that an AppConfig can import it before the models are loaded.
"""

from collections.abc import Callable, Sequence

_listeners: list[Callable[[], None]] = []
_messages: list[dict[str, str]] = []


def minimal_request_define(*, messages: Sequence[dict[str, str]]) -> None:
    _messages[:] = [dict(message) for message in messages]
    for listener in _listeners:
        listener()


def minimal_request_messages() -> list[dict[str, str]]:
    return _messages


def minimal_request_on_change(listener: Callable[[], None]) -> None:
    """Call `listener` whenever the definition changes (caches of its cost clear themselves)."""
    _listeners.append(listener)
