"""ai/client.py: the request LiteLLM receives, how answers are read, how failures are typed.

Shapes and parsing use `responses` (no socket); timing and broken connections use FakeUpstream
over real loopback sockets, because only a real socket can drip, hang or reset.
"""

import json
import logging
import time

import pytest
import responses

from ai.client import Completion, litellm_complete
from ai.exceptions import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.fakes.upstream import FakeUpstream, unreachable_url

BASE_URL = "http://litellm.test"
COMPLETIONS_URL = f"{BASE_URL}/v1/chat/completions"
MASTER_KEY = "test-master-key"
MESSAGES = [
    {"role": "system", "content": "You suggest replies for e-commerce support agents."},
    {"role": "user", "content": "Where is my order 4711? It has been ten days."},
]
CALL = {
    "model": "kbz-standard",
    "messages": MESSAGES,
    "tenant_id": "ecomlg-001",
    "request_id": "req-1",
}
ANSWER = {"suggestions": ["It ships today."], "explanations": ["Asks for status."]}


def envelope(content="", *, usage=None, **overrides) -> dict:
    """An OpenAI chat completion carrying `content`."""
    body = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 198, "completion_tokens": 133} if usage is None else usage,
    }
    return {**body, **overrides}


def tokens(prompt_tokens, completion_tokens) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}


def encoded(document) -> bytes:
    return json.dumps(document).encode()


