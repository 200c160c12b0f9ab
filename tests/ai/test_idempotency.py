"""Idempotency-Key on POST /ai/assist: one run per tenant and key, its 200 replayed to retries."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from unittest import mock

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from ai.apis import AssistApi
from ai.idempotency import idempotency_request_hash, idempotency_run
from ai.models import IdempotencyKey
from tenants.models import Plan
from tests.ai.conftest import COMPLETIONS, answer, post, seed_request
from tests.fakes.upstream import FakeUpstream
from usage.models import AIUsage, BudgetCounter
from usage.retention import usage_purge

pytestmark = pytest.mark.django_db

KEY = "order-4521-reply-1"


def post_with_key(client, body, key=KEY, **headers):
    return post(client, body, HTTP_IDEMPOTENCY_KEY=key, **headers)


def _request_hash(body: dict) -> str:
    """The hash the API computes: of the body as validated (defaults included)."""
    data = AssistApi.InputSerializer(data=body)
    data.is_valid(raise_exception=True)
    return idempotency_request_hash(data.validated_data)


def _hold(tenant, *, key=KEY, body=None, age=timedelta(0), completed=False) -> IdempotencyKey:
    """A key as another request left it: in flight (or completed) since `age` ago."""
    claimed_at = timezone.now() - age
    return IdempotencyKey.objects.create(
        tenant=tenant,
        key=key,
        request_hash=_request_hash(body or seed_request()),
        holder=uuid.uuid4().hex,
        request_id="req-holder",
        claimed_at=claimed_at,
        response_body='{"requestId": "req-holder"}' if completed else "",
        completed_at=claimed_at if completed else None,
    )


@pytest.fixture
def short_wait(settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "AI_IDEMPOTENCY_WAIT_SECONDS": 0.3}


# --- replay ----------------------------------------------------------------------------------


def test_a_retry_replays_the_same_body_and_request_id(agent, litellm):
    # given a first call with a key, answered
    answer(litellm)
    first = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-first")
    # when the client retries with the same key and body, under another request id
    retry = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-retry")
    # then it gets the first answer byte for byte, under the first request id
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content
    assert retry.json()["requestId"] == retry["X-Request-Id"] == "req-first"
    assert retry["Content-Type"] == "application/json"
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first


def test_the_first_answer_is_the_ordinary_answer(agent, litellm):
    answer(litellm)
    response = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-1")
    assert response.json()["usage"] == {"tokens": 331, "costUsd": 0.002589}
    assert response.json()["requestId"] == response["X-Request-Id"] == "req-1"


def test_a_replay_calls_no_upstream_writes_no_row_and_charges_nothing(agent, litellm):
    answer(litellm)
    post_with_key(agent, seed_request())
    spent = BudgetCounter.objects.get().spent_micros
    for _ in range(3):
        assert post_with_key(agent, seed_request()).status_code == 200
    assert len(litellm.calls) == 1
    assert AIUsage.objects.count() == 1
    assert BudgetCounter.objects.get().spent_micros == spent == 2589


def test_the_same_body_in_another_json_layout_is_the_same_request(agent, litellm):
    answer(litellm)
    post_with_key(agent, seed_request())
    reordered = json.dumps(dict(reversed(list(seed_request().items()))), indent=2)
    retry = agent.post(
        "/ai/assist", reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY
    )
    assert retry["Idempotent-Replayed"] == "true"


def test_a_replay_comes_before_the_kill_switches_and_the_rate_limit(agent, litellm):
    # given an answered call, then its tenant switched off and at its rate limit
    Plan.objects.filter(pk="pro").update(requests_per_minute=1)
    answer(litellm)
    post_with_key(agent, seed_request())
    call_command("kill_switch", "on", "--tenant", "ecomlg-001", "--reason", "x", stdout=None)
    # when the client retries, then it still gets its stored answer
    assert post_with_key(agent, seed_request()).status_code == 200
    assert AIUsage.objects.count() == 1


def test_a_request_without_a_key_is_never_replayed(agent, litellm):
    answer(litellm)
    post_with_key(agent, seed_request())
    assert "Idempotent-Replayed" not in post(agent, seed_request())
    assert len(litellm.calls) == 2


def test_a_key_costs_two_statements_claim_and_completion(agent, litellm):
    answer(litellm)
    with CaptureQueriesContext(connection) as captured:
        post_with_key(agent, seed_request())
    sql = [q["sql"] for q in captured.captured_queries if "ai_idempotencykey" in q["sql"]]
    assert [s.split()[0] for s in sql] == ["INSERT", "UPDATE"]


# --- mismatch, scope -------------------------------------------------------------------------


def test_the_same_key_with_another_body_is_422_and_runs_nothing(agent, litellm):
    # given an answered call
    answer(litellm)
    post_with_key(agent, seed_request())
    # when the key is reused for another conversation
    other = seed_request(payload={"messages": [{"role": "customer", "content": "Autre chose"}]})
    response = post_with_key(agent, other, HTTP_X_REQUEST_ID="req-other")
    # then 422, and nothing runs or is written
    assert response.status_code == 422
    assert response.json() | {"message": ""} == {
        "status": "idempotency_key_mismatch", "message": "", "requestId": "req-other",
    }  # fmt: skip
    assert len(litellm.calls) == 1
    assert AIUsage.objects.count() == 1


def test_a_key_in_flight_with_another_body_is_422_at_once(agent, litellm, tenant, short_wait):
    other = seed_request(payload={"messages": [{"role": "customer", "content": "Autre chose"}]})
    _hold(tenant, body=other)
    assert post_with_key(agent, seed_request()).status_code == 422


def test_keys_are_per_tenant(agent, litellm, make_tenant, make_user, client_for):
    # given two tenants whose agents use the same key
    answer(litellm)
    other = make_tenant("other-shop", plan="pro")
    other_agent = client_for(make_user("agent@other.test", tenant=other))
    # when each asks, then each gets its own call and row
    first = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-a")
    second = post_with_key(other_agent, seed_request("other-shop"), HTTP_X_REQUEST_ID="req-b")
    assert (first.json()["requestId"], second.json()["requestId"]) == ("req-a", "req-b")
    assert len(litellm.calls) == 2
    assert AIUsage.objects.count() == 2


# --- freed by any outcome but a 200 ----------------------------------------------------------


def test_an_upstream_failure_frees_the_key_so_a_retry_runs_again(agent, litellm):
    # given a first call that failed upstream
    litellm.post(COMPLETIONS, status=500, json={"error": "boom"})
    assert post_with_key(agent, seed_request()).status_code == 502
    assert not IdempotencyKey.objects.exists()
    # when the client retries with the same key, upstream back
    litellm.remove("POST", COMPLETIONS)
    answer(litellm)
    retry = post_with_key(agent, seed_request())
    # then it runs again, and its answer is the one stored
    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry
    assert len(litellm.calls) == 2
    assert sorted(AIUsage.objects.values_list("status", flat=True)) == ["error", "success"]
    assert IdempotencyKey.objects.get().completed_at is not None


def test_a_refusal_frees_the_key(agent, litellm):
    call_command("kill_switch", "on", "--tenant", "ecomlg-001", "--reason", "x", stdout=None)
    assert post_with_key(agent, seed_request()).status_code == 403
    call_command("kill_switch", "off", "--tenant", "ecomlg-001", "--reason", "y", stdout=None)
    answer(litellm)
    assert post_with_key(agent, seed_request()).status_code == 200
    assert len(litellm.calls) == 1


def test_an_unexpected_exception_frees_the_key(agent, litellm):
    with mock.patch("ai.apis.assist_suggest", side_effect=RuntimeError("bug")):
        response = post_with_key(agent, seed_request())
    assert (response.status_code, response.json()["status"]) == (500, "internal_error")
    assert not IdempotencyKey.objects.exists()


# --- in flight -------------------------------------------------------------------------------


def test_a_key_still_in_flight_after_the_wait_is_409_with_retry_after(
    agent, litellm, tenant, short_wait
):
    # given a key held by a request in flight
    _hold(tenant)
    # when a retry comes
    started = time.monotonic()
    response = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-dup")
    # then it waited for the bound, then 409, with no upstream call and no row
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json() | {"message": ""} == {
        "status": "idempotency_in_progress", "message": "", "requestId": "req-dup",
    }  # fmt: skip
    assert len(litellm.calls) == 0
    assert not AIUsage.objects.exists()


def test_a_retry_waiting_gets_the_answer_once_the_first_stores_it(agent, litellm, tenant):
    # given a key in flight, which completes while the retry waits
    held = _hold(tenant)

    def first_completes(_seconds):
        IdempotencyKey.objects.filter(pk=held.pk).update(
            response_body='{"status": "success", "requestId": "req-holder"}',
            completed_at=timezone.now(),
        )

    with mock.patch("ai.idempotency.time.sleep", side_effect=first_completes):
        response = post_with_key(agent, seed_request())
    # then it replays that answer
    assert response.status_code == 200
    assert response.json() == {"status": "success", "requestId": "req-holder"}
    assert response["X-Request-Id"] == "req-holder"
    assert len(litellm.calls) == 0


def test_a_retry_waiting_runs_itself_once_the_first_fails(agent, litellm, tenant):
    held = _hold(tenant)
    answer(litellm)
    with mock.patch(
        "ai.idempotency.time.sleep",
        side_effect=lambda _s: IdempotencyKey.objects.filter(pk=held.pk).delete(),
    ):
        response = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-retry")
    assert (response.status_code, response.json()["requestId"]) == (200, "req-retry")
    assert len(litellm.calls) == 1


def test_the_key_of_a_holder_dead_past_the_ttl_is_taken_over(agent, litellm, tenant, settings):
    # given a key in flight for longer than any call can last: its holder died
    ttl = settings.KEYBUZZ["AI_RESERVATION_TTL_SECONDS"]
    _hold(tenant, age=timedelta(seconds=ttl + 1))
    answer(litellm)
    # when a retry comes, then it runs and its answer is stored
    response = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-new")
    assert response.status_code == 200
    assert len(litellm.calls) == 1
    key = IdempotencyKey.objects.get()
    assert (key.request_id, key.response_body) == ("req-new", response.content.decode())


def test_a_holder_within_the_ttl_is_not_taken_over(agent, litellm, tenant, settings, short_wait):
    ttl = settings.KEYBUZZ["AI_RESERVATION_TTL_SECONDS"]
    _hold(tenant, age=timedelta(seconds=ttl - 5))
    assert post_with_key(agent, seed_request()).status_code == 409


def test_a_holder_that_lost_its_key_cannot_overwrite_the_new_one(agent, litellm, tenant):
    # given a request whose key is taken over while it runs (it was presumed dead)
    answer(litellm)

    def taken_over_meanwhile():
        IdempotencyKey.objects.update(holder="someone-else", request_id="req-new")
        return '{"late": true}'

    body = idempotency_run(
        tenant=tenant, key=KEY, request_hash="h", request_id="req-old", run=taken_over_meanwhile
    ).body
    # then its answer is returned to its own client but not stored over the new holder
    assert body == '{"late": true}'
    key = IdempotencyKey.objects.get()
    assert (key.request_id, key.completed_at) == ("req-new", None)


# --- expiry ----------------------------------------------------------------------------------


def test_a_key_older_than_24_hours_counts_as_absent(agent, litellm):
    answer(litellm)
    with freeze_time("2026-03-10 12:00:00") as clock:
        post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-day-1")
        clock.tick(timedelta(hours=23, minutes=59))
        assert post_with_key(agent, seed_request()).json()["requestId"] == "req-day-1"
        clock.tick(timedelta(minutes=2))
        response = post_with_key(agent, seed_request(), HTTP_X_REQUEST_ID="req-day-2")
    assert (response.status_code, response.json()["requestId"]) == (200, "req-day-2")
    assert len(litellm.calls) == 2


def test_the_purge_deletes_expired_keys_and_keeps_the_others(tenant):
    _hold(tenant, key="old", age=timedelta(hours=24, seconds=1), completed=True)
    _hold(tenant, key="fresh", age=timedelta(hours=23), completed=True)
    usage_purge(before=date(2020, 1, 1))
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


# --- the header ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "clé", "tab\there", "line\nbreak"],
    ids=["empty", "256_chars", "non_ascii", "tab", "newline"],
)
def test_an_invalid_key_is_400_and_writes_nothing(agent, litellm, key):
    response = post_with_key(agent, seed_request(), key=key)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid_request"
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert not AIUsage.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["k" * 255, "a", "order 4521 / reply #1 ~!"])
def test_a_key_of_1_to_255_printable_ascii_characters_is_accepted(agent, litellm, key):
    answer(litellm)
    assert post_with_key(agent, seed_request(), key=key).status_code == 200
    assert IdempotencyKey.objects.get().key == key


# --- across processes ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_10_concurrent_requests_with_one_key_on_4_processes_call_upstream_once(
    app_server, make_tenant, make_user, token_for
):
    # given an upstream that takes a second to answer
    tenant = make_tenant("idem-1", plan="pro")
    auth = {
        "Authorization": f"Bearer {token_for(make_user('agent@idem.test', tenant=tenant))}",
        "Idempotency-Key": "conv-123-reply-1",
    }
    body = {"tenantId": tenant.id, "payload": {"messages": [{"role": "customer", "content": "?"}]}}
    with FakeUpstream() as fake:
        fake.delay = 1.0
        server = app_server(
            workers=4, env={"LITELLM_BASE_URL": fake.url, "LITELLM_MASTER_KEY": "test-key"}
        )

        # when a client sends the same request with the same key 10 times at once
        def ask(_):
            return requests.post(f"{server.url}/ai/assist", json=body, headers=auth, timeout=60)

        with ThreadPoolExecutor(max_workers=10) as pool:
            responses = list(pool.map(ask, range(10)))

    # then one call went upstream and wrote one row; every answer is that call's, or a 409
    assert len(fake.requests) == 1
    assert AIUsage.objects.filter(tenant=tenant).count() == 1
    answered = [r for r in responses if r.status_code == 200]
    assert {r.status_code for r in responses} <= {200, 409}
    assert answered
    assert len({r.content for r in answered}) == 1
    request_id = AIUsage.objects.get(tenant=tenant).request_id
    assert {r.json()["requestId"] for r in answered} == {request_id}
    assert {r.headers["X-Request-Id"] for r in answered} == {request_id}
