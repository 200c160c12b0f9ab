"""A throwaway PostgreSQL cluster that a test may stop and restart: never the shared server.

initdb makes it in a fresh temporary directory, it listens on its own free loopback port (and
its Unix socket in that directory), and it is stopped and deleted by `destroy()`. initdb and
postgres refuse to run as root: as root, every server-side command runs as the `postgres` OS
user; as anyone else, as that user.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("KEYBUZZ_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"  # who runs the server when the tests run as root
AS_ROOT = os.geteuid() == 0
_COMMAND_SECONDS = 60


class ThrowawayCluster:
    def __init__(self, *, port: int):
        self.port = port
        # Not pytest's tmp_path: that lives under a root-only directory the postgres user
        # cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="keybuzz-throwaway-pg-"))
        if AS_ROOT:
            shutil.chown(self.root, user=OS_USER, group=OS_USER)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._initialised = False

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._pg("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync",
                 "-E", "UTF8", "--no-locale")  # fmt: skip
        self._initialised = True

    def start(self) -> None:
        """Start and wait until it accepts connections. The server log goes to a file: a
        server writing to our pipes would keep them open after pg_ctl returns."""
        # fsync off: a fast shutdown still checkpoints everything; only an OS crash (which this
        # cluster does not outlive anyway) could lose data.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50"
        )
        self._pg_ctl("start", "-o", options, "-l", self.log)

    def stop(self) -> None:
        """A fast shutdown: sessions are cut, in-flight transactions roll back."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """A fast shutdown, then a start with the same options."""
        self._pg_ctl("restart", "-m", "fast", "-l", self.log)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server however it is doing (also half-started), then delete everything."""
        if self._initialised and (self.data / "postmaster.pid").exists():
            stopped = self._pg_ctl("stop", "-m", "immediate", check=False)
            if stopped.returncode != 0:
                self._kill_postmaster()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no server log)"

    def _kill_postmaster(self) -> None:
        """Our own postmaster, by the pid it wrote; its children exit when it is gone."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.1)

    def _pg_ctl(self, action: str, *args, check: bool = True) -> subprocess.CompletedProcess:
        return self._pg("pg_ctl", action, "-D", self.data, "-w", "-t", "30", *args, check=check)

    def _pg(self, program: str, *args, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / program), *map(str, args)]
        if AS_ROOT:
            command = ["runuser", "-u", OS_USER, "--", *command]
        done = subprocess.run(
            command, cwd=self.root, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=_COMMAND_SECONDS, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{program} {args[:1]} failed ({done.returncode}): {done.stderr.strip()}\n"
                f"{self.log_tail()}"
            )
        return done
