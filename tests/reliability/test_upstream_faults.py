"""LiteLLM failing in every way a socket can, seen through the app under gunicorn (2 workers):
each fault gets the contract's answer in time, one `error` row per request, and holds nothing."""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests

from tests.fakes.upstream import FakeUpstream
from usage.models import AIUsage, BudgetCounter, Reservation

from .conftest import (
    CLIENT_TIMEOUT,
    UPSTREAM_TIMEOUT_SECONDS,
    assist_body,
    litellm_env,
    openapi_document,
    schema_problems,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CONCURRENT = 3  # more than the workers: both serve a faulty call, and one request queues
# A client without a total deadline would wait for the fake to give up (60 s): far above this.
ANSWER_WITHIN_SECONDS = CONCURRENT * UPSTREAM_TIMEOUT_SECONDS + 4


@dataclass(frozen=True)
class Fault:
    name: str
    status: int
    error_code: str
    behaviour: str = "ok"
    fake: dict = field(default_factory=dict)  # FakeUpstream attributes
    unreachable: bool = False

    def apply(self, upstream: FakeUpstream) -> None:
        upstream.behaviour = self.behaviour
        for name, value in self.fake.items():
            setattr(upstream, name, value)


FAULTS = [
    Fault("hang", 504, "upstream_timeout", "hang"),
    Fault("slow-headers", 504, "upstream_timeout", "ok", {"delay": 30.0}),
    Fault("slow-drip-body", 504, "upstream_timeout", "drip", {"drip_interval": 0.1}),
    Fault("connection-reset", 502, "upstream_unavailable", "reset"),
    Fault("nothing-listening", 502, "upstream_unavailable", unreachable=True),
    Fault("status-500", 502, "upstream_error", "status", {"status": 500}),
    Fault("status-503", 502, "upstream_error", "status", {"status": 503}),
    Fault("status-429", 502, "upstream_rate_limited", "status", {"status": 429}),
    Fault("status-408-litellm-timeout", 504, "upstream_timeout", "status", {"status": 408}),
    Fault("garbage-html", 502, "upstream_bad_response", "garbage"),
    Fault("truncated-body", 502, "upstream_bad_response", "truncated"),
    Fault("huge-body", 502, "upstream_bad_response", "huge"),
    Fault("no-usage-in-answer", 502, "upstream_bad_response", "no_usage"),
]


@dataclass(frozen=True)
class Answer:
    request_id: str
    response: requests.Response
    seconds: float


def _ask_together(url: str, tenant_id: str, headers: dict, request_ids: list[str]) -> list:
    def ask(request_id: str) -> Answer:
        started = time.monotonic()
        response = requests.post(
            f"{url}/ai/assist", json=assist_body(tenant_id),
            headers={**headers, "X-Request-Id": request_id}, timeout=CLIENT_TIMEOUT,
        )  # fmt: skip
        return Answer(request_id, response, time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=len(request_ids)) as pool:
        return list(pool.map(ask, request_ids))


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_an_upstream_fault_gets_its_contract_error_one_row_each_and_no_hold(
    fault, app_server, shop, upstream
):
    # given the app on a LiteLLM that fails this way
    fault.apply(upstream)
    base_url = upstream.unreachable_url() if fault.unreachable else upstream.url
    server = app_server(workers=2, env={**litellm_env(upstream), "LITELLM_BASE_URL": base_url})
    document = openapi_document(server.url, shop.agent)

    # when requests arrive together
    request_ids = [f"{fault.name}-{n}" for n in range(CONCURRENT)]
    answers = _ask_together(server.url, shop.tenant_id, shop.agent, request_ids)

    # then each gets the contract's error, as documented JSON, within the deadline
    for answer in answers:
        response = answer.response
        assert response.headers["Content-Type"].startswith("application/json"), response.text
        body = response.json()
        assert (response.status_code, body["status"], body.get("errorCode")) == (
            fault.status, "error", fault.error_code,
        ), body  # fmt: skip
        assert body["requestId"] == response.headers["X-Request-Id"] == answer.request_id
        assert answer.seconds < ANSWER_WITHIN_SECONDS, f"{answer.request_id}: {answer.seconds}s"
        assert schema_problems(document, response, answer.request_id) == []
    # and each request is one `error` row with that code, charged nothing
    rows = AIUsage.objects.filter(tenant_id=shop.tenant_id)
    assert sorted(rows.values_list("request_id", "status", "error_code", "cost_usd_est")) == [
        (request_id, "error", fault.error_code, 0) for request_id in request_ids
    ]
    assert all(row.total_tokens == 0 and row.provider == "litellm" for row in rows)
    # and no reservation is left holding the budget
    assert not Reservation.objects.exists()
    counter = BudgetCounter.objects.get(tenant_id=shop.tenant_id)
    assert (counter.reserved_micros, counter.spent_micros) == (0, 0)


@pytest.mark.parametrize(
    "fault",
    [fault for fault in FAULTS if not fault.unreachable],
    ids=[fault.name for fault in FAULTS if not fault.unreachable],
)
def test_after_an_upstream_fault_the_same_workers_answer_again(fault, app_server, shop, upstream):
    # given both workers just went through the fault (a broken pooled connection, say)
    fault.apply(upstream)
    server = app_server(workers=2, env=litellm_env(upstream))
    failed = _ask_together(
        server.url, shop.tenant_id, shop.agent, [f"{fault.name}-{n}" for n in range(2)]
    )
    assert {answer.response.status_code for answer in failed} == {fault.status}
    workers = set(server.worker_pids())

    # when LiteLLM is healthy again
    upstream.behaviour, upstream.delay = "ok", 0.0
    answers = _ask_together(
        server.url, shop.tenant_id, shop.agent, [f"after-{n}" for n in range(2 * CONCURRENT)]
    )

    # then every call is answered by the same worker processes, each charged once
    assert [answer.response.status_code for answer in answers] == [200] * len(answers)
    assert set(server.worker_pids()) == workers
    assert AIUsage.objects.filter(tenant_id=shop.tenant_id, status="success").count() == len(
        answers
    )
    assert not Reservation.objects.exists()
