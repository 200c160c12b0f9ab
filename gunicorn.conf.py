"""gunicorn's settings, read from the environment (README: configuration).

gunicorn loads ./gunicorn.conf.py by itself; command-line flags (e.g. -w 4) still win.
"""

import glob
import os
import shutil
import tempfile

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads per worker (gthread when above 1). A call spends most of its time waiting for the
# model, so a sync worker holds a whole process per call in flight (docs/PERFORMANCE.md: 23
# req/s for 2 sync workers against a 50 ms upstream, about 90 with 4 x 8 threads); but a worker
# that dies takes every call it holds with it. Default 1: one call lost per crashed worker.
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# With threads, a worker keeps every keep-alive connection it accepts, and on one shared socket
# one worker (one core, one GIL) ended up serving most of them while the others idled
# (docs/PERFORMANCE.md: 146 -> 182 req/s at concurrency 16 with 4 x 8 threads). On, each worker
# listens on its own SO_REUSEPORT socket and the kernel spreads connections evenly; but the
# connections waiting in a killed worker's accept queue are then reset instead of served by a
# sibling (tests/reliability/test_worker_killed.py). Default off: one crashed worker must not
# fail requests it never started.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "false").strip().lower() in ("1", "true", "yes")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"

# A worker must outlive the longest upstream call it can make, or gunicorn kills it mid-call
# and the reservation is only closed later as abandoned.
_litellm_timeout = float(os.environ.get("LITELLM_TIMEOUT_SECONDS", "30"))
if timeout <= _litellm_timeout + 15:
    raise SystemExit(
        f"GUNICORN_TIMEOUT ({timeout}) must exceed LITELLM_TIMEOUT_SECONDS + 15 "
        f"({_litellm_timeout + 15:g})."
    )


# Serving with DEBUG off needs collectstatic's output (CONTRACT §7): stop here, in the master,
# with one line, rather than boot workers that answer 500 on every page. Reading the settings
# configures nothing else (no app is loaded); management commands never read this file.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keybuzz.settings")
from keybuzz.startup import static_files_missing  # noqa: E402 (after DJANGO_SETTINGS_MODULE)

if _missing := static_files_missing():
    raise SystemExit(_missing)


# /metrics adds up every worker (CONTRACT §7): prometheus-client's multiprocess mode, where each
# worker writes its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape reads them all. The
# variable must be in the environment before a worker imports prometheus-client, so the master
# sets it before it forks any (the app is not preloaded; nothing here imports prometheus-client
# at load time). The directory starts empty at every master start, or the totals of a previous
# run would be added in; counters then restart from 0, which Prometheus handles as a reset.
def on_starting(server):
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:  # the operator's (e.g. a tmpfs volume): create it, drop the last run's files
        os.makedirs(given, exist_ok=True)
        for stale in glob.glob(os.path.join(given, "*.db")):
            os.remove(stale)
        return
    server.metrics_dir_created = tempfile.mkdtemp(prefix="keybuzz-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = server.metrics_dir_created


def child_exit(server, worker):
    # A dead worker's counters stay in the totals; only "live" gauges (none yet) are dropped.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    created = getattr(server, "metrics_dir_created", None)
    if created:
        shutil.rmtree(created, ignore_errors=True)
