"""One invocation of the Autopilot benchmark: the database ready, the stub up, then each part
with its own `manage.py db_worker` processes; every process is stopped on the way out, whatever
happened (bench/gateway/processes.py's process groups)."""

import contextlib
import json
import os
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.gateway import databases, processes

from . import inprocess
from .cpu import CpuSampler

BENCH_MASTER_KEY = "sk-bench-master-key-0123456789"  # what the workers send the stub (unchecked)
FINAL = ("succeeded", "failed", "cancelled", "expired")
# The crash part: a lease that ends soon after the kill (it must exceed the upstream timeout,
# and the dead run's reservation must have expired when the job is re-driven, to be closed).
CRASH_ENV = dict(
    AUTOPILOT_LEASE_SECONDS="12", LITELLM_TIMEOUT_SECONDS="5", AI_RESERVATION_TTL_SECONDS="10"
)
STALL_SECONDS = 120  # no job became final for this long: the part fails
POLL_SECONDS = 0.25  # how often the bench counts final jobs (one statement on one connection)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")), **kwargs)


def _percentile(values: list[float], cut: int) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[cut - 1]


class Bench:
    def __init__(self, args, *, stack: contextlib.ExitStack, workdir: Path):
        self.args, self.stack, self.workdir = args, stack, workdir
        self.url = args.database_url
        self.database = urlsplit(args.database_url).path.strip("/")
        self.secret_key = secrets.token_urlsafe(40)
        self.tenants = inprocess.tenant_ids(args.tenants)
        self.stub = self.stub_url = self.static_root = None
        self.spawned = 0
        self.poll_connection, self.poll_pid = None, None

    def env(self, **extra: str) -> dict:
        return processes.django_env(
            database_url=self.url,
            secret_key=self.secret_key,
            LITELLM_BASE_URL=self.stub_url or "",
            LITELLM_MASTER_KEY=BENCH_MASTER_KEY,  # not fallback mode: every job calls the stub
            **({"STATIC_ROOT": str(self.static_root)} if self.static_root else {}),
            **extra,
        )

    # -- setting up -------------------------------------------------------------------------

    def prepare(self) -> dict:
        if databases.database_ensure(self.url):
            log(f"Created {self.url}")
        log(f"Migrating {self.url}")
        databases.manage("migrate", "--no-input", "-v0", env=self.env(), log=sys.stderr)
        fixtures = self.inprocess("fixtures", str(self.args.tenants))
        log(
            f"Plan {fixtures['plan']} raised so that neither its rate limit nor its budget "
            f"refuses: {fixtures['requests_per_minute']:,} requests/min, "
            f"${fixtures['daily_budget_usd']} a day; {fixtures['tenants']} tenants"
        )
        self.static_root = processes.static_collected(self.env())
        self.stub, self.stub_url = processes.stub_start(
            latency_ms=self.args.latency_ms, log_dir=self.workdir
        )
        self.stack.callback(self.stub.stop)
        return fixtures

    def inprocess(self, step: str, *arguments: str, env: dict | None = None) -> dict:
        """A step of inprocess.py in a subprocess (killed if the bench is interrupted)."""
        done = subprocess.run(  # noqa: S603 (a fixed command line)
            [sys.executable, "-m", "bench.autopilot.inprocess", step, *arguments],
            cwd=processes.REPO_ROOT, env=env or self.env(), capture_output=True, text=True,
            timeout=1800, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"inprocess {step} failed:\n{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def reset(self) -> None:
        tables = ", ".join(inprocess.RUN_TABLES)
        with _connect(self.url, autocommit=True) as connection:
            connection.execute(f"TRUNCATE {tables}")
            connection.execute(f"VACUUM (ANALYZE) {tables}")

    def analyze(self) -> None:
        """The planner's statistics of a queue just filled, as autovacuum would soon have them."""
        with _connect(self.url, autocommit=True) as connection:
            connection.execute("ANALYZE ai_autopilot_job, django_tasks_database_dbtaskresult")

    def enqueue(self, counts: dict[str, int], prefix: str, env: dict | None = None) -> dict:
        spec = json.dumps(list(counts.items()))
        return self.inprocess("enqueue", spec, prefix, env=env)

    def sql(self, query: str, params=()) -> list[tuple]:
        with _connect(self.url) as connection:
            return connection.execute(query, params).fetchall()

    # -- workers ----------------------------------------------------------------------------

    def worker(self, label: str, env: dict) -> processes.Managed:
        self.spawned += 1
        name = f"worker-{label}-{self.spawned}"
        managed = processes.spawn(
            name,
            [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval",
             "0.05", "--worker-id", name],
            env=env, log_dir=self.workdir,
        )  # fmt: skip
        return managed

    @contextlib.contextmanager
    def workers(self, count: int, label: str, env: dict | None = None):
        """`count` workers; the caller may append more to the list, all are stopped."""
        started: list[processes.Managed] = []
        try:
            for _ in range(count):
                started.append(self.worker(label, env or self.env()))
            yield started
        except Exception:
            for managed in started:
                log(f"--- {managed.name} log (end)\n{managed.log_tail()}")
            raise
        finally:
            for managed in started:
                managed.stop(grace=10)  # SIGTERM: the task in hand ends; SIGKILL after 10 s

    def poller(self) -> tuple[psycopg.Connection, int]:
        """The one connection that polls for final jobs, and its server process (left out of
        PostgreSQL's CPU: it is the bench's, not the queue's)."""
        if self.poll_connection is None:
            self.poll_connection = self.stack.enter_context(_connect(self.url, autocommit=True))
            self.poll_pid = self.poll_connection.execute("SELECT pg_backend_pid()").fetchone()[0]
        return self.poll_connection, self.poll_pid

    def final_count(self, prefix: str) -> int:
        return (
            self.poller()[0]
            .execute(
                "SELECT count(*) FROM ai_autopilot_job WHERE status = ANY(%s)"
                " AND request_id LIKE %s",
                [list(FINAL), f"{prefix}-%"],
            )
            .fetchone()[0]
        )

    def wait_final(self, prefix: str, *, at_least: int, workers: list, sampler=None) -> float:
        """Poll until `at_least` jobs of `prefix` are final; the monotonic time they were."""
        last, progressed, sampled = -1, time.monotonic(), 0.0
        while (done := self.final_count(prefix)) < at_least:
            now = time.monotonic()
            if sampler is not None and now - sampled >= 1:
                sampler.sample()
                sampled = now
            if done != last:
                last, progressed = done, now
            elif now - progressed > STALL_SECONDS:
                raise RuntimeError(f"{prefix}: stuck at {done} of {at_least} final jobs")
            if all(w.process.poll() is not None for w in workers):
                raise RuntimeError(f"{prefix}: every worker exited, {done} of {at_least} final")
            time.sleep(POLL_SECONDS)
        return time.monotonic()

    def spread(self, jobs: int) -> dict[str, int]:
        each, extra = divmod(jobs, len(self.tenants))
        return {t: each + (i < extra) for i, t in enumerate(self.tenants)}

    # -- the parts --------------------------------------------------------------------------

    def startup_cpu(self) -> float:
        """CPU seconds of one `db_worker` from its start to its first poll (Django's start):
        a `--batch` worker on an empty queue, its children's rusage."""
        self.reset()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"],
            cwd=processes.REPO_ROOT, env=self.env(), check=True, timeout=120,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def throughput(self, count: int, startup_cpu: float) -> dict:
        jobs, prefix = self.args.jobs, f"throughput{count}"
        log(f"Throughput: {jobs:,} jobs over {len(self.tenants)} tenants, {count} worker(s)")
        self.reset()
        enqueued = self.enqueue(self.spread(jobs), prefix)
        self.analyze()
        sampler = CpuSampler(
            database=self.database, stub_pid=self.stub.pid, ignored_pids={self.poller()[1]}
        )
        spawned = time.monotonic()
        with self.workers(count, f"x{count}") as started:
            sampler.worker_pids = {w.pid for w in started}
            done_at = self.wait_final(prefix, at_least=jobs, workers=started, sampler=sampler)
            sampler.sample()
            tasks = self.sql(
                "SELECT count(*) FROM django_tasks_database_dbtaskresult"
                " WHERE status = 'SUCCESSFUL'"
            )[0][0]
        figures = self.sql(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), min(started_at),"
            " max(finished_at), extract(epoch FROM max(finished_at) - min(started_at)),"
            " array_agg(extract(epoch FROM finished_at - started_at))"
            " FROM ai_autopilot_job WHERE request_id LIKE %s",
            [f"{prefix}-%"],
        )[0]
        succeeded, span, runs = figures[0], float(figures[3]), [float(r) for r in figures[4]]
        rows = self.sql("SELECT count(*) FROM ai_usage WHERE status = 'success'")[0][0]
        wall = done_at - spawned
        cpu = sampler.seconds()
        cpu["workers_less_startup"] = cpu["workers"] - count * startup_cpu
        return {
            "workers": count,
            "jobs": jobs,
            "succeeded": succeeded,
            "success_rows": rows,
            "enqueue": enqueued,
            "wall_s": wall,
            "span_s": span,
            "startup_s": wall - span,
            "jobs_per_s": jobs / span,
            "jobs_per_s_wall": jobs / wall,
            "run_p50_ms": _percentile(runs, 50) * 1000,
            "run_p95_ms": _percentile(runs, 95) * 1000,
            "cpu_ms_per_job": {kind: seconds * 1000 / jobs for kind, seconds in cpu.items()},
            "machine_busy_percent": cpu["machine"] / wall / (os.cpu_count() or 1) * 100,
            "tasks_run_by_then": tasks,
        }

    def cost(self) -> dict:
        log(f"Queue's own cost: {self.args.cost_jobs} jobs in-process (django-tasks-db's Worker)")
        self.reset()
        env = self.env(CONN_MAX_AGE="3600")  # one backend throughout: its CPU is read
        return self.inprocess(
            "cost", str(self.args.tenants), str(self.args.cost_jobs), "20", env=env
        )

    def waits(self, prefix: str) -> dict:
        waits = [
            float(w)
            for (w,) in self.sql(
                "SELECT extract(epoch FROM started_at - created_at) FROM ai_autopilot_job"
                " WHERE request_id LIKE %s",
                [f"{prefix}-%"],
            )
        ]
        return {
            "jobs": len(waits),
            "p50_ms": _percentile(waits, 50) * 1000,
            "p95_ms": _percentile(waits, 95) * 1000,
            "max_ms": max(waits) * 1000,
        }

    def fairness(self) -> dict:
        small, large = self.tenants[1], self.tenants[0]
        flood, count = self.args.fairness_flood, self.args.fairness_small
        log(f"Fairness: {count} jobs of {small} alone, then behind {flood:,} of {large}")
        self.reset()
        with self.workers(2, "alone") as started:
            self.enqueue({small: 1}, "warm")  # the workers' first job: they are up and warm
            self.wait_final("warm", at_least=1, workers=started)
            self.enqueue({small: count}, "alone")
            self.wait_final("alone", at_least=count, workers=started)
        alone = self.waits("alone")
        self.reset()
        with self.workers(2, "flood") as started:
            self.enqueue({large: flood}, "flood")
            self.wait_final("flood", at_least=min(50, flood), workers=started)
            waiting = flood - self.final_count("flood")
            self.enqueue({small: count}, "small")
            self.wait_final("small", at_least=count, workers=started)
            still = flood - self.final_count("flood")
        return {
            "small_tenant": small,
            "large_tenant": large,
            "alone": alone,
            "behind_flood": self.waits("small"),
            "flood_unfinished_when_small_queued": waiting,
            "flood_unfinished_when_small_done": still,
        }

    def crash(self) -> dict:
        jobs = self.args.crash_jobs
        log(f"Crash: {jobs:,} jobs, 2 workers, one SIGKILLed mid-run ({CRASH_ENV})")
        self.reset()
        env = self.env(**CRASH_ENV)
        self.enqueue(self.spread(jobs), "crash", env=env)
        started_at = time.monotonic()
        with self.workers(2, "crash", env=env) as started:
            self.wait_final("crash", at_least=jobs * 3 // 10, workers=started)
            victim = started.pop(0)  # ours to end: SIGKILL, no clean shutdown
            os.killpg(victim.pid, signal.SIGKILL)
            victim.process.wait(timeout=10)
            killed_at, final_at_kill = time.monotonic(), self.final_count("crash")
            log(f"  killed {victim.name} at {final_at_kill} of {jobs} final; a replacement")
            started.append(self.worker("crash-replacement", env))
            done_at = self.wait_final("crash", at_least=jobs, workers=started)
        return {
            "jobs": jobs,
            "env": CRASH_ENV,
            "killed_after_s": killed_at - started_at,
            "final_at_kill": final_at_kill,
            "all_final_s_after_kill": done_at - killed_at,
            **self.crash_checks(),
        }

    def crash_checks(self) -> dict:
        one = lambda query: self.sql(query)[0][0]  # noqa: E731
        statuses = dict(self.sql("SELECT status, count(*) FROM ai_autopilot_job GROUP BY status"))
        rows = {
            f"{status}/{code or '-'}": n
            for status, code, n in self.sql(
                "SELECT status, error_code, count(*) FROM ai_usage GROUP BY 1, 2 ORDER BY 1, 2"
            )
        }
        return {
            "statuses": statuses,
            "lost": sum(n for status, n in statuses.items() if status not in FINAL),
            "duplicated": one(
                "SELECT count(*) FROM (SELECT request_id FROM ai_usage WHERE status = 'success'"
                " GROUP BY request_id HAVING count(*) > 1) d"
            ),
            "succeeded_without_success_row": one(
                "SELECT count(*) FROM ai_autopilot_job j WHERE j.status = 'succeeded' AND NOT"
                " EXISTS (SELECT 1 FROM ai_usage u WHERE u.request_id = j.request_id"
                " AND u.status = 'success')"
            ),
            "redriven_jobs": one("SELECT count(*) FROM ai_autopilot_job WHERE attempts > 1"),
            # Each re-driven job's rows, oldest first: what its dead run had written, then its
            # new run's.
            "redriven_rows": dict(
                self.sql(
                    "SELECT j.request_id, array_agg(u.status || '/' || coalesce(nullif("
                    "u.error_code, ''), '-') ORDER BY u.created_at) FROM ai_autopilot_job j"
                    " LEFT JOIN ai_usage u ON u.request_id = j.request_id WHERE j.attempts > 1"
                    " GROUP BY j.request_id"
                )
            ),
            "usage_rows": rows,
            "reservations_left": one("SELECT count(*) FROM ai_reservation"),
            "reserved_micros_left": one(
                "SELECT coalesce(sum(reserved_micros), 0) FROM ai_budgetcounter"
            ),
        }


def bench(args) -> dict:
    """Every part the options ask for; the processes stopped whatever happens."""
    with contextlib.ExitStack() as stack:
        workdir = args.results_dir / "autopilot-logs"
        workdir.mkdir(parents=True, exist_ok=True)
        for old in workdir.glob("*.log"):
            old.unlink()
        bench = Bench(args, stack=stack, workdir=workdir)
        found: dict = {"fixtures": bench.prepare()}
        if "cost" in args.parts:
            found["cost"] = bench.cost()
        if "fairness" in args.parts:
            found["fairness"] = bench.fairness()
        if "crash" in args.parts:
            found["crash"] = bench.crash()
        if "throughput" in args.parts:
            found["worker_startup_cpu_s"] = startup = bench.startup_cpu()
            found["throughput"] = [bench.throughput(n, startup) for n in args.workers]
        return found  # the last part's rows stay, to be looked at
