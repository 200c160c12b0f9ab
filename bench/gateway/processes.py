"""The processes of a benchmark run: started in process groups of their own, stopped whatever
happens, and looked at through /proc (worker pids, CPU time, peak memory)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
LOOPBACK = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Variables of ours that must not leak from the caller's shell into the app under test.
_NOT_INHERITED = (
    "DATABASE_URL", "DEBUG", "LITELLM_BASE_URL", "LITELLM_MASTER_KEY", "LITELLM_TIMEOUT_SECONDS",
    "WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "PROMETHEUS_MULTIPROC_DIR", "STATIC_ROOT",
    "CONN_MAX_AGE",
)  # fmt: skip


@dataclass
class Managed:
    """A started process and its log; stop() ends its whole process group."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, *, grace: float = 10.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        # Whatever is left of the group (a worker, a LiteLLM child), even if the leader is gone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def spawn(name: str, argv: list[str], *, env: dict, log_dir: Path) -> Managed:
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 (fixed command lines built here)
            argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches every child
        )  # fmt: skip
    return Managed(name, process, log_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until_ok(managed: Managed, url: str, *, timeout: float, headers=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and managed.process.poll() is None:
        try:
            if requests.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{managed.name} did not start:\n{managed.log_tail()}")


def http_status(url: str, headers: dict) -> int:
    return requests.get(url, headers=headers, timeout=120, allow_redirects=False).status_code


def django_env(*, database_url: str, secret_key: str, **extra: str) -> dict:
    """The app's environment as in production, but on loopback HTTP and a bench database."""
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env.update(
        DJANGO_SETTINGS_MODULE="keybuzz.settings",
        DJANGO_READ_DOT_ENV_FILE="false",
        DEBUG="false",
        SECURE_HTTPS="false",  # plain HTTP on loopback
        SECRET_KEY=secret_key,
        DATABASE_URL=database_url,
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return env


def stub_start(*, latency_ms: float, log_dir: Path) -> tuple[Managed, str]:
    port = free_port()
    stub = spawn(
        "stub",
        [sys.executable, str(REPO_ROOT / "bench" / "stub_llm.py"), "--port", str(port),
         "--latency-ms", str(latency_ms)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, log_dir=log_dir,
    )  # fmt: skip
    url = f"http://{LOOPBACK}:{port}"
    wait_until_ok(stub, f"{url}/health", timeout=20)
    return stub, url


@dataclass(frozen=True)
class GunicornConfig:
    workers: int
    threads: int
    worker_class: str  # "gthread" or "sync"
    reuse_port: bool = True  # GUNICORN_REUSE_PORT: one listening socket per worker

    def describe(self) -> str:
        sockets = ", a SO_REUSEPORT socket each" if self.reuse_port else ""
        if self.worker_class == "sync":
            return f"{self.workers} sync workers{sockets}"
        return f"{self.workers} {self.worker_class} workers x {self.threads} threads{sockets}"


def gunicorn_start(
    name: str, *, config: GunicornConfig, env: dict, log_dir: Path
) -> tuple[Managed, str]:
    """The app as deployed (./gunicorn.conf.py, its access log included, its static files
    collected), on a free port."""
    env = {**env, "STATIC_ROOT": str(static_collected(env))}
    port = free_port()
    app = spawn(
        name,
        [str(VENV_BIN / "gunicorn"), "keybuzz.wsgi:application", "--bind", f"{LOOPBACK}:{port}",
         "--workers", str(config.workers), "--threads", str(config.threads),
         "--worker-class", config.worker_class],
        env={**env, "WEB_CONCURRENCY": str(config.workers),
             "GUNICORN_REUSE_PORT": str(config.reuse_port).lower()},
        log_dir=log_dir,
    )  # fmt: skip
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 60
    while len(children(app.pid)) < config.workers:
        if time.monotonic() > deadline or app.process.poll() is not None:
            raise RuntimeError(f"{name} did not start:\n{app.log_tail()}")
        time.sleep(0.2)
    wait_until_ok(app, f"{url}/healthz", timeout=60)
    return app, url


def static_collected(env: dict) -> Path:
    """collectstatic's output for the app, made once per bench (gunicorn refuses to serve with
    DEBUG off without it)."""
    root = REPO_ROOT / "bench" / "results" / "static"
    if not (root / "staticfiles.json").is_file():
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=REPO_ROOT, env={**env, "STATIC_ROOT": str(root)}, check=True, timeout=300,
        )  # fmt: skip
    return root


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): field 3 onwards."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def children(pid: int) -> list[int]:
    return sorted(p for p in _all_pids() if (f := _stat_fields(p)) and int(f[1]) == pid)


def group(pgid: int) -> list[int]:
    return sorted(p for p in _all_pids() if (f := _stat_fields(p)) and int(f[2]) == pgid)


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """utime + stime of each live pid, in clock ticks."""
    ticks = {}
    for pid in pids:
        if fields := _stat_fields(pid):
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in KiB."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(value.split()[0])
    return found
