"""The per-tenant request rate limit of POST /ai/assist: `Plan.requests_per_minute` (CONTRACT §4).

Why PostgreSQL and not Redis: the limiter must hold across every gunicorn worker and host, and
the database already is the one store they all share, transactionally, for the budget and the
accounting. Redis would be a second stateful dependency to run, secure, back up and monitor
for one row per tenant and one statement per request, and a Redis outage would become an
outage of assist. REDIS_URL stays unused.

Why GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp): each tenant
has one row, so nothing grows with time or traffic and nothing needs purging; a limit of N per
minute admits a burst of N, then one request every 60/N seconds, so clients are not all let in
again at the same instant as with a fixed window's minute boundary (nor allowed 2N across it);
and Retry-After is exact: the time until the next request would be admitted. The check and the
update are one conditional UPSERT on that row (RateLimitStateManager.take), so concurrent
requests in any number of processes serialize on the row lock: a burst of M > N simultaneous
requests admits exactly N.
"""

import math
from datetime import UTC, datetime, timedelta

from tenants.models import Tenant

from .exceptions import TenantRateLimited
from .models import RateLimitState

MICROS_PER_MINUTE = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rate_limit_take(*, tenant: Tenant, at: datetime) -> None:
    """Count one request of `tenant` at `at`, or raise TenantRateLimited with Retry-After."""
    limit = tenant.plan.requests_per_minute
    interval = MICROS_PER_MINUTE // limit  # between two requests at the sustained rate
    now = (at - _EPOCH) // timedelta(microseconds=1)
    tat, admitted = RateLimitState.objects.take(
        tenant_id=tenant.id, now=now, interval=interval, burst=limit * interval
    )
    if not admitted:
        # The next request is admitted once max(tat, now) + interval - burst <= now.
        wait_micros = tat + interval - limit * interval - now
        raise TenantRateLimited(retry_after=max(1, math.ceil(wait_micros / 1_000_000)))
