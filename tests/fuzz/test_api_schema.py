"""Every operation of /api/schema/, fuzzed by schemathesis through the app in-process (WSGI, as
gunicorn serves it), in fallback mode so that no upstream is needed.

Callers: an agent of several tenants (valid and invalid input), a staff user, and nobody. In
valid input the generated tenantId is often replaced by one that exists, and the few rules the
schema does not express are applied, so requests get past validation into the tenant checks,
refusals and answers instead of stopping at 400 or 404. Every answer must pass
schemathesis' checks — not a server error, a documented status code, the documented content
type, a body matching its schema — and the project's own validator (tests/openapi_validation).
All failures are collected and reported together, each with the request that caused it.
"""

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ai.kill_switches import kill_switch_set
from tenants.services import membership_get_or_create
from tests.openapi_validation import Exchange, OpenApiDocument

pytestmark = [
    pytest.mark.postgres,
    # Committed data, like a real server: a failed statement can't poison a test transaction.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SEED = 20261126
SCHEMA_PATH = "/api/schema/?format=json"
OPERATIONS = {  # at least these
    "POST /ai/assist",
    "GET /ai/assist/status",
    "GET /admin/ai/usage/today",
    "GET /admin/ai/usage",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Positive cases only (negative ones are sent as generated). Drawn uniformly: the agent's own
# tenant half of the time, else one it is refused (None keeps the generated id, unknown)…
TENANT_CHOICES = [*["fuzz-shop"] * 5, None, "fuzz-tiny", "fuzz-off", "fuzz-closed", "fuzz-other"]
# …and three times in four, repaired to the app's stricter rules (_within_app_rules).
WITHIN_APP_RULES = [True, True, True, False]
# The app's Idempotency-Key rule (1 to 255 printable ASCII characters), less the space: servers
# strip it at the edges of header values.
PRINTABLE_ASCII_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class Run:
    caller: str
    mode: GenerationMode
    examples: int  # per operation

    def __str__(self) -> str:
        return f"{self.caller}-{self.mode.value}"


# 4 operations, (40 + 25 + 15 + 5) each: 340 generated requests.
RUNS = [
    Run("agent", GenerationMode.POSITIVE, 40),
    Run("agent", GenerationMode.NEGATIVE, 25),
    Run("staff", GenerationMode.POSITIVE, 15),
    Run("anonymous", GenerationMode.POSITIVE, 5),
]


@cache
def api_schema():
    from keybuzz.wsgi import application

    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, application)


@pytest.fixture
def callers(make_tenant, make_user, token_for, usd) -> dict[str, dict]:
    """Headers of each caller. The agent belongs to a tenant with room to spare (autopilot:
    the most requests per minute), one on a budget too small for any call, one with its kill
    switch on and an inactive one; `fuzz-other` exists but is not theirs."""
    shop = make_tenant("fuzz-shop", plan="autopilot", timezone="Europe/Paris", language="fr")
    tiny = make_tenant("fuzz-tiny", plan="starter", daily_budget_override=usd("0.000001"))
    switched_off = make_tenant("fuzz-off", plan="pro")
    closed = make_tenant("fuzz-closed", plan="pro")
    closed.is_active = False
    closed.save(update_fields=["is_active"])
    make_tenant("fuzz-other", plan="pro")
    kill_switch_set(tenant=switched_off, on=True, reason="fuzz", actor="tests")
    agent = make_user("agent@fuzz.test")
    for tenant in (shop, tiny, switched_off, closed):
        membership_get_or_create(user=agent, tenant=tenant, role="agent")
    staff = make_user("support@fuzz.test", is_staff=True)
    return {
        "agent": {"Authorization": f"Bearer {token_for(agent)}"},
        "staff": {"Authorization": f"Bearer {token_for(staff)}"},
        "anonymous": {},
    }


def test_the_schema_still_lists_every_known_operation():
    """The runs below fuzz whatever the schema lists (a new endpoint is fuzzed as it lands);
    this catches one silently dropped from it."""
    operations = {op.ok().label for op in api_schema().get_all_operations()}
    assert operations >= OPERATIONS


@pytest.mark.parametrize("run", RUNS, ids=str)
def test_every_operation_answers_as_documented_and_never_500(run, callers):
    # given the schema the app serves, and a caller
    schema = api_schema()
    document = OpenApiDocument(schema.raw_schema)
    headers = callers[run.caller]
    failures: dict[tuple, str] = {}  # one report per (operation, check, status)
    answers: Counter = Counter()  # (operation, status): what the run reached

    for result in schema.get_all_operations():
        operation = result.ok()

        # when schemathesis generates requests for it (fixed seed, no deadline)…
        @hypothesis.seed(SEED)
        @hypothesis.settings(
            max_examples=run.examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(
            case=operation.as_strategy(generation_mode=run.mode),
            tenant_id=st.sampled_from(TENANT_CHOICES),
            within_app_rules=st.sampled_from(WITHIN_APP_RULES),
        )
        def send(case, tenant_id, within_app_rules):
            if run.mode is GenerationMode.POSITIVE:  # negative cases go as generated
                _aim_at(case, tenant_id)
                if within_app_rules:
                    _within_app_rules(case)
            _authenticate(case, headers)
            response = case.call()
            answers[f"{case.method.upper()} {case.path}", response.status_code] += 1
            # …then each answer passes schemathesis' checks and our own validator
            for key, report in _problems(case, response, document, headers):
                failures.setdefault(key, report)

        send()

    print(f"\n{run}: {answers.total()} requests, {len(failures)} distinct failures; {answers}")
    assert answers.total() >= run.examples * len(OPERATIONS) // 2  # generation not starved
    assert not failures, "\n\n".join(failures.values())


def _aim_at(case, tenant_id: str | None) -> None:
    """Point the request at an existing tenant (None: keep what was generated). Every read
    operation takes `tenantId` in its query; the assist call in its body."""
    if tenant_id is None:
        return
    if case.method.upper() == "GET":
        case.query = {**(case.query or {}), "tenantId": tenant_id}
    if isinstance(case.body, dict):
        case.body["tenantId"] = tenant_id


def _within_app_rules(case) -> None:
    """Repair what the schema allows but the assist validation refuses (1 to 50 messages, each
    with non-blank content without NUL; an Idempotency-Key of 1 to 255 printable ASCII
    characters), so that generated requests get past validation to the refusals and answers
    instead of stopping at 400."""
    key = (case.headers or {}).get("Idempotency-Key")
    if key is not None and not PRINTABLE_ASCII_KEY.match(key):
        del case.headers["Idempotency-Key"]
    payload = case.body.get("payload") if isinstance(case.body, dict) else None
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list):
        return
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            content = message["content"].replace("\x00", "")
            message["content"] = content if content.strip() else "Bonjour"
    if not messages:
        messages.append({"role": "customer", "content": "Où est ma commande ?"})
    del messages[50:]


def _authenticate(case, headers: dict) -> None:
    """The caller's credentials replace whatever the generator put in Authorization."""
    case.headers = {
        name: value
        for name, value in (case.headers or {}).items()
        if name.lower() not in ("authorization", "x-user-email")
    }
    case.headers.update(headers)


def _problems(case, response, document: OpenApiDocument, headers: dict):
    label = f"{case.method.upper()} {case.path}"
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            yield (label, failure.title, response.status_code), _report(case, response, failure)
    except AssertionError as failure:  # a single failure is raised as itself
        title = getattr(failure, "title", type(failure).__name__)
        yield (label, title, response.status_code), _report(case, response, failure)
    body = _json_or_none(response)
    request_id = _header(response, "X-Request-Id")
    if not request_id or (
        isinstance(body, dict) and body.get("requestId", request_id) != request_id
    ):
        yield (
            (label, "request_id_echo", response.status_code),
            _report(case, response, f"X-Request-Id {request_id!r} vs requestId in the body"),
        )
    if body is not None:
        exchange = Exchange(case.method.lower(), case.path, response.status_code, body, label)
        for problem in document.problems(exchange):
            yield (
                (label, "openapi_validation", response.status_code),
                _report(case, response, problem),
            )


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _header(response, name: str) -> str | None:
    """schemathesis' responses keep headers lower-cased, each a list of values."""
    values = response.headers.get(name.lower()) or [None]
    return values[0]


def _report(case, response, failure) -> str:
    """What was sent and answered, for a failure (a schemathesis Failure or our message)."""
    if isinstance(failure, str):
        what, detail = failure, ""
    else:
        what = getattr(failure, "title", type(failure).__name__)
        detail = getattr(failure, "message", None) or str(failure)
    return (
        f"{case.method.upper()} {case.path} → {response.status_code}: {what}\n"
        f"  {detail[:600]}\n"
        f"  request: query={case.query!r} headers={_shown(case.headers)} body={case.body!r:.600}\n"
        f"  response: {_header(response, 'Content-Type')} {response.text[:600]}"
    )


def _shown(headers: dict | None) -> dict:
    return {
        name: ("<credentials>" if name.lower() == "authorization" else value)
        for name, value in (headers or {}).items()
    }
