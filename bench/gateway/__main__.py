"""Gateway benchmark: our overhead, LiteLLM's, throughput and scale, side by side.

    .venv/bin/python -m bench.gateway            # make bench: everything, median of 3 runs
    .venv/bin/python -m bench.gateway --smoke    # make bench-smoke: seconds, for CI

An asynchronous stub LLM (bench/stub_llm.py, 50 ms) on loopback; the app under gunicorn on
PostgreSQL (./gunicorn.conf.py, DEBUG off); the real LiteLLM proxy of the integration suite in
front of the same stub; wrk at each concurrency for a fixed duration against the stub directly,
the app, LiteLLM and the app through LiteLLM. Then the highest sustained rate, the status
endpoint and the budget check at 0, 1 M and 10 M ai_usage rows, the analytics at 10 M rows,
peak memory, SQL per request and a py-spy profile. Markdown on stdout (progress on stderr), all
the figures in bench/results/*.json. docs/PERFORMANCE.md explains every number.
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import databases, figures, litellm, load, report
from .processes import REPO_ROOT
from .run import bench

RESULTS_DIR = REPO_ROOT / "bench" / "results"
PARTS = ("overhead", "rate", "chain", "scale", "analytics", "queries", "floor", "profile")
FULL = dict(runs=3, seconds=10, warmup=2, concurrency=[1, 16, 64],
            rate_steps=[1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128], scales=["0", "1m", "10m"],
            profile_seconds=10, budget_iterations=500, idle_requests=100)  # fmt: skip
SMOKE = dict(runs=1, seconds=2, warmup=1, concurrency=[1, 16], rate_steps=[4, 16],
             scales=["0"], profile_seconds=0, budget_iterations=50, idle_requests=10)  # fmt: skip


def _ints(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the seconds-long CI preset")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--seconds", type=int, help="per measured point")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up per path")
    parser.add_argument("--concurrency", type=_ints, help="e.g. 1,16,64")
    parser.add_argument("--rate-steps", type=_ints, help="concurrency steps of the rate search")
    parser.add_argument("--scales", type=lambda t: t.split(","), help="among 0,1m,10m")
    parser.add_argument("--profile-seconds", type=int, help="0: no py-spy profile")
    parser.add_argument("--budget-iterations", type=int)
    parser.add_argument("--idle-requests", type=int, help="status requests per idle-cost figure")
    parser.add_argument("--parts", type=lambda t: t.split(","), default=list(PARTS))
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the stub's")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8, help="per gthread worker")
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    parser.add_argument(
        "--reuse-port",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="GUNICORN_REUSE_PORT for the app: one SO_REUSEPORT socket per worker",
    )
    parser.add_argument(
        "--litellm",
        choices=("auto", "on", "off"),
        default="auto",
        help="auto: on for the full bench; for --smoke, only if its virtualenv is cached or "
        "BENCH_LITELLM=1",
    )
    parser.add_argument("--gateway-db", default="keybuzz_bench_gateway")
    parser.add_argument("--db-1m", default="keybuzz_bench_1m")
    parser.add_argument("--db-10m", default="keybuzz_bench")
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if unknown := [s for s in args.scales if s not in ("0", "1m", "10m")]:
        parser.error(f"unknown scales: {', '.join(unknown)}")
    args.scales = sorted(set(args.scales) | {"0"}, key=["0", "1m", "10m"].index)
    if args.worker_class == "sync":
        args.threads = 1  # gunicorn would switch to gthread otherwise
    if args.litellm == "auto":
        args.litellm = not args.smoke or litellm.cached() or os.environ.get("BENCH_LITELLM") == "1"
    else:
        args.litellm = args.litellm == "on"
    if not args.litellm:
        args.parts = [part for part in args.parts if part != "chain"]
    args.results_dir = RESULTS_DIR
    return args


def machine(args) -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    wrk_version = subprocess.run(  # noqa: S603 (a fixed command line)
        [load.wrk_path(), "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[0]
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version.split(" Copyright")[0],
        "load_average_at_start": os.getloadavg(),
        "postgresql": databases.server_facts(databases.database_url("postgres")),
    }


def summary_lines(args, facts: dict) -> list[str]:
    m, pg = facts["machine"], facts["machine"]["postgresql"]
    return [
        f"machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}; load average at start {m['load_average_at_start'][0]:.2f}",
        f"PostgreSQL {pg['server_version']}: shared_buffers {pg['shared_buffers']}, "
        f"fsync {pg['fsync']}, synchronous_commit {pg['synchronous_commit']}",
        f"app: gunicorn {facts['gunicorn']}, ./gunicorn.conf.py (access log on), DEBUG off; "
        f"stub latency {args.latency_ms:g} ms; LiteLLM proxy "
        f"{'1.108.7, 1 worker' if args.litellm else 'not run'}",
        f"load: {m['wrk']}, {args.seconds} s per point after {args.warmup} s of warm-up per path, "
        f"{args.runs} run(s); the median of the runs is shown",
    ]


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    args = parse_args()
    # SIGTERM (CI cancelling, `kill`) unwinds like Ctrl-C, so every process gets stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    load.wrk_path()
    started = time.monotonic()
    facts = {"machine": machine(args)}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    run_facts, runs = bench(args)
    facts |= run_facts
    facts["summary"] = summary_lines(args, facts)
    derived = [figures.derive(run) for run in runs]
    median = figures.median_of(derived)
    markdown = report.markdown(facts, median, len(runs))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results_dir / f"gateway-{'smoke' if args.smoke else 'full'}-{stamp}.json"
    options = {key: value for key, value in vars(args).items() if key != "results_dir"}
    out.write_text(
        json.dumps(
            {"facts": facts, "options": options, "median": median, "runs": derived,
             "targets": figures.targets(median), "seconds": time.monotonic() - started},
            indent=2, default=str,
        )
    )  # fmt: skip
    print(markdown)
    print(f"\n(all figures: {out.relative_to(REPO_ROOT)})")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process stopped", file=sys.stderr)
        sys.exit(130)
