"""The bench databases: created and migrated when missing, filled with synthetic history by
`manage.py generate_usage` when short of rows, reset between runs (the gateway one only)."""

import json
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from .processes import LOOPBACK, REPO_ROOT

# What one run of the gateway benchmark writes; emptied before each run so that every run
# starts from an empty accounting history (the "0 rows" of the scale measurements).
ACCOUNTING_TABLES = (
    "ai_usage", "usage_usagerollup", "ai_budgetcounter", "ai_reservation", "ai_idempotencykey",
    "ai_ratelimitstate",
)  # fmt: skip
# What generate_usage writes, as bench/usage_analytics.py vacuums it.
HISTORY_TABLES = ("ai_usage", "usage_usagerollup", "ai_budgetcounter")
# The history of bench/usage_analytics.py's defaults, so that both benches share keybuzz_bench.
GENERATE_TENANTS, GENERATE_DAYS, GENERATE_SEED = 200, 90, 0


def database_url(name: str) -> str:
    return f"postgres://postgres@{LOOPBACK}:5432/{name}"


def _connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")), **kwargs)


def database_ensure(url: str) -> bool:
    """CREATE DATABASE if it does not exist; True if it was created."""
    name = urlsplit(url).path.strip("/")
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with _connect(admin_url, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def manage(*args: str, env: dict, log) -> None:
    """`manage.py <args>`; its output goes to the progress stream."""
    subprocess.run(  # noqa: S603 (a fixed command line)
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, check=True,
        stdout=log, stderr=log, timeout=6 * 3600,
    )  # fmt: skip


def usage_rows(url: str) -> int:
    with _connect(url) as connection:
        return connection.execute("SELECT count(*) FROM ai_usage").fetchone()[0]


def history_fill(url: str, *, rows: int, env: dict, log) -> int:
    """generate_usage until ai_usage holds `rows` rows, then VACUUM (ANALYZE); the row count."""
    count = usage_rows(url)
    if count < rows:
        print(f"{urlsplit(url).path} holds {count:,} rows: generating {rows - count:,}", file=log)
        manage(
            "generate_usage", "--force", f"--tenants={GENERATE_TENANTS}",
            f"--rows={rows - count}", f"--days={GENERATE_DAYS}", f"--seed={GENERATE_SEED}",
            env=env, log=log,
        )  # fmt: skip
        count = usage_rows(url)
    # The steady state autovacuum reaches after a bulk load; quick when nothing is to do.
    with _connect(url, autocommit=True) as connection:
        for table in HISTORY_TABLES:
            connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    return count


def accounting_reset(url: str) -> None:
    """Empty what a run writes (the bench's own gateway database only)."""
    tables = sql.SQL(", ").join(sql.Identifier(table) for table in ACCOUNTING_TABLES)
    with _connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("TRUNCATE {}").format(tables))
        connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(tables))


def floor(url: str, *, iterations: int) -> dict:
    """What PostgreSQL costs at the least, from Python through psycopg (as the app talks to it):
    one round trip (SELECT 1), and one durable write transaction (BEGIN, a one-row INSERT,
    COMMIT with its WAL flush) on a scratch table of the bench's own database."""
    timings: dict[str, list[float]] = {"round_trip": [], "write_transaction": []}
    with _connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, at timestamptz)"
        )
        connection.execute("TRUNCATE bench_floor")
        for _ in range(iterations):
            started = time.perf_counter()
            connection.execute("SELECT 1").fetchone()
            middle = time.perf_counter()
            with connection.transaction():
                connection.execute("INSERT INTO bench_floor (at) VALUES (now())")
            timings["round_trip"].append((middle - started) * 1000)
            timings["write_transaction"].append((time.perf_counter() - middle) * 1000)
        connection.execute("TRUNCATE bench_floor")
    return {name: _percentiles(values) for name, values in timings.items()}


def _percentiles(timings: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p95_ms": cuts[94], "p99_ms": cuts[98]}


def backend_pids(url: str) -> list[int]:
    """The server processes of the connections to this database (the app's), but ours."""
    name = urlsplit(url).path.strip("/")
    with _connect(url) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return [pid for (pid,) in rows]


def server_facts(url: str) -> dict:
    """The PostgreSQL version and the settings that bound these figures."""
    names = (
        "server_version", "max_connections", "shared_buffers", "effective_cache_size",
        "work_mem", "fsync", "synchronous_commit", "wal_level", "full_page_writes",
        "shared_preload_libraries",
    )  # fmt: skip
    with _connect(url) as connection:
        return {
            name: connection.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
            for name in names
        }


def inprocess(step: str, *, env: dict, args: list[str] = ()) -> dict:
    """Run a step of bench/gateway/inprocess.py (inside Django) and return its JSON."""
    done = subprocess.run(  # noqa: S603 (a fixed command line)
        [sys.executable, "-m", "bench.gateway.inprocess", step, *args], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"inprocess {step} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
