"""One benchmark invocation: databases ready, the stub and LiteLLM up once, then `runs` runs of
every measurement; every process is stopped on the way out, whatever happened."""

import contextlib
import secrets
import sys
import tempfile
from pathlib import Path

from . import databases, litellm, load, processes, profile, targets
from .processes import GunicornConfig

BENCH_MASTER_KEY = "sk-bench-master-key-0123456789"  # what the app sends the stub (unchecked)
SCALE_ROWS = {"0": 0, "1m": 1_000_000, "10m": 10_000_000}
MODEL = "kbz-standard"  # the bench plan's alias (the pro plan's model)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args, *, stack: contextlib.ExitStack, workdir: Path):
        self.args, self.stack, self.workdir = args, stack, workdir
        self.secret_key = secrets.token_urlsafe(40)
        self.config = GunicornConfig(
            args.workers, args.threads, args.worker_class, reuse_port=args.reuse_port
        )
        names = {"0": args.gateway_db, "1m": args.db_1m, "10m": args.db_10m}
        self.urls = {scale: databases.database_url(name) for scale, name in names.items()}
        self.fixtures: dict[str, dict] = {}  # by scale: tenant, tokens, session cookie
        self.rows: dict[str, int] = {}  # ai_usage rows of the 1m and 10m databases
        self.stub = self.stub_url = self.proxy = None
        self.static_root = workdir / "static"

    def env(self, scale: str, **extra: str) -> dict:
        return processes.django_env(
            database_url=self.urls[scale],
            secret_key=self.secret_key,
            STATIC_ROOT=str(self.static_root),
            LITELLM_BASE_URL=extra.pop("upstream", self.stub_url or ""),
            LITELLM_MASTER_KEY=extra.pop("master_key", BENCH_MASTER_KEY),
            **extra,
        )

    # -- setting up -------------------------------------------------------------------------

    def prepare(self) -> None:
        for scale in ["0", *(s for s in self.args.scales if s != "0")]:
            url, env = self.urls[scale], self.env(scale)
            if databases.database_ensure(url):
                log(f"Created {url}")
            log(f"Migrating {url}")
            databases.manage("migrate", "--no-input", "-v0", env=env, log=sys.stderr)
            if scale != "0":
                self.rows[scale] = databases.history_fill(
                    url, rows=SCALE_ROWS[scale], env=env, log=sys.stderr
                )
            self.fixtures[scale] = databases.inprocess("fixtures", env=env)
        if "analytics" in self.args.parts:
            log("collectstatic (the usage page needs the manifest)")
            databases.manage(
                "collectstatic", "--no-input", "-v0", env=self.env("0"), log=sys.stderr
            )
        self.stub, self.stub_url = processes.stub_start(
            latency_ms=self.args.latency_ms, log_dir=self.workdir
        )
        self.stack.callback(self.stub.stop)
        if self.args.litellm:
            log("Starting the LiteLLM proxy (tests/integration/litellm_proxy.py)")
            self.proxy = litellm.start(
                stub_url=self.stub_url, workdir=self.workdir, django_env=self.env("0")
            )
            self.stack.callback(self.proxy.stop)

    @contextlib.contextmanager
    def app(self, scale: str, **env_extra: str):
        name = f"app-{scale}" + ("-litellm" if env_extra else "")
        app, url = processes.gunicorn_start(
            name, config=self.config, env=self.env(scale, **env_extra), log_dir=self.workdir
        )
        try:
            yield app, url
        except Exception:
            log(f"--- {name} log (end)\n{app.log_tail()}")
            raise
        finally:
            app.stop()

    def components(self, app=None, scale: str = "0"):
        def pids() -> dict[str, list[int]]:
            found = {"stub": [self.stub.pid]}
            if app is not None:
                found["app"] = processes.group(app.pid)
                found["postgres"] = databases.backend_pids(self.urls[scale])
            if self.proxy is not None:
                found["litellm"] = processes.group(self.proxy.process.pid)
            return found

        return pids

    # -- one run ----------------------------------------------------------------------------

    def run(self, number: int) -> dict:
        args, parts = self.args, self.args.parts
        first = number == 0
        result: dict = {"scale": {}}
        databases.accounting_reset(self.urls["0"])
        fixtures = self.fixtures["0"]
        stub = targets.chat_completion(
            "stub", base_url=self.stub_url, key=BENCH_MASTER_KEY, model=MODEL
        )
        with self.app("0") as (app, url):
            assist = targets.assist(
                "app", app_url=url, token=fixtures["agent_token"], tenant_id=fixtures["tenant"]
            )
            paths = [stub, assist]
            if self.proxy is not None:
                key = litellm.master_key(django_env=self.env("0"))
                paths.append(
                    targets.chat_completion(
                        "litellm", base_url=self.proxy.url, key=key, model=MODEL
                    )
                )
            if "floor" in parts:
                log("PostgreSQL floor: a round trip, a durable write transaction")
                result["floor"] = databases.floor(
                    self.urls["0"], iterations=self.args.budget_iterations
                )
            if "scale" in parts:
                result["scale"]["0"] = self.scale_point("0", url)
            if "queries" in parts and first:
                log("Queries per assist request (CaptureQueriesContext)")
                result["queries"] = databases.inprocess(
                    "queries", env=self.env("0"), args=[fixtures["agent_token"], fixtures["tenant"]]
                )
                log("CPU of a status request in-process, back to back and after 50 ms idle")
                result["idle_cost"] = databases.inprocess(
                    "idle_cost",
                    env=self.env("0"),
                    args=[
                        fixtures["agent_token"],
                        fixtures["tenant"],
                        str(self.args.idle_requests),
                    ],
                )
            components = self.components(app)
            if "overhead" in parts:
                result["overhead"] = self.overhead(paths, components)
            if "rate" in parts:
                result["rate"] = {
                    path.label: self.rate(path, components) for path in paths if path is not stub
                }
            result["memory"] = self.memory(app)
            if "profile" in parts and first and args.profile_seconds:
                result["profile"] = self.profile(app, assist)
        if self.proxy is not None and "chain" in parts:
            result["chain"] = self.chain()
        for scale in (s for s in args.scales if s != "0"):
            with self.app(scale) as (_, url):
                if "scale" in parts:
                    result["scale"][scale] = self.scale_point(scale, url)
                if "analytics" in parts and scale == args.scales[-1]:
                    result["analytics"] = self.analytics(scale, url)
        if "analytics" in parts and args.scales[-1] == "0":
            with self.app("0") as (_, url):  # the smoke: at whatever the gateway run wrote
                result["analytics"] = self.analytics("0", url)
        return result

    def point(self, target, concurrency: int, components=None, *, seconds=None) -> dict:
        seconds = seconds or self.args.seconds
        log(f"  {target.label:<10} c={concurrency:<3} {seconds} s")
        return load.wrk(target, concurrency=concurrency, seconds=seconds, components=components)

    def warm(self, target, concurrency: int, components=None) -> None:
        load.wrk(target, concurrency=concurrency, seconds=self.args.warmup, components=components)

    def overhead(self, paths, components) -> dict:
        for path in paths:  # connections opened, code paths warm, pools filled
            self.warm(path, max(self.args.concurrency), components)
        # Interleaved per concurrency, so whatever else loads the machine falls on every path.
        found: dict[str, dict] = {path.label: {} for path in paths}
        for c in self.args.concurrency:
            for path in paths:
                found[path.label][str(c)] = self.point(path, c, components)
        return found

    def rate(self, target, components) -> dict:
        log(f"Highest sustained rate, {target.label} (p99 ≤ stub latency + 100 ms)")
        found = load.rate_search(
            target,
            steps=self.args.rate_steps,
            seconds=self.args.seconds,
            p99_bound_ms=self.args.latency_ms + 100,
            components=components,
        )
        found["points"] = {str(p["concurrency"]): p for p in found["points"]}
        return found

    def memory(self, app) -> dict:
        found = {
            "app_workers": {
                str(index): processes.memory_kib(pid)
                for index, pid in enumerate(processes.children(app.pid))
            }
        }
        if self.proxy is not None:
            rss = [processes.memory_kib(pid) for pid in processes.group(self.proxy.process.pid)]
            found["litellm"] = {
                "VmHWM": max(m.get("VmHWM", 0) for m in rss),
                "VmRSS": sum(m.get("VmRSS", 0) for m in rss),
            }
        return found

    def profile(self, app, assist) -> dict:
        seconds = self.args.profile_seconds
        log(f"Profiling the workers with py-spy ({seconds} s at concurrency 16)")
        self.warm(assist, 16, self.components(app))
        raw = profile.record(
            master=app.pid,
            seconds=seconds,
            out_dir=self.args.results_dir,
            load=lambda: load.wrk(assist, concurrency=16, seconds=seconds + 2),
        )
        return profile.summary(raw)

    def chain(self) -> dict:
        fixtures = self.fixtures["0"]
        key = litellm.master_key(django_env=self.env("0"))
        with self.app("0", upstream=self.proxy.url, master_key=key) as (app, url):
            chained = targets.assist(
                "app+litellm", app_url=url, token=fixtures["agent_token"],
                tenant_id=fixtures["tenant"],
            )  # fmt: skip
            components = self.components(app)
            self.warm(chained, max(self.args.concurrency), components)
            return {str(c): self.point(chained, c, components) for c in self.args.concurrency}

    def scale_point(self, scale: str, url: str) -> dict:
        fixtures = self.fixtures[scale]
        rows = self.rows.get(scale, 0)
        log(f"Status and budget check at {rows:,} ai_usage rows")
        budget = databases.inprocess(
            "budget",
            env=self.env(scale),
            args=[fixtures["tenant"], str(self.args.budget_iterations)],
        )
        status = targets.get(
            "status",
            f"{url}/ai/assist/status?tenantId={fixtures['busy_tenant']}",
            Authorization=f"Bearer {fixtures['agent_token']}",
        )
        self.warm(status, 1)
        return {
            "rows": rows,
            "busy_tenant": fixtures["busy_tenant"],
            "status": self.point(status, 1),
            "budget": budget,
        }

    def analytics(self, scale: str, url: str) -> dict:
        fixtures = self.fixtures[scale]
        busy, staff = fixtures["busy_tenant"], f"Bearer {fixtures['staff_token']}"
        agent = f"Bearer {fixtures['agent_token']}"
        pages = {
            "history_platform": targets.get(
                "usage 30 days, platform", f"{url}/admin/ai/usage?days=30", Authorization=staff
            ),
            "history_tenant": targets.get(
                "usage 30 days, tenant",
                f"{url}/admin/ai/usage?tenantId={busy}&days=30",
                Authorization=agent,
            ),
            "usage_page": targets.get(
                "/usage/ page",
                f"{url}/usage/?tenantId={busy}&days=30",
                Cookie=fixtures["session_cookie"],
            ),
        }
        found: dict = {"rows": self.rows.get(scale) or databases.usage_rows(self.urls[scale])}
        for name, target in pages.items():
            status = processes.http_status(target.url, target.headers)
            if status != 200:
                found[name] = {"pending": f"HTTP {status}"}
                continue
            self.warm(target, 1)
            found[name] = self.point(target, 1)
        return found


def bench(args) -> tuple[dict, list[dict]]:
    """(facts about the machine and the setup, one result per run)."""
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="keybuzz-bench-")))
        bench = Bench(args, stack=stack, workdir=workdir)
        bench.prepare()
        runs = []
        for number in range(args.runs):
            log(f"=== run {number + 1} of {args.runs}")
            runs.append(bench.run(number))
        facts = {"rows": bench.rows, "gunicorn": bench.config.describe()}
        return facts, runs
