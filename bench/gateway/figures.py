"""From runs to figures: overheads derived per run, the median of the runs, the issue's targets."""

import statistics

CUTS = ("p50", "p95", "p99")
# path: its baseline, what its overhead is measured against
BASELINES = {"app": "stub", "litellm": "stub", "app+litellm": "litellm"}


def derive(run: dict) -> dict:
    """The run with its overheads: a path's percentile minus its baseline's, same concurrency,
    same run (so that both saw the same machine)."""
    paths = dict(run.get("overhead", {}))
    if "chain" in run:
        paths["app+litellm"] = run["chain"]
    overheads = {}
    for path, baseline in BASELINES.items():
        if path not in paths or baseline not in paths:
            continue
        overheads[path] = {
            c: {f"{cut}_ms": point[f"{cut}_ms"] - paths[baseline][c][f"{cut}_ms"] for cut in CUTS}
            for c, point in paths[path].items()
            if c in paths[baseline]
        }
    return {**run, "paths": paths, "overheads": overheads}


def median_of(values: list):
    """The median of every number found at the same place in each run."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    if all(isinstance(value, dict) for value in present):
        keys = dict.fromkeys(key for value in present for key in value)
        return {key: median_of([value.get(key) for value in present]) for key in keys}
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in present):
        return statistics.median(present)
    return present[0]


def targets(median: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for the issue's targets that this run measured."""
    found = []
    app16 = ((median.get("overheads") or {}).get("app") or {}).get("16")
    if app16:
        found.append(("overhead p50 ≤ 2 ms at concurrency 16", f"{app16['p50_ms']:.2f} ms",
                      app16["p50_ms"] <= 2))  # fmt: skip
        found.append(("overhead p99 ≤ 10 ms at concurrency 16", f"{app16['p99_ms']:.2f} ms",
                      app16["p99_ms"] <= 10))  # fmt: skip
    rate = (median.get("rate") or {}).get("app")
    if rate:
        found.append(("≥ 500 assist requests/s (p99 ≤ stub + 100 ms)",
                      f"{rate['best_rps']:.0f} req/s", rate["best_rps"] >= 500))  # fmt: skip
    scales = median.get("scale") or {}
    if "10m" in scales and "0" in scales:
        for label, pick in (
            ("status at 10 M rows ≤ 1.2x empty (p50)", lambda s: s["status"]["p50_ms"]),
            ("budget check at 10 M rows ≤ 1.2x empty (admission p50)",
             lambda s: s["budget"]["admission"]["p50_ms"]),
        ):  # fmt: skip
            ratio = pick(scales["10m"]) / pick(scales["0"])
            found.append((label, f"{ratio:.2f}x", ratio <= 1.2))
    analytics = median.get("analytics") or {}
    if analytics.get("rows", 0) >= 10_000_000:
        for key in ("history_platform", "history_tenant", "usage_page"):
            point = analytics.get(key) or {}
            label = f"{key.replace('_', ' ')} < 50 ms at 10 M rows (p50)"
            if "pending" in point:
                found.append((label, "pending", None))
            elif point:
                found.append((label, f"{point['p50_ms']:.1f} ms", point["p50_ms"] < 50))
    return found
