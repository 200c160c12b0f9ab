"""What the in-process cost measurement counts (inprocess.py `cost`), inside Django.

- the statements Django logs (CaptureQueriesContext), split by whether they ran inside the
  assist pipeline (ai.services.assist_suggest, wrapped where the runner calls it) and by table;
- CONN_HEALTH_CHECKS' `SELECT 1`, which goes past Django's cursor (counted by wrapping
  is_usable, as bench/gateway/inprocess.py does);
- this process's CPU (time.process_time) and its PostgreSQL backend's (/proc/<pid>/schedstat,
  in nanoseconds: the server runs on this machine), in all and inside the pipeline;
- with `statements=True`, the backend's CPU around each statement (execute_wrapper), by kind:
  where PostgreSQL's time goes. COMMITs are not statements Django executes: they are part of
  the total only.
"""

import re
import time
from pathlib import Path

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([a-z_]+)"?')


class Meter:
    def __init__(self, connection, backend_pid: int):
        self.connection, self.backend_pid = connection, backend_pid
        self.pipeline_spans: list[tuple[int, int]] = []  # [start, end) in queries_log
        self.pipeline_cpu = self.pipeline_pg = 0.0
        self.inside = False
        self.health_checks = 0
        self.by_statement: dict[tuple[str, str], list[float]] = {}  # (side, label): [n, pg s]
        self.claims: list[float] = []  # the fair claim's PostgreSQL CPU, in order

    def backend_cpu(self) -> float:
        """Seconds on CPU of our PostgreSQL backend."""
        try:
            return int(Path(f"/proc/{self.backend_pid}/schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError):
            return float("nan")

    def wrap(self, assist_suggest):
        def measured(**kwargs):
            first = len(self.connection.queries_log)
            cpu, pg = time.process_time(), self.backend_cpu()
            self.inside = True
            try:
                return assist_suggest(**kwargs)
            finally:
                self.inside = False
                self.pipeline_cpu += time.process_time() - cpu
                self.pipeline_pg += self.backend_cpu() - pg
                self.pipeline_spans.append((first, len(self.connection.queries_log)))

        return measured

    def count_health_checks(self) -> None:
        is_usable = self.connection.is_usable

        def counting():
            self.health_checks += 1
            return is_usable()

        self.connection.is_usable = counting

    def statement_cpu(self, execute, sql, params, many, context):
        """An execute_wrapper: the backend's CPU during one statement, by kind."""
        before = self.backend_cpu()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = self.backend_cpu() - before
            label = statement_label(sql)
            entry = self.by_statement.setdefault(
                ("pipeline" if self.inside else "queue", label), [0, 0.0]
            )
            entry[0] += 1
            entry[1] += spent
            if label == CLAIM_LABEL:
                self.claims.append(spent)

    def statements_report(self, jobs: int, *, top: int = 8) -> dict:
        """The statements that cost PostgreSQL the most CPU, per job; and the fair claim's
        cost per call in the first and the last quarter of the pass."""
        rows = sorted(self.by_statement.items(), key=lambda item: -item[1][1])
        claims, spent = self.claims, sum(s for _, s in self.by_statement.values())
        quarter = max(1, len(claims) // 4)
        return {
            "top": [
                _statement_row(side, label, n, seconds, jobs)
                for (side, label), (n, seconds) in rows[:top]
            ],
            "statements_postgres_cpu_ms_per_job": spent * 1000 / jobs,
            "claim_ms_each_first_quarter": sum(claims[:quarter]) * 1000 / quarter,
            "claim_ms_each_last_quarter": sum(claims[-quarter:]) * 1000 / quarter,
            "claims": len(claims),
        }


def _statement_row(side: str, label: str, n: int, seconds: float, jobs: int) -> dict:
    return {
        "side": side,
        "statement": label,
        "per_job": n / jobs,
        "postgres_cpu_ms_per_job": seconds * 1000 / jobs,
        "postgres_cpu_ms_each": seconds * 1000 / n,
    }


CLAIM_LABEL = "the fair claim (claims.py _NEXT_CLAIMABLE)"


def statement_label(sql: str) -> str:
    if sql.startswith("SELECT c.head FROM"):
        return CLAIM_LABEL
    verb, _, rest = sql.partition(" ")
    table = _TABLE.search(sql)
    if " FOR UPDATE" in sql:
        verb = "SELECT ... FOR UPDATE"
    return f"{verb} {table.group(1) if table else rest.split(' ', 1)[0][:40]}"


def kind(statement: str) -> str:
    if statement.split(" ", 1)[0] in TRANSACTION_CONTROL:
        return "transaction_control"
    if "django_tasks_database_dbtaskresult" in statement:
        return "task_backend"  # django-tasks-db: the task's claim, its result, new wake-ups
    if "ai_autopilot_job" in statement or "pg_advisory_xact_lock" in statement:
        return "job_table"  # the fair claim and the job's transitions
    return "other"


def classified(queries: list, pipeline_spans: list[tuple[int, int]]) -> dict:
    """Statements counted by side (inside the pipeline or not) and kind."""
    inside = set()
    for start, end in pipeline_spans:
        inside.update(range(start, end))
    counts: dict[str, dict[str, int]] = {"pipeline": {}, "queue": {}}
    for index, query in enumerate(queries):
        statement = query["sql"] if isinstance(query, dict) else query
        side = counts["pipeline" if index in inside else "queue"]
        side[kind(statement)] = side.get(kind(statement), 0) + 1
    return counts


def sample(sql: list[str], spans: list[tuple[int, int]]) -> list[str]:
    """The statements around one job in the middle of the pass, the pipeline's folded."""
    if len(spans) < 3:
        return []
    (start, end), (next_start, _) = spans[len(spans) // 2], spans[len(spans) // 2 + 1]
    before = spans[len(spans) // 2 - 1][1]
    return (
        [s[:160] for s in sql[before:start]]
        + [f"... {end - start} statements of assist_suggest ..."]
        + [s[:160] for s in sql[end:next_start]]
    )
