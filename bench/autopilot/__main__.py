"""Autopilot queue benchmark: throughput, the queue's own cost, fairness, a worker killed.

    .venv/bin/python -m bench.autopilot            # make bench-autopilot (about 40 min here)
    .venv/bin/python -m bench.autopilot --smoke    # about 2 minutes, for CI

On a PostgreSQL database of its own (created and migrated when missing; its job, task and
accounting tables emptied before each part), with the stub LLM (bench/stub_llm.py, 50 ms) as
LiteLLM and real `manage.py db_worker` processes: jobs/s with 1, 2 and 4 workers; the queue's
statements and CPU per job beyond the assist pipeline's; a small tenant's wait while a large
one floods; nothing lost or duplicated after a worker is SIGKILLed. Markdown on stdout (progress
on stderr), every figure in bench/results/autopilot.json. docs/PERFORMANCE.md explains them.
"""

import argparse
import json
import os
import platform
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.gateway import databases
from bench.gateway.processes import LOOPBACK, REPO_ROOT

from . import report
from .run import bench

RESULTS_DIR = REPO_ROOT / "bench" / "results"
PARTS = ("cost", "fairness", "crash", "throughput")
FULL = dict(tenants=20, jobs=10_000, workers=[1, 2, 4], cost_jobs=400, fairness_flood=2000,
            fairness_small=20, crash_jobs=1000, timeout=5400)  # fmt: skip
SMOKE = dict(tenants=5, jobs=300, workers=[1, 2], cost_jobs=100, fairness_flood=300,
             fairness_small=10, crash_jobs=200, timeout=900)  # fmt: skip


class BenchTimeout(BaseException):
    """The whole bench ran past --timeout: unwinds like Ctrl-C, every process stopped."""


def _ints(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.autopilot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="the CI-sized preset")
    parser.add_argument(
        "--database-url",
        default=f"postgres://postgres@{LOOPBACK}:5432/keybuzz_bench_autopilot",
        help="created and migrated if missing; the bench empties its job, task and usage tables",
    )
    parser.add_argument("--tenants", type=int, help="on the autopilot plan (20; smoke 5)")
    parser.add_argument("--jobs", type=int, help="per throughput run, over the tenants")
    parser.add_argument("--workers", type=_ints, help="db_worker processes per run, e.g. 1,2,4")
    parser.add_argument("--cost-jobs", type=int, help="jobs of the in-process cost measurement")
    parser.add_argument("--fairness-flood", type=int, help="the large tenant's jobs")
    parser.add_argument("--fairness-small", type=int, help="the small tenant's jobs")
    parser.add_argument("--crash-jobs", type=int, help="jobs of the worker-killed part")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the stub's")
    parser.add_argument("--timeout", type=int, help="seconds for the whole bench (then stop)")
    parser.add_argument(
        "--parts", type=lambda t: t.split(","), default=list(PARTS), help=",".join(PARTS)
    )
    parser.add_argument("--output", type=Path, help="the JSON file (default bench/results/)")
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    url = urlsplit(args.database_url)
    if url.scheme not in ("postgres", "postgresql") or not url.path.strip("/"):
        parser.error("--database-url must be postgres://user@host:port/database")
    if url.hostname not in (LOOPBACK, "localhost", "::1"):
        parser.error("--database-url must point at a loopback host: the bench empties tables")
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.tenants < 2 or min(args.jobs, args.cost_jobs, args.crash_jobs) < args.tenants:
        parser.error("at least 2 tenants, and at least one job per tenant in each part")
    args.results_dir = RESULTS_DIR
    name = "autopilot-smoke.json" if args.smoke else "autopilot.json"
    args.output = args.output or RESULTS_DIR / name
    return args


def machine(args) -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        # Through the server's `postgres` database: the bench's may not exist yet.
        "postgresql": databases.server_facts(
            urlunsplit(urlsplit(args.database_url)._replace(path="/postgres"))
        ),
    }


def summary_lines(args, facts: dict, found: dict) -> list[str]:
    m, pg, plan = facts["machine"], facts["machine"]["postgresql"], found["fixtures"]
    return [
        f"machine: {m['cores']} cores ({m['cpu']}), Linux {m['kernel']}, Python {m['python']}; "
        f"load average at start {m['load_average_at_start'][0]:.2f}",
        f"PostgreSQL {pg['server_version']}: fsync {pg['fsync']}, synchronous_commit "
        f"{pg['synchronous_commit']}, shared_preload_libraries "
        f"'{pg['shared_preload_libraries']}'",
        f"{plan['tenants']} tenants on the `{plan['plan']}` plan ({plan['model']}, Autopilot "
        f"concurrency {plan['autopilot_concurrency']}); its rate limit and budget raised so that "
        f"neither refuses: {plan['requests_per_minute']:,} requests/min, "
        f"${float(plan['daily_budget_usd']):,.0f} a day",
        f"stub LLM latency {args.latency_ms:g} ms; workers: `manage.py db_worker "
        "--no-startup-delay --interval 0.05`, DEBUG off, a master key (no fallback mode)",
    ]


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _timed_out(signum, frame) -> None:
    raise BenchTimeout


def main() -> None:
    args = parse_args()
    # SIGTERM (CI cancelling, `kill`) and the overall timeout unwind like Ctrl-C: every worker,
    # the stub and any step in progress are stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _timed_out)
    signal.alarm(args.timeout)
    started = time.monotonic()
    args.results_dir.mkdir(parents=True, exist_ok=True)
    facts = {"machine": machine(args)}
    found = bench(args)
    signal.alarm(0)
    facts["summary"] = summary_lines(args, facts, found)
    options = {k: v for k, v in vars(args).items() if k not in ("results_dir", "output")}
    args.output.write_text(
        json.dumps(
            {"facts": facts, "options": options, "results": found,
             "seconds": time.monotonic() - started,
             "finished_at": datetime.now(UTC).isoformat(timespec="seconds")},
            indent=2, default=str,
        )
    )  # fmt: skip
    print(report.markdown(facts, found))
    print(f"\n(all figures: {args.output.relative_to(REPO_ROOT)}; "
          f"{(time.monotonic() - started) / 60:.1f} min)")  # fmt: skip


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process stopped", file=sys.stderr)
        sys.exit(130)
    except BenchTimeout:
        print("the bench ran past --timeout: every process stopped", file=sys.stderr)
        sys.exit(124)
