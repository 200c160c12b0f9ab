# The two commands of the README: `make run` and `make test`.
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEV_ENV := DEBUG=true LOG_FORMAT=text

.PHONY: run test test-integration test-reliability test-fuzz test-browser lint format messages \
	bench bench-smoke bench-autopilot

$(INSTALLED): requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(INSTALLED)

## run: install, migrate the SQLite default, seed demo data, serve on http://127.0.0.1:8000 with
## a background worker beside it (Autopilot jobs, callbacks); Ctrl-C stops both
run: $(INSTALLED)
	$(DEV_ENV) $(PYTHON) manage.py migrate --no-input
	$(DEV_ENV) $(PYTHON) manage.py seed_demo
	@trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	$(DEV_ENV) $(PYTHON) manage.py db_worker --no-reload & worker=$$!; \
	$(DEV_ENV) $(PYTHON) manage.py runserver 127.0.0.1:8000

## test: the whole suite (SQLite by default; PostgreSQL when DATABASE_URL points at it)
test: $(INSTALLED)
	$(PYTHON) -m pytest

## test-integration: the app on PostgreSQL (DATABASE_URL) through a real LiteLLM proxy built from
## deploy/litellm/config.yaml, on fake providers; installs litellm[proxy] into ~/.cache/keybuzz once
test-integration: $(INSTALLED)
	KEYBUZZ_INTEGRATION=1 $(PYTHON) -m pytest tests/integration

## test-reliability: faults on PostgreSQL (DATABASE_URL), the app under gunicorn: LiteLLM failing
## every way, a worker killed mid-call, a throwaway PostgreSQL cluster restarted mid-burst
test-reliability: $(INSTALLED)
	KEYBUZZ_RELIABILITY=1 $(PYTHON) -m pytest tests/reliability

## test-fuzz: schemathesis against /api/schema/ (every operation, fixed seed), on PostgreSQL
test-fuzz: $(INSTALLED)
	KEYBUZZ_FUZZ=1 $(PYTHON) -m pytest tests/fuzz

## test-browser: headless Chromium (Debian's chromium and chromium-driver) against the app under
## gunicorn on PostgreSQL (DATABASE_URL): the staff console used as staff use it
test-browser: $(INSTALLED)
	KEYBUZZ_BROWSER=1 $(PYTHON) -m pytest tests/browser

## bench: the gateway benchmark (docs/PERFORMANCE.md): the app, a real LiteLLM proxy and a 50 ms
## stub LLM side by side under wrk, on PostgreSQL (keybuzz_bench_gateway, keybuzz_bench_1m and the
## 10 M-row keybuzz_bench, generated once); median of 3 runs; BENCH_ARGS="--help" for options
bench: $(INSTALLED)
	$(PYTHON) -m bench.gateway $(BENCH_ARGS)

## bench-smoke: the same harness in about a minute (1 run, 2 s per point, concurrency 1 and 16, no
## 1 M/10 M part; LiteLLM only if its virtualenv is cached or BENCH_LITELLM=1), as CI runs it
bench-smoke: $(INSTALLED)
	$(PYTHON) -m bench.gateway --smoke $(BENCH_ARGS)

## bench-autopilot: the Autopilot queue (docs/PERFORMANCE.md): 10,000 jobs over 20 tenants through
## the 50 ms stub with 1, 2 and 4 db_worker processes, the queue's own cost per job, a small
## tenant's wait during a flood, a worker SIGKILLed mid-run; on PostgreSQL (keybuzz_bench_autopilot);
## BENCH_ARGS="--smoke" for the CI-sized run, "--help" for options
bench-autopilot: $(INSTALLED)
	$(PYTHON) -m bench.autopilot $(BENCH_ARGS)

## lint: ruff, formatting, the layers (imports only point down: pyproject.toml
## [tool.importlinter], docs/ARCHITECTURE.md) and migrations in step with the models
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	DJANGO_READ_DOT_ENV_FILE=false $(PYTHON) manage.py makemigrations --check --dry-run

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## messages: refresh locale/fr/LC_MESSAGES/django.po from the code (needs GNU gettext's xgettext,
## a developer tool), then compile the .mo that is committed (Babel, no msgfmt needed)
messages: $(INSTALLED)
	$(DEV_ENV) $(PYTHON) manage.py makemessages --locale fr --no-obsolete --ignore ".venv/*" \
		--ignore "tests/*" --ignore "staticfiles/*" --ignore "bench/*"
	$(VENV)/bin/pybabel compile --directory locale --domain django --statistics