@pytest.fixture
def litellm(settings):
    """LiteLLM mocked at the requests layer, and the settings that point the client at it."""
    settings.KEYBUZZ = {
        **settings.KEYBUZZ,
        "LITELLM_BASE_URL": BASE_URL,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_TIMEOUT_SECONDS": 5.0,
        "AI_MAX_OUTPUT_TOKENS": 321,
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def answering(litellm):
    """Make the mocked LiteLLM answer 200 with a given assistant content."""

    def answer(content, **envelope_fields):
        litellm.post(COMPLETIONS_URL, json=envelope(content, **envelope_fields))

    return answer


@pytest.fixture
def fake(settings):
    """A real-socket fake LiteLLM with a 1 s total deadline."""
    with FakeUpstream() as upstream:
        settings.KEYBUZZ = {
            **settings.KEYBUZZ,
            "LITELLM_TIMEOUT_SECONDS": 1.0,
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "LITELLM_BASE_URL": upstream.url,
        }
        upstream.give_up_after = 5.0  # a client that ignores its deadline fails, not hangs
        yield upstream


def secrets_logged(caplog) -> list[str]:
    """The master key and message texts that appear in any captured log record."""
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    return [s for s in [MASTER_KEY, *(m["content"] for m in MESSAGES)] if s in logged]


def timed_failure(expected: type[Exception]) -> tuple[Exception, float]:
    """Call the client, expecting `expected`; return the error and how long the call took."""
    started = time.monotonic()
    with pytest.raises(expected) as caught:
        litellm_complete(**CALL)
    return caught.value, time.monotonic() - started


# --- the request LiteLLM receives ---------------------------------------------------------------


def test_the_call_posts_to_chat_completions_under_the_base_url(litellm, answering):
    # given LiteLLM answers
    answering(json.dumps(ANSWER))
    # when the client is called
    litellm_complete(**CALL)
    # then it posted to {base}/v1/chat/completions
    assert (litellm.calls[0].request.method, litellm.calls[0].request.url) == (
        "POST",
        COMPLETIONS_URL,
    )


def test_the_master_key_is_sent_as_a_bearer_token(litellm, answering):
    # given LiteLLM answers
    answering(json.dumps(ANSWER))
    # when the client is called
    litellm_complete(**CALL)
    # then the master key authorizes the call
    assert litellm.calls[0].request.headers["Authorization"] == f"Bearer {MASTER_KEY}"


def test_the_tenant_and_request_ids_are_sent_as_headers(litellm, answering):
    # given LiteLLM answers
    answering(json.dumps(ANSWER))
    # when the client is called for a tenant and a request id
    litellm_complete(**CALL)
    # then LiteLLM can attribute the call to both
    headers = litellm.calls[0].request.headers
    assert (headers["X-Tenant-Id"], headers["X-Request-Id"]) == ("ecomlg-001", "req-1")


def test_the_body_carries_model_messages_max_tokens_and_json_response_format(litellm, answering):
    # given LiteLLM answers, and AI_MAX_OUTPUT_TOKENS is 321
    answering(json.dumps(ANSWER))
    # when the client is called
    litellm_complete(**CALL)
    # then the body is exactly the OpenAI request, messages untouched
    assert json.loads(litellm.calls[0].request.body) == {
        "model": "kbz-standard",
        "messages": MESSAGES,
        "max_tokens": 321,
        "response_format": {"type": "json_object"},
    }


# --- reading a successful answer ----------------------------------------------------------------


def test_json_content_gives_suggestions_explanations_confidence_and_tokens(answering):
    # given the model answers the JSON it was asked for
    answering(json.dumps({**ANSWER, "confidenceLevel": "high"}))
    # when the client is called
    completion = litellm_complete(**CALL)
    # then every field is taken from it, tokens from usage
    assert completion == Completion(["It ships today."], ["Asks for status."], "high", 198, 133)


def test_json_content_inside_a_markdown_fence_is_parsed(answering):
    # given the model wraps its JSON in a ```json fence
    answering(f"```json\n{json.dumps({**ANSWER, 'confidenceLevel': 'low'})}\n```")
    # when the client is called
    completion = litellm_complete(**CALL)
    # then the fence is looked through
    assert (completion.suggestions, completion.confidence) == (["It ships today."], "low")


def test_plain_text_content_becomes_one_low_confidence_suggestion(answering):
    # given the model answers in prose
    answering("  Your order ships today.\n")
    # when the client is called
    completion = litellm_complete(**CALL)
    # then the stripped text is the one suggestion, with low confidence and no explanations
    assert (completion.suggestions, completion.explanations, completion.confidence) == (
        ["Your order ships today."],
        [],
        "low",
    )


def test_missing_explanations_default_to_an_empty_list(answering):
    # given JSON content without explanations
    answering(json.dumps({"suggestions": ["Hi"], "confidenceLevel": "medium"}))
    # when the client is called
    completion = litellm_complete(**CALL)
    # then explanations are empty
    assert completion.explanations == []


@pytest.mark.parametrize("level", ["certain", 3, None])
def test_an_unknown_confidence_level_becomes_medium(answering, level):
    # given JSON content whose confidenceLevel is not low/medium/high
    answering(json.dumps({**ANSWER, "confidenceLevel": level}))
    # when the client is called
    completion = litellm_complete(**CALL)
    # then the confidence is medium
    assert completion.confidence == "medium"


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected", "error_code"),
    [
        (429, UpstreamRateLimited, "upstream_rate_limited"),
        (500, UpstreamError, "upstream_error"),
        (503, UpstreamError, "upstream_error"),
        (401, UpstreamError, "upstream_error"),
        (404, UpstreamError, "upstream_error"),
        (408, UpstreamTimeout, "upstream_timeout"),  # LiteLLM's own timeout
        (504, UpstreamTimeout, "upstream_timeout"),
    ],
)
def test_a_non_2xx_status_maps_to_its_error(litellm, status, expected, error_code):
    # given LiteLLM answers an error status
    litellm.post(COMPLETIONS_URL, status=status, json={"error": {"message": "nope"}})
    # when the client is called
    with pytest.raises(UpstreamError) as caught:
        litellm_complete(**CALL)
    # then the error's type and contract code say which
    assert (type(caught.value), caught.value.error_code) == (expected, error_code)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>Bad Gateway</html>", id="not-json"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b"[" * 100_000, id="nested-too-deep"),
        pytest.param(encoded({"usage": {"prompt_tokens": 1}}), id="no-choices"),
        pytest.param(encoded(envelope("", choices=[])), id="empty-choices"),
        pytest.param(encoded(envelope(None)), id="null-content"),
        pytest.param(encoded(envelope("")), id="empty-content"),
        pytest.param(encoded(envelope(" \n ")), id="blank-content"),
        pytest.param(encoded({"choices": envelope("Hi")["choices"]}), id="no-usage"),
        pytest.param(encoded(envelope("Hi", usage={"prompt_tokens": 3})), id="no-completion"),
        pytest.param(encoded(envelope("Hi", usage=tokens(-1, 2))), id="negative-tokens"),
        pytest.param(encoded(envelope("Hi", usage=tokens(1.5, 2))), id="fractional-tokens"),
        pytest.param(encoded(envelope("Hi", usage=tokens("1", 2))), id="string-tokens"),
        pytest.param(encoded(envelope("Hi", usage=tokens(1, True))), id="boolean-tokens"),
    ],
)
def test_an_unusable_body_is_a_bad_response(litellm, body):
    # given LiteLLM answers 200 with a body the client cannot trust
    litellm.post(COMPLETIONS_URL, body=body, content_type="application/json")
    # when the client is called, then it is a bad response
    with pytest.raises(UpstreamBadResponse):
        litellm_complete(**CALL)


