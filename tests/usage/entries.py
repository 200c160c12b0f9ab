"""Usage entries for the usage tests: by default the seed's call, at noon in Paris."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from usage.recording import UsageEntry

PARIS = ZoneInfo("Europe/Paris")


def entry(tenant, *, at: datetime, **fields) -> UsageEntry:
    defaults = dict(
        feature="assist", provider="litellm", model="kbz-standard", status="success",
        prompt_tokens=198, completion_tokens=133, cost_usd=Decimal("0.002589"),
    )  # fmt: skip
    return UsageEntry(tenant=tenant, created_at=at, **{**defaults, **fields})


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=PARIS)
