"""The one error mapper (CONTRACT §3): API paths answer errors as JSON, never HTML or a traceback.

This module is also the URLconf of its tests: the access probe (a DRF view, a crashing DRF view,
the real keybuzz.urls) plus a plain Django view that crashes, to reach the middleware's path.
"""

import logging
import re

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

pytestmark = [pytest.mark.urls("tests.test_errors"), pytest.mark.django_db]

PROBE = "/ai/test-access"
SECRET = "hunter2"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def plain_crash(request):
    raise RuntimeError(f"secret internals: password={SECRET}")


urlpatterns = [
    path("ai/plain-crash", plain_crash),
    path("", include("tests.tenants.access_probe")),
]


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.fixture
def member_client(member, client_for) -> APIClient:
    client = client_for(member)
    client.raise_request_exception = False
    return client


# --- unknown paths --------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("unknown_path", ["/nope", "/ai/nope", "/admin/ai/nope", f"{PROBE}/"])
def test_an_unknown_api_path_is_a_json_404(settings, debug, unknown_path):
    # given DEBUG on or off, and a browser-like Accept header
    settings.DEBUG = debug

    # when a path nothing serves is requested
    response = APIClient().get(unknown_path, HTTP_ACCEPT=BROWSER_ACCEPT)

    # then it is the contract's JSON 404
    assert_json_error(response, 404, "not_found")


def test_an_unknown_page_under_accounts_is_a_normal_html_404():
    # given the pages of §7 are not API paths

    # when an unknown page under /accounts/ is requested
    response = APIClient().get("/accounts/nope", HTTP_ACCEPT=BROWSER_ACCEPT)

    # then it is an ordinary HTML 404
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_staff_without_its_slash_still_redirects_to_the_admin():
    # given the admin lives at /staff/

    # when /staff is requested without the slash
    response = APIClient().get("/staff", HTTP_ACCEPT=BROWSER_ACCEPT)

    # then it is redirected rather than turned into a JSON 404
    assert response.status_code == 301
    assert response["Location"] == "/staff/"


# --- wrong methods --------------------------------------------------------------------------


def test_a_wrong_method_on_an_api_view_is_a_json_405(member_client):
    # given an authenticated caller

    # when it deletes on a view that only reads and posts
    response = member_client.delete(PROBE, HTTP_ACCEPT="text/html")

    # then it is the contract's JSON 405
    assert_json_error(response, 405, "method_not_allowed")


def test_a_wrong_method_on_the_plain_healthz_view_is_a_json_405():
    # given /healthz only answers GET

    # when it is posted to
    response = APIClient().post("/healthz", HTTP_ACCEPT="text/html")

    # then it is the contract's JSON 405
    assert_json_error(response, 405, "method_not_allowed")


# --- bodies the API cannot read -------------------------------------------------------------


def test_a_malformed_json_body_is_400_invalid_request(member_client):
    # given a body that is not valid JSON
    body = '{"tenantId": "ecomlg-001",'

    # when it is posted
    response = member_client.post(
        PROBE, body, content_type="application/json", HTTP_ACCEPT="text/html"
    )

    # then it is a JSON 400
    assert_json_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/x-www-form-urlencoded", "tenantId=ecomlg-001"), ("text/plain", "ecomlg-001")],
    ids=["form", "text"],
)
def test_a_non_json_body_is_400_invalid_request(member_client, content_type, body):
    # given a body in a content type the API does not parse

    # when it is posted
    response = member_client.post(PROBE, body, content_type=content_type, HTTP_ACCEPT="text/html")

    # then it is a JSON 400
    assert_json_error(response, 400, "invalid_request")


def test_a_body_over_the_upload_limit_is_413_payload_too_large(member_client, settings):
    # given a JSON body larger than Django's upload limit
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = '{"tenantId": "ecomlg-001", "padding": "' + "x" * 2_000 + '"}'

    # when it is posted
    response = member_client.post(PROBE, body, content_type="application/json")

    # then it is the contract's 413, not a generic 400
    assert_json_error(response, 413, "payload_too_large")


def test_a_validation_error_lists_messages_per_field(member_client):
    # given a body whose count breaks its minimum

    # when it is posted
    response = member_client.post(
        PROBE, {"tenantId": "ecomlg-001", "count": 0}, format="json", HTTP_ACCEPT="text/html"
    )

    # then errors maps the field to a list of messages
    body = assert_json_error(response, 400, "invalid_request")
    assert list(body["errors"]) == ["count"]
    assert all(isinstance(message, str) for message in body["errors"]["count"])
    assert body["errors"]["count"]


