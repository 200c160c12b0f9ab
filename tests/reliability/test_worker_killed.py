"""A gunicorn worker SIGKILLed while its LiteLLM call hangs, with traffic flowing through the
other worker: nobody else notices, and the dead call becomes one `abandoned` row after the TTL.

(tests/ai/test_multiprocess.py kills every worker of an idle app; this kills only the one
serving the call, under load, and closes the reservation with the operator's command.)
"""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db.models import Sum

from ai.prompts import upstream_messages
from tenants.models import ModelPrice
from usage.budget import worst_case_cost
from usage.models import AIUsage, BudgetCounter, Reservation
from usage.pricing import to_micros

from .conftest import CLIENT_TIMEOUT, MESSAGES, assist_body, litellm_env, manage

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Long enough for the call to still hang when its worker is killed; the TTL just above it.
TIMEOUT_SECONDS, TTL_SECONDS = 8, 9
TRAFFIC_THREADS = 4
# 100 requests at most: within the pro plan's rate limit (120 a minute), which is not under test.
TRAFFIC_PER_THREAD = 25
TRAFFIC_AFTER_KILL_SECONDS = 2.0


def test_killing_the_worker_of_a_hanging_call_spares_other_requests_and_leaves_one_abandoned_row(
    app_server, shop, upstream
):
    # given the app (2 workers) and a call hanging upstream in one of them
    upstream.behaviour = "hang"
    server = app_server(workers=2, env=litellm_env(
        upstream, LITELLM_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        AI_RESERVATION_TTL_SECONDS=str(TTL_SECONDS),
    ))  # fmt: skip
    with ThreadPoolExecutor(max_workers=1) as caller:
        doomed = caller.submit(
            requests.post, f"{server.url}/ai/assist", json=assist_body(shop.tenant_id),
            headers={**shop.agent, "X-Request-Id": "doomed-call"}, timeout=CLIENT_TIMEOUT,
        )  # fmt: skip
        _wait_for(lambda: len(upstream.requests) == 1 and Reservation.objects.exists())
        # the only worker talking to LiteLLM yet is the one serving that call
        serving = _workers_connected_to(server.worker_pids(), port=urlsplit(upstream.url).port)
        assert len(serving) == 1, serving
        victim = serving.pop()
        upstream.behaviour = "ok"  # every later call is answered at once

        # when, with traffic flowing, that worker is killed
        traffic = _Traffic(server.url, shop)
        traffic.start(threads=TRAFFIC_THREADS)
        _wait_for(lambda: traffic.count() >= 5)
        os.kill(victim, signal.SIGKILL)
        answered_before_kill = traffic.count()
        _wait_for(lambda: len(set(server.worker_pids()) - {victim}) == 2)  # replaced
        time.sleep(TRAFFIC_AFTER_KILL_SECONDS)
        traffic.stop()

        # then its own client sees the connection drop (no answer to give), and nobody else
        # sees anything: every other request was answered, as JSON
        with pytest.raises(requests.ConnectionError):
            doomed.result()
    assert traffic.failures == []
    assert traffic.statuses() == {200}, traffic.statuses()
    assert traffic.count() >= answered_before_kill + 10
    print(f"\n{traffic.count()} other requests, {answered_before_kill} answered before the kill")
    # and until the TTL the dead call's worst case is held, then it is one abandoned row
    worst = worst_case_cost(
        price=ModelPrice.objects.get(alias="kbz-standard"), messages=upstream_messages(MESSAGES)
    )
    reservation = Reservation.objects.get()
    assert (reservation.request_id, reservation.amount_micros) == ("doomed-call", to_micros(worst))
    time.sleep(max(0.0, reservation.expires_at.timestamp() - time.time()) + 0.2)
    closed = manage(server.env["DATABASE_URL"], "close_abandoned_reservations")
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.strip() == "Closed 1 abandoned reservation(s)."
    abandoned = AIUsage.objects.get(request_id="doomed-call")
    assert (abandoned.status, abandoned.error_code, abandoned.cost_usd_est) == (
        "error", "abandoned", worst,
    )  # fmt: skip
    # and every other request is one success row; nothing is held, the counter equals the rows
    successes = AIUsage.objects.filter(tenant_id=shop.tenant_id, status="success")
    assert sorted(successes.values_list("request_id", flat=True)) == sorted(traffic.request_ids())
    assert AIUsage.objects.filter(tenant_id=shop.tenant_id).count() == traffic.count() + 1
    assert not Reservation.objects.exists()
    spent = AIUsage.objects.filter(tenant_id=shop.tenant_id).aggregate(s=Sum("cost_usd_est"))["s"]
    counter = BudgetCounter.objects.get(tenant_id=shop.tenant_id)
    assert (counter.spent_micros, counter.reserved_micros) == (to_micros(spent), 0)


class _Traffic:
    """Threads posting assist requests back to back until stopped."""

    def __init__(self, base_url: str, shop):
        self.base_url, self.shop = base_url, shop
        self.answers: list[tuple[str, int, str]] = []  # (request id, status, content type)
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, *, threads: int) -> None:
        for index in range(threads):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT)

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def statuses(self) -> set[int]:
        with self._lock:
            return {status for _, status, _ in self.answers}

    def request_ids(self) -> list[str]:
        with self._lock:
            return [request_id for request_id, _, _ in self.answers]

    def _run(self, index: int) -> None:
        sent = 0
        while not self._stop.is_set() and sent < TRAFFIC_PER_THREAD:
            request_id, sent = f"traffic-{index}-{sent}", sent + 1
            try:
                response = requests.post(
                    f"{self.base_url}/ai/assist", json=assist_body(self.shop.tenant_id),
                    headers={**self.shop.agent, "X-Request-Id": request_id},
                    timeout=CLIENT_TIMEOUT,
                )  # fmt: skip
            except requests.RequestException as exc:
                with self._lock:
                    self.failures.append(f"{request_id}: {type(exc).__name__}: {exc}")
                continue
            content_type = response.headers.get("Content-Type", "")
            with self._lock:
                self.answers.append((request_id, response.status_code, content_type))
                if not content_type.startswith("application/json"):
                    self.failures.append(f"{request_id}: {content_type}: {response.text[:200]}")


def _workers_connected_to(pids: list[int], *, port: int) -> set[int]:
    """The processes among `pids` holding an established TCP connection to loopback `port`.

    Read from /proc: /proc/net/tcp names each socket's inode by its remote port, and each
    process's fd table links to the inodes it holds.
    """
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], fields[9]
        if remote_port == port and state == "01":  # ESTABLISHED
            inodes.add(f"socket:[{inode}]")
    holders = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) in inodes:
                    holders.add(pid)
            except OSError:  # closed meanwhile
                continue
    return holders


def _wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
