"""py-spy on the app's workers under load: a flame graph to look at, collapsed stacks to add up.

Only samples of the thread holding the GIL (--gil) are kept: a worker's Python CPU time, which
is what bounds a worker (waits on PostgreSQL and on the upstream hold no GIL)."""

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from . import processes

RATE = 200  # samples per second
# Where a sample's own (leaf) frame lives (py-spy names files relative to sys.path) → what the
# time is spent on.
CATEGORIES = (
    ("PostgreSQL client (psycopg)", ("psycopg/", "psycopg_binary/", "psycopg_c/")),
    ("Django database layer (cursor wrappers, transactions, models)", ("django/db/",)),
    ("upstream HTTP client (requests, urllib3, http.client)",
     ("requests/", "urllib3/", "http/client.py", "socket.py", "ssl.py", "email/")),
    ("DRF (views, serializers, fields)", ("rest_framework/",)),
    ("drf-spectacular", ("drf_spectacular/",)),
    ("Django request/response, middleware, URLs", ("django/", "whitenoise/")),
    ("logging", ("logging/", "keybuzz/structured_logging.py")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("gunicorn", ("gunicorn/",)),
    ("JSON", ("json/",)),
    ("the app's own code", ("ai/", "usage/", "keybuzz/")),
    ("Python runtime (threading, copy, dataclasses, …)", ("threading.py", "copy.py",
     "dataclasses.py", "enum.py", "uuid.py", "selectors.py", "queue.py", "re/", "decimal.py",
     "datetime.py", "zoneinfo/", "functools.py", "contextlib.py", "concurrent/", "typing.py",
     "<frozen", "importlib/", "abc.py", "weakref.py", "_weakrefset.py")),
)  # fmt: skip


# The stages of POST /ai/assist, each by the function that does it: its inclusive share of the
# samples is what the stage costs, whatever library does the work underneath.
STAGES = (
    ("gunicorn outside the app (accept, parse, access log)", None),
    ("Django, DRF and the rest around the stages (middleware, dispatch, pricing)", None),
    ("authentication: the token lookup", "ApiTokenAuthentication.authenticate"),
    ("input validation (InputSerializer, bound once)", "validated"),
    ("tenant and membership (tenant_for_user)", "tenant_for_user"),
    ("kill switches", "kill_switches_read"),
    ("route read: the day's counter and the plan's prices", "budget_state_and_prices"),
    ("routing decision (route_candidates)", "route_candidates"),
    ("rate limit", "rate_limit_take"),
    ("budget reserve (counter and reservation)", "budget_reserve"),
    ("upstream call (litellm_complete)", "litellm_complete"),
    ("settle: reservation, counters, usage row, rollup", "budget_settle"),
    ("output serialization (OutputSerializer, bound once)", "represented"),
    ("response rendering (JSON)", "Response.rendered_content"),
)
WSGI_ENTRY, VIEW_ENTRY = "WSGIHandler.__call__", "APIView.dispatch"


def pyspy() -> str | None:
    found = processes.VENV_BIN / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def record(*, master: int, seconds: int, out_dir: Path, load) -> Path:
    """Profile every worker of a gunicorn master while `load()` runs, twice: the flame graph
    (profile.svg), then the collapsed stacks (profile.txt) that summary() adds up."""
    executable = pyspy()
    if executable is None:
        raise SystemExit("py-spy is missing: pip install -r requirements-dev.txt")
    raw = out_dir / "profile.txt"
    for fmt, path in (("flamegraph", out_dir / "profile.svg"), ("raw", raw)):
        spy = _spy(executable, pid=master, seconds=seconds, fmt=fmt, path=path)
        try:
            load()
        finally:
            _, err = spy.communicate(timeout=seconds + 60)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {err[-2000:]}")
    return raw


def _spy(executable: str, *, pid: int, seconds: int, fmt: str, path: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 (a fixed command line)
        [executable, "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds),
         "--rate", str(RATE), "--gil", "--nolineno", "--format", fmt, "--output", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def summary(raw: Path, *, top: int = 20) -> dict:
    """Shares of the samples: by category of the leaf frame, by leaf frame (self) and by frame
    anywhere on the stack (inclusive)."""
    own, inclusive, categories = Counter(), Counter(), Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
        categories[_category(frames[-1])] += samples
    if not total:
        return {"samples": 0}

    def shares(counter: Counter, limit: int) -> list[list]:
        return [[name, count / total] for name, count in counter.most_common(limit)]

    by_function = Counter()
    for frame, count in inclusive.items():
        by_function[frame.rpartition(" (")[0]] += count
    return {
        "samples": total,
        "stages": _stages(by_function, total),
        "categories": shares(categories, len(CATEGORIES) + 1),
        "self": shares(own, top),
        "inclusive": shares(inclusive, top * 5),
    }


def _stages(by_function: Counter, total: int) -> list[list]:
    """Each stage's share; the two framing stages are what their entry point takes beyond what
    it calls (gunicorn beyond the WSGI app; the framework beyond the view's own stages)."""
    named = {label: by_function[function] / total for label, function in STAGES if function}
    wsgi = by_function[WSGI_ENTRY] / total
    inside_view = sum(
        share for label, share in named.items() if not label.startswith("authentication")
    )
    framing = {
        STAGES[0][0]: 1 - wsgi,
        STAGES[1][0]: max(0.0, wsgi - named[STAGES[2][0]] - inside_view),
    }
    return [[label, framing.get(label, named.get(label, 0.0))] for label, _ in STAGES]


def _category(frame: str) -> str:
    path = frame.rpartition(" (")[2].rstrip(")")
    for name, prefixes in CATEGORIES:
        if path.startswith(prefixes):
            return name
    return "other (C builtins, site-packages)"
