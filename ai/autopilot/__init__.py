"""Autopilot jobs (CONTRACT §9): AI work accepted at once, run by `manage.py db_worker` through
the assist pipeline (feature `autopilot`), waiting for budget instead of failing.

- transitions.py: every change of a job's status, one function each;
- claims.py: which job a free worker takes (fairness, enforced by the database);
- runner.py: one run of one job through the pipeline, and its outcome;
- tasks.py: the task framework's side: "run the next job", now or at a time;
- services.py / selectors.py: what the API and the console do and read;
- callbacks.py: the final state POSTed through the alerts' outbox.
"""
