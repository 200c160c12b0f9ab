"""GET /metrics: its protection and format, and counters that match the ai_usage rows exactly,
in-process and under gunicorn with several workers (PostgreSQL)."""

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.db import DatabaseError, transaction
from django.db.models import Sum
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ai.kill_switches import kill_switch_set
from tests.conftest import COMPLETIONS
from tests.fakes.upstream import FakeUpstream
from usage.budget import Hold, budget_reserve
from usage.models import AIUsage, Reservation
from usage.recording import UsageEntry, usage_record, usage_record_many

MESSAGES = [{"role": "customer", "content": "Ma commande est en retard"}]
METRICS_TOKEN = "metrics-token-0123456789abcdef"
KEYBUZZ_FAMILIES = {
    "keybuzz_ai_requests": "counter",
    "keybuzz_ai_tokens": "counter",
    "keybuzz_ai_cost_usd": "counter",
    "keybuzz_upstream_request_duration_seconds": "histogram",
    "keybuzz_ai_reservations_in_flight": "gauge",
}

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def keybuzz_only(samples: Samples) -> Samples:
    return {key: value for key, value in samples.items() if key[0].startswith("keybuzz_")}


def by_labels(samples: Samples, name: str, *labels: str) -> dict[tuple, float]:
    """One metric's samples as {label values in `labels` order: value}, zeros left out."""
    return {
        tuple(dict(key_labels)[label] for label in labels): value
        for (sample_name, key_labels), value in samples.items()
        if sample_name == name and value
    }


def moved(before: Samples, after: Samples, name: str, *labels: str) -> dict[tuple, float]:
    """How much each series of one metric moved between two scrapes; unchanged ones left out."""
    start, end = by_labels(before, name, *labels), by_labels(after, name, *labels)
    delta = {key: value - start.get(key, 0) for key, value in end.items()}
    return {key: value for key, value in delta.items() if value}


def rows_by_labels() -> Counter:
    """The ai_usage rows counted as keybuzz_ai_requests_total labels them."""
    return Counter(
        (row.feature, row.status, row.error_code or "none", row.tenant.plan_id, row.model)
        for row in AIUsage.objects.select_related("tenant")
    )


REQUEST_LABELS = ("feature", "status", "reason", "plan", "model")


@pytest.fixture
def scrape(client):
    def read(**headers) -> Samples:
        response = client.get("/metrics", **headers)
        assert response.status_code == 200, response.content
        return parse(response.content.decode())

    return read


def answer(mock, *, prompt_tokens: int, completion_tokens: int, status: int = 200):
    mock.post(
        COMPLETIONS,
        status=status,
        json={
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Bonjour !"}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        },
    )


def assist(client, tenant_id: str):
    body = {"tenantId": tenant_id, "payload": {"messages": MESSAGES}}
    return client.post("/ai/assist", body, format="json")


# --- protection and format ------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_metrics_token_configured_metrics_are_open(client, settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "METRICS_TOKEN": ""}
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Token {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer é"],
)
def test_with_a_metrics_token_a_missing_or_wrong_one_gets_401_json(client, settings, authorization):
    # given a configured token
    settings.KEYBUZZ = {**settings.KEYBUZZ, "METRICS_TOKEN": METRICS_TOKEN}
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    # when the scraper sends none, or a wrong one
    response = client.get("/metrics", **headers)
    # then it is refused, as JSON, and nothing is exposed
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"keybuzz_" not in response.content


@pytest.mark.django_db
def test_with_a_metrics_token_the_right_bearer_gets_the_metrics(client, settings):
    settings.KEYBUZZ = {**settings.KEYBUZZ, "METRICS_TOKEN": METRICS_TOKEN}
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    assert b"keybuzz_ai_requests_total" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_metrics_answer_other_methods_with_405_json(client, method):
    response = getattr(client, method)("/metrics")
    assert response.status_code == 405
    assert response.json()["status"] == "method_not_allowed"
    assert response["Allow"] == "GET"


@pytest.mark.django_db
def test_metrics_are_prometheus_text_format_0_0_4_with_every_keybuzz_family(client):
    response = client.get("/metrics")
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f.type for f in text_string_to_metric_families(response.content.decode())}
    assert {name: families.get(name) for name in KEYBUZZ_FAMILIES} == KEYBUZZ_FAMILIES


# --- counters against the rows ----------------------------------------------------------------


