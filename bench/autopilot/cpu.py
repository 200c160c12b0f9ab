"""CPU time by component over a part of the Autopilot benchmark, read from /proc.

The workers' CPU is their own processes'; PostgreSQL's is that of the server processes serving
the bench database (their title names it: "postgres: ... <database> ..."), sampled while the
part runs because a worker's connection, and with it its server process, ends every CONN_MAX_AGE
(60 s) and what a process that ended had used can no longer be read; `other` is the rest of
the machine's busy time (/proc/stat): other people's work, and the bench's own poller (its
process and its connection's server process).
"""

import os
from pathlib import Path

from bench.gateway import processes


def _ticks_and_title(pid: int) -> tuple[int, str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        title = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:  # gone
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12]), title


class CpuSampler:
    def __init__(self, *, database: str, stub_pid: int, ignored_pids: set[int]):
        self.database, self.stub_pid, self.ignored_pids = database, stub_pid, ignored_pids
        self.worker_pids: set[int] = set()  # set once the workers are spawned
        self.first: dict[int, int] = {}  # ticks at first sight (0 for a process born later)
        self.last: dict[int, int] = {}
        self.titles: dict[int, str] = {}
        self.busy_start = processes.machine_ticks()[0]
        self.sample(initial=True)

    def sample(self, *, initial: bool = False) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if (found := _ticks_and_title(pid)) is None:
                continue
            ticks, title = found
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid] = ticks
            self.titles.setdefault(pid, title)
        self.busy_end = processes.machine_ticks()[0]

    def _kind(self, pid: int) -> str | None:
        if pid in self.ignored_pids:
            return None
        if pid in self.worker_pids:
            return "workers"
        if pid == self.stub_pid:
            return "stub"
        title = self.titles[pid]
        if title.startswith("postgres: ") and f" {self.database} " in title:
            return "postgres"
        return None

    def seconds(self) -> dict[str, float]:
        """CPU seconds between the first and the last sample, by component."""
        found = {"workers": 0.0, "postgres": 0.0, "stub": 0.0}
        for pid, last in self.last.items():
            if kind := self._kind(pid):
                found[kind] += (last - self.first[pid]) / processes.CLOCK_TICKS
        found["machine"] = (self.busy_end - self.busy_start) / processes.CLOCK_TICKS
        found["other"] = found["machine"] - found["workers"] - found["postgres"] - found["stub"]
        return found
