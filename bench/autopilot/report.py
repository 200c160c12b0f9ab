"""The Markdown report of one invocation of the Autopilot benchmark."""


def _f(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(facts: dict, found: dict) -> str:
    lines = ["## Autopilot queue benchmark", ""]
    lines += [f"- {line}" for line in facts["summary"]] + [""]
    for part in (_throughput, _cost, _fairness, _crash):
        lines += part(found)
    return "\n".join(lines)


def _throughput(found: dict) -> list[str]:
    runs = found.get("throughput")
    if not runs:
        return []
    lines = [
        f"### Throughput: {runs[0]['jobs']:,} jobs, every one through the stub",
        "",
        "jobs/s = jobs ÷ (last finished_at - first started_at); wall = from spawning the workers "
        "until every job is final (their start-up included). CPU ms per job, all cores: the "
        f"workers' processes (less {found['worker_startup_cpu_s']:.2f} s of start-up CPU each), "
        "the PostgreSQL server processes of the bench database, the stub, and `other`: the rest "
        "of the machine's busy time (other people's work, the bench's poller).",
        "",
        "| workers | jobs/s | wall s | jobs/s (wall) | run p50 ms | run p95 ms | CPU: workers | "
        "PostgreSQL | stub | other | machine busy | succeeded |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        cpu = run["cpu_ms_per_job"]
        lines.append(
            f"| {run['workers']} | {_f(run['jobs_per_s'])} | {_f(run['wall_s'])} | "
            f"{_f(run['jobs_per_s_wall'])} | {_f(run['run_p50_ms'])} | {_f(run['run_p95_ms'])} | "
            f"{_f(cpu['workers_less_startup'], 2)} | {_f(cpu['postgres'], 2)} | "
            f"{_f(cpu['stub'], 2)} | {_f(cpu['other'], 2)} | {run['machine_busy_percent']:.0f}% | "
            f"{run['succeeded']:,} |"
        )
    return [*lines, ""]


def _cost(found: dict) -> list[str]:
    cost = found.get("cost")
    if not cost:
        return []
    counted, timed = cost["counted"], cost["timed"]
    jobs = counted["jobs"]
    statements = counted["statements"]
    per = {
        side: {kind: n / jobs for kind, n in statements[side].items()}
        for side in ("pipeline", "queue")
    }

    def sql(side: str) -> float:
        return sum(n for kind, n in per[side].items() if kind != "transaction_control")

    def control(side: str) -> float:
        return per[side].get("transaction_control", 0)

    cpu, pg = timed["cpu_ms"], timed["postgres_cpu_ms"]
    pg_queue = None if pg["total"] is None else pg["total"] - pg["pipeline"]
    enqueue = counted["enqueue"]["statements"]
    enqueue_sql = sum(n for k, n in enqueue.items() if k != "transaction_control") / jobs
    return [
        f"### The queue's own cost per job ({jobs} jobs in-process, django-tasks-db's Worker)",
        "",
        "| per job | SQL statements | BEGIN/COMMIT/SAVEPOINT | worker CPU ms | PostgreSQL CPU ms |",
        "|---|---:|---:|---:|---:|",
        f"| run by the worker, in all | {_f(sql('pipeline') + sql('queue'), 2)} | "
        f"{_f(control('pipeline') + control('queue'), 2)} | {_f(cpu['total'], 2)} | "
        f"{_f(pg['total'], 2)} |",
        f"| of which the assist pipeline (inside assist_suggest) | {_f(sql('pipeline'), 2)} | "
        f"{_f(control('pipeline'), 2)} | {_f(cpu['pipeline'], 2)} | {_f(pg['pipeline'], 2)} |",
        f"| **of which the queue's own** | **{_f(sql('queue'), 2)}** | "
        f"**{_f(control('queue'), 2)}** | **{_f(cpu['total'] - cpu['pipeline'], 2)}** | "
        f"**{_f(pg_queue, 2)}** |",
        f"| creating it (job_create: the job and its task) | {_f(enqueue_sql, 2)} | "
        f"{_f(enqueue.get('transaction_control', 0) / jobs, 2)} | "
        f"{_f(timed['enqueue']['cpu_ms_per_job'], 2)} | - |",
        "",
        f"The queue's own statements by table, per job: task backend "
        f"{_f(per['queue'].get('task_backend', 0), 2)}, job table "
        f"{_f(per['queue'].get('job_table', 0), 2)}, other {_f(per['queue'].get('other', 0), 2)}; "
        f"plus {_f(counted['health_checks'] / jobs, 2)} connection health checks (`SELECT 1`). "
        f"Tasks run per job: {_f(counted['tasks'] / jobs, 2)} "
        f"({counted['tasks_that_ran_a_job']} of {counted['tasks']} ran a job).",
        "",
        *_postgres_by_statement(counted),
    ]


def _postgres_by_statement(counted: dict) -> list[str]:
    found = counted["postgres_by_statement"]
    total = counted["postgres_cpu_ms"]["total"]
    lines = [
        "Where PostgreSQL's CPU goes (the counted pass: the backend's CPU around each statement; "
        "COMMITs and health checks are in the total only):",
        "",
        "| statement | side | per job | PostgreSQL CPU ms per job | ms each |",
        "|---|---|---:|---:|---:|",
    ]
    for row in found["top"]:
        lines.append(
            f"| {row['statement']} | {row['side']} | {_f(row['per_job'], 2)} | "
            f"{_f(row['postgres_cpu_ms_per_job'], 2)} | {_f(row['postgres_cpu_ms_each'], 2)} |"
        )
    rest = None if total is None else total - found["statements_postgres_cpu_ms_per_job"]
    lines += [
        f"| every other statement, COMMITs, health checks | | | {_f(rest, 2)} | |",
        f"| **in all (this pass)** | | | **{_f(total, 2)}** | |",
        "",
        f"The fair claim's PostgreSQL CPU per call: {found['claim_ms_each_first_quarter']:.2f} ms "
        f"in the first quarter of the pass, {found['claim_ms_each_last_quarter']:.2f} ms in the "
        f"last ({found['claims']} claims).",
        "",
    ]
    return lines


def _fairness(found: dict) -> list[str]:
    fair = found.get("fairness")
    if not fair:
        return []
    alone, behind = fair["alone"], fair["behind_flood"]
    return [
        "### Fairness: a small tenant's wait (started_at - created_at), 2 workers",
        "",
        "| case | jobs | wait p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| {fair['small_tenant']} alone | {alone['jobs']} | {_f(alone['p50_ms'])} | "
        f"{_f(alone['p95_ms'])} | {_f(alone['max_ms'])} |",
        f"| {fair['small_tenant']} while {fair['large_tenant']} floods | {behind['jobs']} | "
        f"{_f(behind['p50_ms'])} | {_f(behind['p95_ms'])} | {_f(behind['max_ms'])} |",
        "",
        f"The flood's jobs still unfinished when the small tenant's were queued: "
        f"{fair['flood_unfinished_when_small_queued']:,}; when they were all done: "
        f"{fair['flood_unfinished_when_small_done']:,}.",
        "",
    ]


def _crash(found: dict) -> list[str]:
    crash = found.get("crash")
    if not crash:
        return []
    env = ", ".join(f"{k}={v}" for k, v in crash["env"].items())
    rows = ", ".join(f"{k} {v:,}" for k, v in crash["usage_rows"].items())
    return [
        f"### A worker SIGKILLed mid-run ({crash['jobs']:,} jobs, 2 workers; {env})",
        "",
        f"- killed {crash['killed_after_s']:.1f} s in, at {crash['final_at_kill']:,} jobs "
        f"final; a replacement started; every job final {crash['all_final_s_after_kill']:.1f} s "
        "after the kill",
        f"- **lost: {crash['lost']}** (jobs not final); **duplicated: {crash['duplicated']}** "
        "(request_ids with more than one success row); succeeded without a success row: "
        f"{crash['succeeded_without_success_row']}",
        f"- jobs re-driven after their lease ended: {crash['redriven_jobs']}; reservations "
        f"left: {crash['reservations_left']}; reserved µ$ left on the counters: "
        f"{crash['reserved_micros_left']}",
        f"- job statuses: {crash['statuses']}; ai_usage rows (status/error_code): {rows}",
        *(
            f"- re-driven `{request_id}`: its rows, oldest first: {', '.join(trail)}"
            for request_id, trail in crash["redriven_rows"].items()
        ),
        "",
    ]