def test_a_body_larger_than_the_cap_is_a_bad_response(litellm):
    # given a 200 body of 2 MiB with no Content-Length
    litellm.post(COMPLETIONS_URL, body=b" " * (2 * 1024 * 1024), content_type="application/json")
    # when the client is called, then it stops reading at the cap
    with pytest.raises(UpstreamBadResponse):
        litellm_complete(**CALL)


def test_a_body_declared_larger_than_the_cap_is_refused_before_reading(litellm):
    # given a 200 whose Content-Length announces 2 MiB
    headers = {"Content-Length": str(2 * 1024 * 1024)}
    litellm.post(COMPLETIONS_URL, body=encoded(envelope("Hi")), headers=headers)
    # when the client is called
    with pytest.raises(UpstreamBadResponse) as caught:
        litellm_complete(**CALL)
    # then it refused on the header alone: no read error lies underneath
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    "fail",
    [
        pytest.param({"status": 500, "json": {"error": "boom"}}, id="status"),
        pytest.param({"body": b"not json"}, id="bad-body"),
    ],
)
def test_a_failure_log_names_neither_the_master_key_nor_the_conversation(litellm, caplog, fail):
    # given a failing LiteLLM
    litellm.post(COMPLETIONS_URL, **fail)
    # when the call fails
    with caplog.at_level(logging.DEBUG), pytest.raises(UpstreamError):
        litellm_complete(**CALL)
    # then no record carries the key or any message text
    assert secrets_logged(caplog) == []


def test_a_failure_over_the_wire_logs_neither_the_master_key_nor_the_conversation(fake, caplog):
    # given a real upstream that resets the connection (urllib3 and requests log and raise too)
    fake.behaviour = "reset"
    # when the call fails
    with caplog.at_level(logging.DEBUG):
        timed_failure(UpstreamUnavailable)
    # then no record carries the key or any message text
    assert secrets_logged(caplog) == []


def test_a_failure_is_logged_as_a_warning_with_kind_status_tenant_and_request(litellm, caplog):
    # given LiteLLM answers 503
    litellm.post(COMPLETIONS_URL, status=503, json={"error": "busy"})
    # when the call fails
    with caplog.at_level(logging.WARNING, logger="ai.client"), pytest.raises(UpstreamError):
        litellm_complete(**CALL)
    # then one warning says what failed, for whom
    [record] = [r for r in caplog.records if r.name == "ai.client"]
    assert record.levelno == logging.WARNING
    assert all(s in record.getMessage() for s in ("upstream_error", "503", "ecomlg-001", "req-1"))


# --- over real sockets --------------------------------------------------------------------------


