"""Serializers of the hot endpoints, built once per process instead of once per request.

Instantiating a DRF serializer deep-copies its declared fields, nested serializers included:
about 0.35 ms of CPU per POST /ai/assist for its input and output (docs/PERFORMANCE.md), as
much as its token, tenant and kill-switch reads together. `run_validation` and
`to_representation` keep nothing on the serializer (`is_valid` and `.data` do), so one
instance per class, its fields bound up front, serves every thread of a worker.
"""

import threading
from functools import cache

from rest_framework import serializers

_building = threading.Lock()


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """`serializer_class(data=data)`'s validated data, or its ValidationError (same detail)."""
    return _bound(serializer_class).run_validation(data)


def represented(serializer_class: type[serializers.Serializer], instance) -> dict:
    """`serializer_class(instance).data`, as a plain dict."""
    return _bound(serializer_class).to_representation(instance)


@cache
def _bound(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    with _building:
        serializer = serializer_class()
        _bind_fields(serializer)
        return serializer


def _bind_fields(serializer: serializers.Serializer) -> None:
    """Bind every nested field now: `fields` is computed on first use, and a first use by two
    threads at once must not race."""
    for field in serializer.fields.values():
        if isinstance(field, serializers.ListSerializer):
            field = field.child
        if isinstance(field, serializers.Serializer):
            _bind_fields(field)