# --- unexpected exceptions ------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("crash_path", ["/ai/test-crash", "/ai/plain-crash"], ids=["drf", "plain"])
def test_a_crash_is_a_json_500_internal_error(member_client, settings, debug, crash_path):
    # given a view that raises, with DEBUG on or off
    settings.DEBUG = debug

    # when it is called from a browser
    response = member_client.get(crash_path, HTTP_ACCEPT=BROWSER_ACCEPT)

    # then it is the contract's JSON 500
    assert_json_error(response, 500, "internal_error")


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("crash_path", ["/ai/test-crash", "/ai/plain-crash"], ids=["drf", "plain"])
def test_a_crash_shows_no_internals(member_client, settings, debug, crash_path):
    # given a view whose exception carries a secret, with DEBUG on or off
    settings.DEBUG = debug

    # when it is called
    response = member_client.get(crash_path, HTTP_ACCEPT=BROWSER_ACCEPT)

    # then neither the secret, the exception nor a traceback reaches the caller
    content = response.content.decode()
    assert SECRET not in content
    assert "Traceback" not in content
    assert "RuntimeError" not in content


@pytest.mark.parametrize("crash_path", ["/ai/test-crash", "/ai/plain-crash"], ids=["drf", "plain"])
def test_a_crash_is_logged_with_its_request_id(member_client, caplog, crash_path):
    # given a caller that names its request
    caplog.set_level(logging.ERROR, logger="keybuzz.errors")

    # when the view it calls raises
    member_client.get(crash_path, HTTP_X_REQUEST_ID="crash-req-42")

    # then the error is logged once, with its request id and the exception
    records = [r for r in caplog.records if r.name == "keybuzz.errors"]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert "crash-req-42" in records[0].getMessage()
    assert records[0].exc_info is not None


# --- request ids ----------------------------------------------------------------------------


def test_a_sane_request_id_is_echoed(db):
    # given a caller that sends its own request id

    # when it calls a probe
    response = APIClient().get("/healthz", HTTP_X_REQUEST_ID="frontend-7f3a:01.b")

    # then the same id comes back
    assert response["X-Request-Id"] == "frontend-7f3a:01.b"


def test_a_request_id_is_generated_when_absent(db):
    # given a caller that sends no request id

    # when it calls a probe
    response = APIClient().get("/healthz")

    # then the response carries a well-formed one
    assert SANE_REQUEST_ID.fullmatch(response["X-Request-Id"])


def test_each_request_gets_its_own_generated_request_id(db):
    # given a caller that sends no request id
    client = APIClient()

    # when it calls twice
    ids = {client.get("/healthz")["X-Request-Id"] for _ in range(2)}

    # then the ids differ
    assert len(ids) == 2


@pytest.mark.parametrize(
    "malicious",
    ["abc def", "abc\r\nSet-Cookie: session=evil", "x" * 129, "<script>"],
    ids=["space", "header-injection", "too-long", "markup"],
)
def test_a_malicious_request_id_is_replaced(malicious):
    # given a request id that is not safe to echo

    # when it is sent
    response = APIClient().get("/healthz", HTTP_X_REQUEST_ID=malicious)

    # then a fresh, well-formed one is used instead
    assert response["X-Request-Id"] != malicious
    assert SANE_REQUEST_ID.fullmatch(response["X-Request-Id"])


@pytest.mark.parametrize(
    ("method", "url", "authenticated"),
    [
        ("get", PROBE, False),  # 401 from DRF
        ("get", "/nope", False),  # 404 from Django's router
        ("post", "/healthz", False),  # 405 from a plain view
        ("post", PROBE, True),  # 400 from validation
        ("get", "/ai/test-crash", True),  # 500 from a DRF view
        ("get", "/ai/plain-crash", True),  # 500 from a plain view
    ],
    ids=["401", "404", "405", "400", "500-drf", "500-plain"],
)
def test_an_error_body_carries_the_request_id_of_its_header(
    member_client, method, url, authenticated
):
    # given an authenticated or anonymous caller
    client = member_client if authenticated else APIClient()

    # when its request fails
    response = getattr(client, method)(url, HTTP_ACCEPT="text/html")

    # then the body's requestId is the X-Request-Id header
    assert response.status_code >= 400
    assert response.json()["requestId"] == response["X-Request-Id"]


def test_an_error_echoes_the_callers_request_id_in_its_body(db):
    # given a caller that names its request

    # when the request fails
    response = APIClient().get("/ai/nope", HTTP_X_REQUEST_ID="frontend-42")

    # then the body names it too
    assert response.json()["requestId"] == "frontend-42"


# --- probes and schema ----------------------------------------------------------------------


def test_healthz_answers_200_json_without_credentials(db):
    # given no credentials

    # when the liveness probe is called
    response = APIClient().get("/healthz", HTTP_ACCEPT="text/html")

    # then it answers JSON
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.urls("keybuzz.urls")
def test_the_openapi_schema_is_public(db):
    # given no credentials (the schema holds no tenant data; /api/docs/ is a public page)

    # when the schema is fetched
    response = APIClient().get("/api/schema/")

    # then it is an OpenAPI 3 document
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


@pytest.mark.urls("keybuzz.urls")
def test_the_openapi_schema_with_bad_credentials_is_a_json_401(db):
    # given a token that was never issued
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer kbz_never-issued")

    # when the schema is fetched, asking for YAML
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")

    # then bad credentials are refused as JSON, never ignored
    assert_json_error(response, 401, "unauthenticated")


def test_a_405_from_a_plain_view_keeps_its_allow_header(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
