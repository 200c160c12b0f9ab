"""keybuzz.bound_serializers: one serializer instance per class answers as a fresh one would,
from any number of threads."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from rest_framework.exceptions import ValidationError

from ai.apis import AssistApi
from ai.client import Completion
from ai.services import AssistResult, Routing
from keybuzz.bound_serializers import represented, validated


def _request(n: int) -> dict:
    return {
        "tenantId": f"tenant-{n}",
        "payload": {"messages": [{"role": "customer", "content": f"message {n}"}]},
    }


def test_validated_equals_a_fresh_serializers_validated_data():
    fresh = AssistApi.InputSerializer(data=_request(1))
    assert fresh.is_valid()
    assert validated(AssistApi.InputSerializer, _request(1)) == fresh.validated_data


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tenantId": 7, "payload": {"messages": []}},
        {"tenantId": "t", "payload": {"messages": [{"role": "robot", "content": ""}]}},
        ["not", "an", "object"],
    ],
)
def test_validated_raises_a_fresh_serializers_errors(body):
    fresh = AssistApi.InputSerializer(data=body)
    assert not fresh.is_valid()
    with pytest.raises(ValidationError) as raised:
        validated(AssistApi.InputSerializer, body)
    assert raised.value.detail == fresh.errors


def test_represented_equals_a_fresh_serializers_data():
    result = AssistResult(
        Completion(["a", "b"], ["why a", "why b"], "high", 198, 133),
        "litellm", "kbz-standard", Decimal("0.002589"), "req-1",
        Routing("kbz-standard", "default", None, 1024),
    )  # fmt: skip
    assert (
        represented(AssistApi.OutputSerializer, result) == AssistApi.OutputSerializer(result).data
    )


def test_one_instance_serves_concurrent_threads_their_own_data():
    def check(n: int) -> bool:
        return validated(AssistApi.InputSerializer, _request(n))["tenantId"] == f"tenant-{n}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(check, range(2000)))
