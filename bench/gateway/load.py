"""wrk (Debian's, C, closed loop: each connection sends its next request when the previous answer
is in) at a given concurrency for a fixed duration, with the CPU each process spent meanwhile."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import processes
from .targets import Target

SCRIPT = Path(__file__).with_name("request.lua")
WRK_THREADS = 2  # one per core; wrk spends a few percent of one
RESULT_PREFIX = "BENCH_RESULT "
MAX_ERROR_SHARE = 0.01  # more failed requests than this and a point is not a measurement
# Quiet: the processes under test spend at most this share of one core (LiteLLM idles at ~5 %).
QUIET_SHARE, QUIET_WINDOW, QUIET_WAIT_MAX = 0.1, 0.5, 20.0


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is missing: apt-get install -y wrk (Debian's package)")
    return found


def wrk(target: Target, *, concurrency: int, seconds: int, components=None) -> dict:
    """One point: requests/s, latency percentiles (ms) and errors; with `components` (a callable
    returning {name: [pids]}), the CPU milliseconds each component spent per request."""
    env = {
        **os.environ,
        "BENCH_METHOD": target.method,
        "BENCH_BODY": target.body,
        "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in target.headers.items()),
    }
    argv = [
        wrk_path(), "-t", str(min(concurrency, WRK_THREADS)), "-c", str(concurrency),
        "-d", f"{seconds}s", "--timeout", "30s", "-s", str(SCRIPT), target.url,
    ]  # fmt: skip
    if components:
        settle(components)
    before = _cpu_snapshot(components) if components else None
    process = subprocess.Popen(  # noqa: S603 (a fixed command line)
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=seconds + 60)
        wrk_ticks = _children_ticks()
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    lines = [line for line in out.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed on {target.url}: {err[-2000:]}{out[-2000:]}")
    point = _point(json.loads(lines[-1][len(RESULT_PREFIX) :]), target, concurrency)
    if before is not None:
        point["cpu_ms_per_request"] = _cpu_per_request(
            before, _cpu_snapshot(components), wrk_ticks, point["requests"]
        )
    return point


def settle(components: Callable[[], dict[str, list[int]]]) -> None:
    """Wait until the processes under test are idle: after a saturated point, a server still
    works through the requests queued when wrk stopped, which the next point must not pay for."""
    deadline = time.monotonic() + QUIET_WAIT_MAX
    quiet_ticks = QUIET_SHARE * QUIET_WINDOW * processes.CLOCK_TICKS
    while time.monotonic() < deadline:
        pids = [pid for name, group in components().items() if name != "postgres" for pid in group]
        before = sum(processes.cpu_ticks(pids).values())
        time.sleep(QUIET_WINDOW)
        if sum(processes.cpu_ticks(pids).values()) - before <= quiet_ticks:
            return


def _point(raw: dict, target: Target, concurrency: int) -> dict:
    errors = sum(raw[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    errors += raw["non_2xx"]
    if raw["requests"] == 0 or errors > MAX_ERROR_SHARE * raw["requests"]:
        raise RuntimeError(f"{target.label} at concurrency {concurrency}: {raw}")
    point = {
        "concurrency": concurrency,
        "requests": raw["requests"],
        "errors": errors,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "mean_ms": raw["mean_us"] / 1000,
    }
    for cut in ("p50", "p90", "p95", "p99", "max"):
        point[f"{cut}_ms"] = raw[f"{cut}_us"] / 1000
    return point


_last_children = 0


def _children_ticks() -> int:
    """CPU ticks of the waited-for children (wrk) since the last call."""
    global _last_children
    times = os.times()
    ticks = round((times.children_user + times.children_system) * processes.CLOCK_TICKS)
    spent, _last_children = ticks - _last_children, ticks
    return spent


def _cpu_snapshot(components: Callable[[], dict[str, list[int]]]) -> dict:
    _children_ticks()  # reset: the next call counts this wrk only
    return {
        "machine": processes.machine_ticks(),
        **{name: processes.cpu_ticks(pids) for name, pids in components().items()},
    }


def _cpu_per_request(before: dict, after: dict, wrk_ticks: int, requests: int) -> dict:
    """CPU ms per request by component; a process born meanwhile counts from zero, and `other`
    is what the rest of the machine (other users included) did in the same time."""
    ms_per_tick = 1000 / processes.CLOCK_TICKS
    spent = {"wrk": wrk_ticks}
    for name, ticks in after.items():
        if name != "machine":
            spent[name] = sum(t - before[name].get(pid, 0) for pid, t in ticks.items())
    busy = after["machine"][0] - before["machine"][0]
    total = after["machine"][1] - before["machine"][1]
    result = {name: ticks * ms_per_tick / requests for name, ticks in spent.items()}
    result["other"] = max(0, busy - sum(spent.values())) * ms_per_tick / requests
    result["machine_busy_share"] = busy / total if total else 0.0
    return result


def rate_search(
    target: Target, *, steps: list[int], seconds: int, p99_bound_ms: float, components=None
) -> dict:
    """The highest sustained rate with p99 within the bound: closed-loop points at growing
    concurrency, stopping after two in a row whose p99 passes the bound (one may be a spike of
    whatever else runs on the machine)."""
    points, over = [], 0
    for concurrency in steps:
        point = wrk(target, concurrency=concurrency, seconds=seconds, components=components)
        points.append(point)
        over = over + 1 if point["p99_ms"] > p99_bound_ms else 0
        if over == 2:
            break
    within = [point for point in points if point["p99_ms"] <= p99_bound_ms]
    best = max(within, key=lambda point: point["rps"]) if within else None
    return {
        "p99_bound_ms": p99_bound_ms,
        "points": points,
        "best_rps": best["rps"] if best else 0.0,
        "best_concurrency": best["concurrency"] if best else None,
    }
