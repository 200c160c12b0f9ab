"""The fuzz suite: schemathesis generates requests from the app's own /api/schema/ for every
operation in it, valid and invalid, and checks that no answer is a 500 and that every answer is
one the schema documents (status, content type, body).

It runs a few hundred generated requests, so only `make test-fuzz` runs it: without
KEYBUZZ_FUZZ=1 nothing in this folder is collected, and plain `pytest` / `make test` never see
it. The seed is fixed: the same run every time, and a failure can be replayed.
"""

import os

ENABLED = os.environ.get("KEYBUZZ_FUZZ") == "1"
if not ENABLED:
    collect_ignore_glob = ["test_*.py"]


def pytest_report_header(config):
    if not ENABLED:
        return "tests/fuzz: not collected (KEYBUZZ_FUZZ=1 or make test-fuzz)"
    return None
