"""The rollup arithmetic: what a set of ai_usage rows adds to the daily rollups and to the
tenant-days' spend. Recording adds it as rows are written; rebuilding recomputes it from the
rows; both call this, so they cannot drift apart."""

from collections import defaultdict
from datetime import date

RollupKey = tuple[str, date, str, str, str]  # tenant id, local day, feature, model, status


class RollupSums:
    """Calls, tokens, cost and what routing saved (micro-dollars) per rollup key, and spend per
    tenant-day."""

    def __init__(self) -> None:
        self.rollups: dict[RollupKey, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.spent: dict[tuple[str, date], int] = defaultdict(int)

    def add(
        self, *, tenant_id: str, day: date, feature: str, model: str, status: str,
        tokens: int, cost_micros: int, default_cost_micros: int,
    ) -> None:  # fmt: skip
        """`default_cost_micros`: the row's tokens at the default model's prices; a successful
        call saved what it cost less than that."""
        rollup = self.rollups[tenant_id, day, feature, model, status]
        rollup[0] += 1
        rollup[1] += tokens
        rollup[2] += cost_micros
        if status == "success":
            rollup[3] += default_cost_micros - cost_micros
        if cost_micros:
            self.spent[tenant_id, day] += cost_micros