@pytest.fixture
def two_shops(make_tenant, make_user, client_for):
    """A pro tenant and a starter tenant, each with an agent's API client."""
    pro = make_tenant("shop-pro", plan="pro")
    starter = make_tenant("shop-starter", plan="starter")
    return (
        (pro, client_for(make_user("agent@pro.test", tenant=pro))),
        (starter, client_for(make_user("agent@starter.test", tenant=starter))),
    )


@pytest.mark.django_db
def test_request_counters_match_the_rows_by_status_reason_plan_and_model(
    two_shops, scrape, django_capture_on_commit_callbacks
):
    # given two tenants on different plans, in fallback mode
    (pro, pro_agent), (starter, starter_agent) = two_shops
    before = scrape()
    # when some calls are answered and others blocked by each kill switch
    with django_capture_on_commit_callbacks(execute=True):
        statuses = [assist(pro_agent, pro.id).status_code for _ in range(3)]
        statuses += [assist(starter_agent, starter.id).status_code for _ in range(2)]
        kill_switch_set(tenant=starter, on=True, reason="abuse", actor="ops@kb.test")
        statuses += [assist(starter_agent, starter.id).status_code for _ in range(2)]
        kill_switch_set(tenant=None, on=True, reason="incident", actor="ops@kb.test")
        statuses += [assist(pro_agent, pro.id).status_code]
    # then the counters moved by exactly the rows written, label for label
    assert statuses == [200] * 5 + [403, 403, 503]
    counted = moved(before, scrape(), "keybuzz_ai_requests_total", *REQUEST_LABELS)
    assert counted == dict(rows_by_labels())
    assert counted == {
        ("assist", "success", "none", "pro", "kbz-standard"): 3,
        ("assist", "success", "none", "starter", "kbz-cheap"): 2,
        ("assist", "blocked", "tenant_kill_switch", "starter", "kbz-cheap"): 2,
        ("assist", "blocked", "global_kill_switch", "pro", "kbz-standard"): 1,
    }


