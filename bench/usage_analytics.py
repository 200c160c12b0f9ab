"""Latency of the usage analytics and the status endpoint over a large ai_usage table.

    .venv/bin/python bench/usage_analytics.py \\
        --database-url postgres://postgres@127.0.0.1:5432/keybuzz_bench \\
        --rows 10000000 --tenants 200 --days 90

1. creates the database if missing and migrates it;
2. runs `generate_usage` until ai_usage holds --rows rows (nothing to do on a re-run);
3. issues a staff token and a member token (of the busiest synthetic tenant and of an empty
   tenant, `bench-empty`);
4. starts the app under gunicorn (1 worker, DEBUG off, fallback mode) on a free 127.0.0.1 port;
5. after a warm-up, times --requests sequential requests per endpoint (rounds of one request
   per endpoint, in a seeded shuffled order; one keep-alive session per token), and
   prints the percentiles, the status busy/empty ratio and the table sizes as Markdown on
   stdout (progress goes to stderr). gunicorn is stopped whatever happens.
"""

import argparse
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
EMPTY_TENANT_ID = "bench-empty"
STAFF_EMAIL, MEMBER_EMAIL = "bench-staff@keybuzz.localhost", "bench-member@keybuzz.localhost"
TABLES = ("ai_usage", "usage_usagerollup", "ai_budgetcounter")
COUNT_USAGE = "SELECT count(*) FROM ai_usage"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=f"postgres://postgres@{LOOPBACK}:5432/keybuzz_bench"
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per endpoint")
    args = parser.parse_args(argv)
    url = urlsplit(args.database_url)
    if url.scheme not in ("postgres", "postgresql") or not url.path.strip("/"):
        parser.error("--database-url must be postgres://user@host:port/database")
    if url.hostname not in (LOOPBACK, "localhost", "::1"):
        parser.error("--database-url must point at a loopback host: this script writes to it")
    if min(args.rows, args.tenants, args.days, args.requests) < 1 or args.warmup < 0:
        parser.error("--rows, --tenants, --days and --requests must be positive")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def database_ensure(database_url: str) -> None:
    """CREATE DATABASE if it does not exist (through the server's `postgres` database)."""
    url = urlsplit(database_url)
    name = url.path.strip("/")
    admin_url = urlunsplit(url._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        log(f"Creating database {name}")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def django_setup(*, database_url: str, secret_key: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="keybuzz.settings",
        DJANGO_READ_DOT_ENV_FILE="false",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECURE_HTTPS="false",  # plain HTTP on loopback
        SECRET_KEY=secret_key,
    )
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


def usage_row_count() -> tuple[int, float]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(COUNT_USAGE)
        count = cursor.fetchone()[0]
    return count, time.perf_counter() - started


def usage_fill(args: argparse.Namespace) -> tuple[int, float] | None:
    """generate_usage until ai_usage holds args.rows rows; (rows added, seconds) or None."""
    from django.core.management import call_command

    added, seconds = 0, 0.0
    while (count := usage_row_count()[0]) < args.rows:
        log(f"ai_usage holds {count:,} rows: generating {args.rows - count:,}")
        started = time.monotonic()
        call_command(
            "generate_usage",
            "--force",
            f"--tenants={args.tenants}",
            f"--rows={args.rows - count}",
            f"--days={args.days}",
            f"--seed={args.seed}",
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        added, seconds = added + args.rows - count, seconds + time.monotonic() - started
    return (added, seconds) if added else None


def tables_vacuum() -> None:
    """The steady state autovacuum reaches after a bulk load (visibility map, statistics),
    now rather than in the middle of the measurements; quick when there is nothing to do."""
    from django.db import connection

    log("VACUUM (ANALYZE)")
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def fixtures_ensure() -> tuple[str, str, str]:
    """(busiest synthetic tenant id, staff token, member token of it and of the empty tenant)."""
    from django.db.models import Sum

    from tenants.models import Plan, Tenant
    from tenants.services import (
        membership_get_or_create,
        tenant_create,
        user_get_or_create,
    )
    from tenants.tokens import api_token_issue
    from usage.models import UsageRollup

    busiest = (
        UsageRollup.objects.filter(tenant__id__startswith="synthetic-")
        .values("tenant_id")
        .annotate(calls=Sum("calls"))
        .order_by("-calls", "tenant_id")
        .first()
    )
    busy = Tenant.objects.get(pk=busiest["tenant_id"])
    empty = Tenant.objects.filter(pk=EMPTY_TENANT_ID).first() or tenant_create(
        tenant_id=EMPTY_TENANT_ID,
        name="Bench tenant without history",
        plan=Plan.objects.get(pk=busy.plan_id),
        timezone=busy.timezone,
    )
    staff, _ = user_get_or_create(email=STAFF_EMAIL, is_staff=True)
    member, _ = user_get_or_create(email=MEMBER_EMAIL)
    for tenant in (busy, empty):
        membership_get_or_create(user=member, tenant=tenant)
    return busy.id, api_token_issue(user=staff)[1], api_token_issue(user=member)[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def gunicorn_start(*, port: int, log_file) -> subprocess.Popen:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LITELLM_MASTER_KEY", "WEB_CONCURRENCY")
    }
    env.update(WEB_CONCURRENCY="1", PORT=str(port))
    # Served as in production: DEBUG off needs collectstatic's output, made once per machine.
    env["STATIC_ROOT"] = str(REPO_ROOT / "bench" / "results" / "static")
    if not (Path(env["STATIC_ROOT"]) / "staticfiles.json").is_file():
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=REPO_ROOT, env=env, check=True, timeout=300,
        )  # fmt: skip
    gunicorn = Path(sys.executable).parent / "gunicorn"
    return subprocess.Popen(  # noqa: S603 (a fixed command line)
        [str(gunicorn), "keybuzz.wsgi:application", "--workers", "1",
         "--bind", f"{LOOPBACK}:{port}", "--access-logfile", "/dev/null"],
        cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip


def gunicorn_wait(process: subprocess.Popen, base_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start (see its log above)")


def gunicorn_stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def session_for(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def timed_get(session: requests.Session, url: str, params: dict) -> float:
    """Milliseconds of one GET, body read; anything but 200 stops the benchmark."""
    started = time.perf_counter()
    response = session.get(url, params=params, timeout=30)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} {params}: {response.status_code} {response.text[:200]}")
    return elapsed


def percentiles(timings: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(timings)}


def table_sizes() -> list[tuple]:
    from django.db import connection

    rows = []
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"SELECT count(*), pg_size_pretty(pg_relation_size('{table}')), "  # noqa: S608
                f"pg_size_pretty(pg_indexes_size('{table}')), "
                f"pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}"
            )
            rows.append((table, *cursor.fetchone()))
    return rows


def run(args: argparse.Namespace) -> None:
    database_ensure(args.database_url)
    django_setup(database_url=args.database_url, secret_key=secrets.token_urlsafe(40))
    from django.core.management import call_command

    log("Migrating")
    call_command("migrate", "--no-input", verbosity=0)
    generation = usage_fill(args)
    tables_vacuum()
    busy_id, staff_token, member_token = fixtures_ensure()
    row_count, count_seconds = usage_row_count()

    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    with tempfile.TemporaryFile("w+") as gunicorn_log:
        process = gunicorn_start(port=port, log_file=gunicorn_log)
        try:
            gunicorn_wait(process, base_url)
            results = endpoints_measure(args, base_url, busy_id, staff_token, member_token)
        except Exception:
            gunicorn_log.seek(0)
            log(gunicorn_log.read()[-4000:])
            raise
        finally:
            gunicorn_stop(process)
    report_print(args, generation, busy_id, row_count, count_seconds, results)


def endpoints_measure(args, base_url, busy_id, staff_token, member_token) -> list[tuple]:
    member, staff = session_for(member_token), session_for(staff_token)
    endpoints = [
        ("usage/today, busy tenant", member, "/admin/ai/usage/today", {"tenantId": busy_id}),
        ("usage 30 days, busy tenant", member, "/admin/ai/usage",
         {"tenantId": busy_id, "days": 30}),
        ("usage 30 days, whole platform (staff)", staff, "/admin/ai/usage", {"days": 30}),
        ("assist/status, busy tenant", member, "/ai/assist/status", {"tenantId": busy_id}),
        ("assist/status, tenant without history", member, "/ai/assist/status",
         {"tenantId": EMPTY_TENANT_ID}),
    ]  # fmt: skip
    # Rounds of one request per endpoint, shuffled every round (seeded): whatever else the
    # machine does (autovacuum, other processes) and whatever a request leaves to the next
    # (the platform view is heavy) falls on every endpoint alike.
    timings = {label: [] for label, *_ in endpoints}
    order = random.Random(args.seed)  # noqa: S311 (an order, not a secret)
    log(f"Measuring {len(endpoints)} endpoints, {args.warmup} + {args.requests} rounds")
    for round_number in range(args.warmup + args.requests):
        for label, session, path, params in order.sample(endpoints, k=len(endpoints)):
            elapsed = timed_get(session, base_url + path, params)
            if round_number >= args.warmup:
                timings[label].append(elapsed)
    return [(label, percentiles(values)) for label, values in timings.items()]


def report_print(args, generation, busy_id, row_count, count_seconds, results) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    if generation:
        added, seconds = generation
        generated = (
            f"{added:,} rows in {seconds:,.1f} s ({added / seconds:,.0f} rows/s), "
            f"{args.tenants} tenants over {args.days} days, seed {args.seed}"
        )
    else:
        generated = "skipped, the table already held the requested rows"
    busy, empty = results[3][1], results[4][1]
    ratios = ", ".join(f"{key} {busy[key] / empty[key]:.2f}" for key in ("p50", "p95", "p99"))
    lines = [
        "## Usage analytics benchmark",
        "",
        f"- database: `{connection.settings_dict['NAME']}`, PostgreSQL {version}; "
        f"`{COUNT_USAGE}` = **{row_count:,}** ({count_seconds:.2f} s)",
        f"- generation: {generated}",
        f"- app: gunicorn, 1 worker, DEBUG off, fallback mode, on {LOOPBACK}; busy tenant "
        f"`{busy_id}`; {args.requests} sequential requests per endpoint after "
        f"{args.warmup} warm-up (shuffled rounds), one keep-alive session per token",
        "",
        "| endpoint | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {label} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} | {p['max']:.2f} |"
            for label, p in results
        ),
        "",
        f"assist/status busy ÷ empty: {ratios}",
        "",
        "| table | rows | heap | indexes | total |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {table} | {count:,} | {heap} | {indexes} | {total} |"
            for table, count, heap, indexes, total in table_sizes()
        ),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    run(parse_args())
