"""The Markdown report of the median run: one table per measurement, then the targets."""

from .figures import CUTS, targets

PATHS = {
    "stub": "stub, direct",
    "app": "app → stub",
    "litellm": "LiteLLM → stub",
    "app+litellm": "app → LiteLLM → stub",
}
CPU_COLUMNS = ("app", "postgres", "stub", "litellm", "wrk", "other")


def _ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ratio(value, base) -> str:
    return f"{value / base:.2f}x" if value and base else "-"


def markdown(facts: dict, median: dict, runs: int) -> str:
    lines = [f"## Gateway benchmark (median of {runs} run{'s' * (runs > 1)})", ""]
    lines += [f"- {line}" for line in facts["summary"]] + [""]
    lines += _overhead(median) + _cpu(median) + _rate(median) + _scale(median)
    lines += (
        _analytics(median)
        + _memory(median)
        + _queries(median)
        + _idle_cost(median)
        + _floor(median)
    )
    lines += _profile(median)
    lines += _targets(median)
    return "\n".join(lines)


def _overhead(median: dict) -> list[str]:
    paths, overheads = median.get("paths") or {}, median.get("overheads") or {}
    if not paths:
        return []
    lines = [
        "### Latency and overhead (ms; overhead = path - its baseline, same run and concurrency)",
        "",
        "| concurrency | path | req/s | p50 | p95 | p99 | overhead p50 | p95 | p99 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    concurrencies = sorted({int(c) for points in paths.values() for c in points})
    for c in map(str, concurrencies):
        for path, label in PATHS.items():
            point = (paths.get(path) or {}).get(c)
            if point is None:
                continue
            extra = (overheads.get(path) or {}).get(c) or {}
            lines.append(
                f"| {c} | {label} | {point['rps']:.0f} | "
                + " | ".join(_ms(point[f"{cut}_ms"]) for cut in CUTS)
                + " | "
                + " | ".join(_ms(extra.get(f"{cut}_ms")) for cut in CUTS)
                + " |"
            )
    return [*lines, ""]


def _cpu(median: dict) -> list[str]:
    paths = median.get("paths") or {}
    rows = [
        (PATHS[path], c, point["cpu_ms_per_request"])
        for path in ("app", "app+litellm", "litellm", "stub")
        for c, point in sorted((paths.get(path) or {}).items(), key=lambda item: int(item[0]))
        if point.get("cpu_ms_per_request")
    ]
    if not rows:
        return []
    lines = [
        "### CPU per request (ms, all cores; `other`: the rest of the machine meanwhile)",
        "",
        "| path | concurrency | " + " | ".join(CPU_COLUMNS) + " | machine busy |",
        "|---|---:|" + "---:|" * (len(CPU_COLUMNS) + 1),
    ]
    for label, c, cpu in rows:
        cells = " | ".join(_ms(cpu.get(name)) for name in CPU_COLUMNS)
        lines.append(f"| {label} | {c} | {cells} | {cpu['machine_busy_share']:.0%} |")
    return [*lines, ""]


def _rate(median: dict) -> list[str]:
    found = median.get("rate") or {}
    if not found:
        return []
    lines = [
        "### Highest sustained rate (closed loop, concurrency stepped up until p99 passes the "
        "bound)",
        "",
        "| path | req/s with p99 ≤ bound | bound ms | steps: concurrency → req/s (p99 ms) |",
        "|---|---:|---:|---|",
    ]
    for path, search in found.items():
        steps = ", ".join(
            f"{c} → {p['rps']:.0f} ({p['p99_ms']:.0f})"
            for c, p in sorted(search["points"].items(), key=lambda item: int(item[0]))
        )
        best = f"{search['best_rps']:.0f}" if search["best_rps"] else "none within the bound"
        lines.append(f"| {PATHS[path]} | {best} | {search['p99_bound_ms']:.0f} | {steps} |")
    return [*lines, ""]


def _scale(median: dict) -> list[str]:
    scales = median.get("scale") or {}
    if not scales:
        return []
    empty = scales.get("0") or {}
    lines = [
        "### Status and budget check by ai_usage size (ms; ratio to the empty table)",
        "",
        "| ai_usage rows | status p50 | p95 | p99 | ÷ empty (p50, p99) | budget read p50 | p99 "
        "| admission p50 | p99 | ÷ empty (admission p50) |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for found in scales.values():
        status, budget = found["status"], found["budget"]
        base_status = empty.get("status") or {}
        base_admission = (empty.get("budget") or {}).get("admission") or {}
        lines.append(
            f"| {found['rows']:,.0f} | "
            + " | ".join(_ms(status[f"{cut}_ms"]) for cut in CUTS)
            + f" | {_ratio(status['p50_ms'], base_status.get('p50_ms'))}, "
            f"{_ratio(status['p99_ms'], base_status.get('p99_ms'))} | "
            f"{_ms(budget['state_read']['p50_ms'])} | {_ms(budget['state_read']['p99_ms'])} | "
            f"{_ms(budget['admission']['p50_ms'])} | {_ms(budget['admission']['p99_ms'])} | "
            f"{_ratio(budget['admission']['p50_ms'], base_admission.get('p50_ms'))} |"
        )
    decision = (empty.get("budget") or {}).get("route_decision")
    if decision:
        lines += [
            "",
            "Routing decision (ai.routing.route_candidates, in process, pure CPU, the pro table "
            f"and the seed's conversation): p50 {decision['p50_ms']:.4f} ms, p99 "
            f"{decision['p99_ms']:.4f} ms per call (target ≤ 0.05 ms).",
        ]
    return [*lines, ""]


def _analytics(median: dict) -> list[str]:
    found = median.get("analytics")
    if not found:
        return []
    labels = {
        "history_platform": "GET /admin/ai/usage?days=30, whole platform (staff)",
        "history_tenant": "GET /admin/ai/usage?days=30, busiest tenant",
        "usage_page": "GET /usage/?days=30, busiest tenant (the page)",
    }
    lines = [
        f"### Analytics at {found['rows']:,.0f} ai_usage rows (ms, concurrency 1)",
        "",
        "| endpoint | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        point = found.get(key) or {}
        if "pending" in point:
            lines.append(f"| {label} | pending ({point['pending']}) | | | |")
        elif point:
            cells = " | ".join(_ms(point[f"{cut}_ms"]) for cut in (*CUTS, "max"))
            lines.append(f"| {label} | {cells} |")
    return [*lines, ""]


def _memory(median: dict) -> list[str]:
    memory = median.get("memory") or {}
    rows = [
        (f"app worker {index}", found) for index, found in (memory.get("app_workers") or {}).items()
    ]
    if memory.get("litellm"):
        label = "LiteLLM proxy (its processes: largest peak, RSS summed)"
        rows.append((label, memory["litellm"]))
    if not rows:
        return []
    lines = ["### Memory after the load (MiB)", "", "| process | peak RSS (VmHWM) | RSS |"]
    lines.append("|---|---:|---:|")
    for label, found in rows:
        lines.append(
            f"| {label} | {found.get('VmHWM', 0) / 1024:.0f} | {found.get('VmRSS', 0) / 1024:.0f} |"
        )
    return [*lines, ""]


def _queries(median: dict) -> list[str]:
    found = median.get("queries")
    if not found:
        return []
    lines = ["### SQL per assist request (Django's CaptureQueriesContext, one request)", ""]
    for name, label in (("plain", "without"), ("idempotency_key", "with")):
        q = found[name]
        lines.append(
            f"- {label} an Idempotency-Key: **{q['statements']} SQL statements** in "
            f"{q['transactions']} explicit transactions ({q['transaction_control']} BEGIN/COMMIT) "
            f"and autocommit, plus {q['health_checks']} connection health check (`SELECT 1`): "
            f"**{q['round_trips']} round trips** to PostgreSQL"
        )
    lines += ["", "```", *(f"{i:2}. {sql[:110]}" for i, sql in enumerate(found["plain"]["sql"], 1))]
    return [*lines, "```", ""]


def _idle_cost(median: dict) -> list[str]:
    found = median.get("idle_cost")
    if not found:
        return []
    return [
        "### A cold CPU (Django's test client, GET /ai/assist/status in-process)",
        "",
        f"CPU of one request back to back: **{found['back_to_back_ms']:.2f} ms**; after 50 ms "
        f"of idling: **{found['after_50ms_idle_ms']:.2f} ms**. At concurrency 1 each assist "
        "request idles 50 ms on the stub in its middle, so it pays the cold figure.",
        "",
    ]


def _floor(median: dict) -> list[str]:
    found = median.get("floor")
    if not found:
        return []
    lines = [
        "### PostgreSQL floor on this machine (ms, from Python through psycopg, concurrency 1)",
        "",
        "| operation | p50 | p95 | p99 |",
        "|---|---:|---:|---:|",
    ]
    for name, label in (
        ("round_trip", "one round trip (`SELECT 1`)"),
        ("write_transaction", "one durable write transaction (BEGIN, INSERT, COMMIT)"),
    ):
        lines.append(f"| {label} | " + " | ".join(_ms(found[name][f"{c}_ms"]) for c in CUTS) + " |")
    return [*lines, ""]


def _profile(median: dict) -> list[str]:
    found = median.get("profile")
    if not found or not found.get("samples"):
        return []
    lines = [
        f"### Where the workers' CPU goes (py-spy, {found['samples']:,} samples holding the GIL)",
        "",
        "| stage of POST /ai/assist (inclusive) | share |",
        "|---|---:|",
        *(f"| {name} | {share:.1%} |" for name, share in found.get("stages", [])),
        "",
        "| library of the leaf frame (self time) | share |",
        "|---|---:|",
        *(f"| {name} | {share:.1%} |" for name, share in found["categories"]),
        "",
        "| frame, inclusive (what it and what it calls take; below the view) | share |",
        "|---|---:|",
    ]
    below_view = [(frame, share) for frame, share in found["inclusive"] if share < 0.8][:30]
    lines += [f"| `{frame}` | {share:.1%} |" for frame, share in below_view]
    lines += ["", "| frame, self (the leaf: where the interpreter was) | share |", "|---|---:|"]
    lines += [f"| `{frame}` | {share:.1%} |" for frame, share in found["self"][:15]]
    return [*lines, ""]


def _targets(median: dict) -> list[str]:
    rows = targets(median)
    if not rows:
        return []
    lines = ["### Targets (issue 10)", "", "| target | measured | |", "|---|---:|---|"]
    verdict = {True: "met", False: "**missed**", None: "pending"}
    lines += [f"| {label} | {measured} | {verdict[met]} |" for label, measured, met in rows]
    return [*lines, ""]