@pytest.mark.django_db
def test_token_and_cost_counters_match_the_sums_of_the_rows(
    two_shops, litellm, scrape, django_capture_on_commit_callbacks
):
    # given LiteLLM answering with tokens, and once failing
    (pro, pro_agent), (starter, starter_agent) = two_shops
    before = scrape()
    # when both tenants get answers and one call fails upstream
    with django_capture_on_commit_callbacks(execute=True):
        answer(litellm, prompt_tokens=198, completion_tokens=133)
        assert assist(pro_agent, pro.id).status_code == 200
        assert assist(pro_agent, pro.id).status_code == 200
        litellm.replace("POST", COMPLETIONS, status=500, json={})
        assert assist(starter_agent, starter.id).status_code == 502
        litellm.replace("POST", COMPLETIONS, json={
            "choices": [{"message": {"content": "Hello"}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 500},
        })  # fmt: skip
        assert assist(starter_agent, starter.id).status_code == 200
    after = scrape()
    # then tokens and cost moved by the rows' sums, per plan and model
    rows = (
        AIUsage.objects.order_by()
        .values_list("tenant__plan_id", "model")
        .annotate(tokens=Sum("total_tokens"), cost=Sum("cost_usd_est"))
    )
    tokens = {(plan, model): t for plan, model, t, _ in rows}
    costs = {(plan, model): float(c) for plan, model, _, c in rows}
    assert tokens == {("pro", "kbz-standard"): 662, ("starter", "kbz-cheap"): 1500}
    assert moved(before, after, "keybuzz_ai_tokens_total", "plan", "model") == tokens
    assert moved(before, after, "keybuzz_ai_cost_usd_total", "plan", "model") == pytest.approx(
        costs
    )
    assert min(costs.values()) > 0
    # and the failure is counted as the error row it wrote
    counted = moved(before, after, "keybuzz_ai_requests_total", *REQUEST_LABELS)
    assert counted == dict(rows_by_labels())
    assert counted["assist", "error", "upstream_error", "starter", "kbz-cheap"] == 1


@pytest.mark.django_db
def test_upstream_calls_are_timed_by_model_and_outcome(two_shops, litellm, scrape):
    (pro, pro_agent), _ = two_shops
    before = scrape()
    answer(litellm, prompt_tokens=10, completion_tokens=10)
    assist(pro_agent, pro.id)
    litellm.replace("POST", COMPLETIONS, status=429, json={})
    assist(pro_agent, pro.id)
    after = scrape()
    timed = moved(before, after, "keybuzz_upstream_request_duration_seconds_count", "model",
                  "outcome")  # fmt: skip
    assert timed == {("kbz-standard", "success"): 1, ("kbz-standard", "upstream_rate_limited"): 1}
    # every call falls under the 60 s bucket, and the buckets are LLM-sized
    buckets = {dict(labels)["le"] for name, labels in after
               if name == "keybuzz_upstream_request_duration_seconds_bucket"}  # fmt: skip
    assert {"0.1", "1.0", "30.0", "60.0", "+Inf"} <= buckets


@pytest.mark.django_db
def test_fallback_mode_makes_no_upstream_observation(
    two_shops, scrape, django_capture_on_commit_callbacks
):
    (pro, pro_agent), _ = two_shops
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        assert assist(pro_agent, pro.id).status_code == 200
    after = scrape()
    timed = moved(before, after, "keybuzz_upstream_request_duration_seconds_count", "model",
                  "outcome")  # fmt: skip
    assert timed == {}


def _entry(tenant, **fields) -> UsageEntry:
    defaults = dict(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                    status="success", prompt_tokens=100, completion_tokens=50,
                    cost_usd=Decimal("0.001050"))  # fmt: skip
    return UsageEntry(**{**defaults, **fields})


@pytest.mark.django_db
def test_a_batch_counts_each_of_its_rows_once(tenant, scrape, django_capture_on_commit_callbacks):
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        usage_record_many(entries=[_entry(tenant) for _ in range(3)] + [
            _entry(tenant, status="error", error_code="abandoned", prompt_tokens=0,
                   completion_tokens=0),
        ])  # fmt: skip
    assert moved(before, scrape(), "keybuzz_ai_requests_total", *REQUEST_LABELS) == {
        ("assist", "success", "none", "pro", "kbz-standard"): 3,
        ("assist", "error", "abandoned", "pro", "kbz-standard"): 1,
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_recording_rolled_back_is_not_counted_and_a_committed_one_is(tenant, scrape):
    # given the counters now
    before = scrape()
    # when a recording's transaction rolls back (a real one: this test commits)
    with pytest.raises(RuntimeError), transaction.atomic():
        usage_record(entry=_entry(tenant))
        raise RuntimeError("the caller failed after recording")
    # then nothing is counted, as no row exists
    assert not AIUsage.objects.exists()
    assert moved(before, scrape(), "keybuzz_ai_requests_total", *REQUEST_LABELS) == {}
    # when one commits inside a caller's transaction, it counts once, at the commit
    with transaction.atomic():
        usage_record(entry=_entry(tenant))
        assert moved(before, scrape(), "keybuzz_ai_requests_total", *REQUEST_LABELS) == {}
    assert moved(before, scrape(), "keybuzz_ai_requests_total", *REQUEST_LABELS) == {
        ("assist", "success", "none", "pro", "kbz-standard"): 1
    }


# --- the reservations gauge -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reservations_gauge_equals_the_reservation_rows(tenant, scrape):
    assert scrape()["keybuzz_ai_reservations_in_flight", frozenset()] == 0
    for _ in range(3):
        hold = Hold(worst_case=Decimal("0.01"), call=_entry(tenant))
        budget_reserve(tenant=tenant, holds=[hold], admitted_at=timezone.now())
    assert scrape()["keybuzz_ai_reservations_in_flight", frozenset()] == 3
    assert Reservation.objects.count() == 3


@pytest.mark.django_db
def test_the_scrape_time_gauges_are_three_queries(client, django_assert_num_queries):
    # the reservations gauge (1), the Autopilot jobs by status and the queue's age (2)
    with django_assert_num_queries(3):
        client.get("/metrics")


@pytest.mark.django_db
def test_without_the_database_the_gauge_is_left_out_and_the_rest_is_served(scrape, monkeypatch):
    def unreachable(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(Reservation.objects, "count", unreachable)
    samples = scrape()
    assert ("keybuzz_ai_reservations_in_flight", frozenset()) not in samples
    assert any(name.startswith("python_") for name, _ in samples)


# --- several worker processes (gunicorn, PostgreSQL) -------------------------------------------


def _http_scrape(server, token: str) -> Samples:
    response = requests.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return keybuzz_only(parse(response.text))


def _scrapes_agree(server, token: str, count: int = 12) -> Samples:
    """`count` concurrent scrapes (so several workers answer): they must all say the same."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        scrapes = list(pool.map(lambda _: _http_scrape(server, token), range(count)))
    assert all(s == scrapes[0] for s in scrapes[1:])
    return scrapes[0]


@pytest.fixture
def three_shops(make_tenant, make_user, token_for):
    """Tenants on each plan: answered, blocked by its kill switch, mostly over its budget."""
    shops = {
        "pro": make_tenant("mp-pro", plan="pro"),
        "starter": make_tenant("mp-starter", plan="starter"),
        "autopilot": make_tenant("mp-auto", plan="autopilot",
                                 daily_budget_override=Decimal("0.05")),
    }  # fmt: skip
    kill_switch_set(tenant=shops["starter"], on=True, reason="abuse", actor="ops@kb.test")
    auth = {}
    for plan, shop in shops.items():
        agent = make_user(f"agent@{shop.id}.test", tenant=shop)
        auth[plan] = {"Authorization": f"Bearer {token_for(agent)}"}
    return shops, auth


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_worker_reports_the_same_totals_and_they_equal_the_rows(app_server, three_shops):
    # given 4 workers behind a protected /metrics and an upstream taking a little time per call
    shops, auth = three_shops
    with FakeUpstream() as fake:
        fake.delay = 0.05
        server = app_server(workers=4, env={
            "LITELLM_BASE_URL": fake.url, "LITELLM_MASTER_KEY": "test-master-key",
            "METRICS_TOKEN": METRICS_TOKEN,
        })  # fmt: skip
        assert _scrapes_agree(server, METRICS_TOKEN)["keybuzz_ai_reservations_in_flight",
                                                      frozenset()] == 0  # fmt: skip

        # when 90 requests arrive concurrently, so that every worker serves some
        def ask(plan: str) -> int:
            return requests.post(
                f"{server.url}/ai/assist", headers=auth[plan], timeout=60,
                json={"tenantId": shops[plan].id, "payload": {"messages": MESSAGES}},
            ).status_code  # fmt: skip

        with ThreadPoolExecutor(max_workers=45) as pool:
            statuses = Counter(pool.map(ask, ["pro", "starter", "autopilot"] * 30))

        # then the workers, whichever answers the scrape, agree on totals equal to the rows
        samples = _scrapes_agree(server, METRICS_TOKEN)
    assert statuses[200] > 30 and statuses[403] == 30 and statuses[402] > 0
    assert AIUsage.objects.count() == 90
    assert by_labels(samples, "keybuzz_ai_requests_total", *REQUEST_LABELS) == dict(
        rows_by_labels()
    )
    rows = (
        AIUsage.objects.order_by()
        .values_list("tenant__plan_id", "model")
        .annotate(tokens=Sum("total_tokens"), cost=Sum("cost_usd_est"))
    )
    assert by_labels(samples, "keybuzz_ai_tokens_total", "plan", "model") == {
        (plan, model): tokens for plan, model, tokens, _ in rows if tokens
    }
    assert by_labels(samples, "keybuzz_ai_cost_usd_total", "plan", "model") == pytest.approx(
        {(plan, model): float(cost) for plan, model, _, cost in rows if cost}
    )
    answered_upstream = AIUsage.objects.filter(status="success", provider="litellm").count()
    timed = by_labels(samples, "keybuzz_upstream_request_duration_seconds_count", "model",
                      "outcome")  # fmt: skip
    assert sum(timed.values()) == answered_upstream == len(fake.requests)
    assert samples["keybuzz_ai_reservations_in_flight", frozenset()] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_counts_survive_a_worker_restart_and_a_given_directory_starts_empty(
    app_server, three_shops, tmp_path
):
    # given an operator-chosen directory holding files of a previous run
    shops, auth = three_shops
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale values of the last run")
    (metrics_dir / "keep.txt").write_text("not ours")
    server = app_server(workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                                        "METRICS_TOKEN": METRICS_TOKEN})  # fmt: skip
    # then gunicorn emptied it of metric files, and only of those
    assert not (metrics_dir / "counter_999999.db").exists()
    assert (metrics_dir / "keep.txt").exists()

    # when requests are served, then every worker is killed and replaced
    def ask(_) -> int:
        return requests.post(
            f"{server.url}/ai/assist", headers=auth["pro"], timeout=60,
            json={"tenantId": shops["pro"].id, "payload": {"messages": MESSAGES}},
        ).status_code  # fmt: skip

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(ask, range(20))) == {200}
    killed = set(server.worker_pids())
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(set(server.worker_pids()) - killed) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace its workers"
        time.sleep(0.2)
    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(ask, range(10))) == {200}

    # then the dead workers' counts are still in the totals, which equal the rows
    samples = _scrapes_agree(server, METRICS_TOKEN, count=6)
    assert by_labels(samples, "keybuzz_ai_requests_total", *REQUEST_LABELS) == {
        ("assist", "success", "none", "pro", "kbz-standard"): 30
    }
    assert AIUsage.objects.count() == 30
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2