def test_an_ok_round_trip_returns_the_fakes_answer(fake):
    # given a fake LiteLLM answering normally
    # when the client is called
    completion = litellm_complete(**CALL)
    # then the suggestion and the worst-case completion tokens come back
    assert (completion.confidence, completion.completion_tokens) == ("high", 1024)
    assert completion.suggestions[0].startswith("Hello, your parcel")


def test_an_ok_round_trip_reaches_the_fake_with_the_headers(fake):
    # given a fake LiteLLM answering normally
    # when the client is called
    litellm_complete(**CALL)
    # then the fake saw one request with the key and the tenant
    [request] = fake.requests
    assert (request.headers["Authorization"], request.headers["X-Tenant-Id"]) == (
        f"Bearer {MASTER_KEY}",
        "ecomlg-001",
    )


def test_an_answer_slower_than_a_read_but_within_the_deadline_succeeds(fake):
    # given a fake that thinks for 0.4 s of the 1 s deadline
    fake.delay = 0.4
    # when the client is called, then the answer arrives
    assert litellm_complete(**CALL).confidence == "high"


def test_connection_refused_is_upstream_unavailable(settings):
    # given nothing listens at LITELLM_BASE_URL
    settings.KEYBUZZ = {**settings.KEYBUZZ, "LITELLM_BASE_URL": unreachable_url()}
    # when the client is called, then LiteLLM is unavailable
    timed_failure(UpstreamUnavailable)


def test_a_connection_reset_before_the_answer_is_upstream_unavailable(fake):
    # given a fake that resets the connection instead of answering
    fake.behaviour = "reset"
    # when the client is called, then LiteLLM is unavailable
    timed_failure(UpstreamUnavailable)


def test_an_upstream_that_never_answers_times_out_at_the_deadline(fake):
    # given a fake that accepts and never answers
    fake.behaviour = "hang"
    # when the client is called
    _, elapsed = timed_failure(UpstreamTimeout)
    # then it gave up at the 1 s deadline
    assert 0.9 <= elapsed < 1.5


def test_a_dripping_body_times_out_at_the_total_deadline(fake):
    # given a fake that sends headers, then one byte every 0.1 s forever
    fake.behaviour, fake.drip_interval = "drip", 0.1
    # when the client is called
    _, elapsed = timed_failure(UpstreamTimeout)
    # then the whole call ended at the 1 s deadline, however alive the socket looked
    assert elapsed < 1.0 + 0.5


def test_a_call_after_a_timed_out_one_gets_its_own_answer(fake):
    # given a call that timed out while a body was dripping
    fake.behaviour, fake.drip_interval = "drip", 0.1
    timed_failure(UpstreamTimeout)
    # when the next call is answered normally
    fake.behaviour = "ok"
    completion = litellm_complete(**CALL)
    # then it reads its own answer, not the rest of the dripping one
    assert completion.confidence == "high"


def test_a_truncated_body_is_a_bad_response(fake):
    # given a fake that closes before sending its whole Content-Length
    fake.behaviour = "truncated"
    # when the client is called, then the body is unusable
    timed_failure(UpstreamBadResponse)


def test_a_huge_body_is_a_bad_response_without_being_read_whole(fake):
    # given a fake that streams several MiB without a Content-Length
    fake.behaviour = "huge"
    # when the client is called, then it stops at the cap
    timed_failure(UpstreamBadResponse)


def test_a_non_json_body_over_the_wire_is_a_bad_response(fake):
    # given a fake that answers 200 with an HTML page
    fake.behaviour = "garbage"
    # when the client is called, then the body is unusable
    timed_failure(UpstreamBadResponse)


def test_an_answer_without_usage_over_the_wire_is_a_bad_response(fake):
    # given a fake that omits usage (tokens are what the tenant pays)
    fake.behaviour = "no_usage"
    # when the client is called, then the answer is refused
    timed_failure(UpstreamBadResponse)


def test_a_rate_limited_fake_is_upstream_rate_limited(fake):
    # given a fake answering 429
    fake.behaviour, fake.status = "status", 429
    # when the client is called, then it is rate limited
    timed_failure(UpstreamRateLimited)
