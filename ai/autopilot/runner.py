"""One run of one Autopilot job: through the assist pipeline, then the transition its outcome
calls for (CONTRACT §9 "Rows").

The pipeline is the one POST /ai/assist runs (guardrails, routing, the ledger), with feature
`autopilot`: each run that reaches the budget writes one ai_usage row, a budget refusal a
`blocked` row (the job is deferred), an upstream failure an `error` row (retried after a
back-off). A kill switch or the rate limit makes the job wait and writes no row.
"""

import json
import logging
from datetime import timedelta

from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from keybuzz.bound_serializers import represented
from tenants.models import Tenant
from usage.budget import budget_close_abandoned
from usage.exceptions import BudgetExceeded
from usage.models import AIUsage

from ..apis import AssistApi
from ..exceptions import AIDisabled, TenantRateLimited, UpstreamError
from ..services import assist_suggest
from .claims import job_claim_next
from .metrics import job_attempt_timed
from .transitions import (
    Lease,
    job_defer,
    job_delay,
    job_error,
    job_fail,
    job_pause,
    job_retry_or_fail,
    job_succeed,
)

logger = logging.getLogger(__name__)


def job_run_next() -> str | None:
    """Claim the next job a worker should run and run it; returns "<job id> <outcome>", or
    None when no job may run now."""
    lease = job_claim_next()
    if lease is None:
        return None
    return f"{lease.job.pk} {job_run(lease=lease)}"


def job_run(*, lease: Lease) -> str:
    job = lease.job
    tenant: Tenant = job.tenant
    if lease.redriven:
        # Its previous worker died mid-run: close that run's reservation (CONTRACT §5) before
        # this run holds the budget again.
        budget_close_abandoned(tenant=tenant)
    if not tenant.is_active or not tenant.plan.autopilot_enabled:
        code = "tenant_inactive" if not tenant.is_active else "plan_feature_unavailable"
        job_fail(lease=lease, error=job_error(code, "Autopilot is not available to this tenant."),
                 attempted=False)  # fmt: skip
        return "failed"
    request = job.request

    def succeeded(result) -> None:
        # In the charge's transaction: the job succeeds with its charge, or neither commits.
        job_succeed(lease=lease, result=_as_json(represented(AssistApi.OutputSerializer, result)))

    try:
        with job_attempt_timed():
            assist_suggest(
                tenant=tenant,
                user_id=job.created_by,
                conversation=request["payload"]["messages"],
                feature=AIUsage.Feature.AUTOPILOT,
                quality=request["quality"],
                request_id=job.request_id,
                waits_recorded=False,
                settled=succeeded,
            )
    except BudgetExceeded:
        job_defer(lease=lease, until=tenant.next_day_start())
        return "deferred"
    except AIDisabled:
        job_pause(lease=lease)
        return "paused"
    except TenantRateLimited as refusal:
        job_delay(lease=lease, until=timezone.now() + timedelta(seconds=refusal.retry_after))
        return "delayed"
    except UpstreamError as error:
        return job_retry_or_fail(lease=lease, error=job_error(error.error_code, error.message))
    except Exception:
        logger.exception("Autopilot job %s: the run failed.", job.pk)
        error = job_error("internal_error", "The run failed unexpectedly.")
        return job_retry_or_fail(lease=lease, error=error)
    return "succeeded"


def _as_json(answer: dict) -> dict:
    """The answer as POST /ai/assist renders it (money as JSON numbers, CONTRACT §2)."""
    return json.loads(JSONRenderer().render(answer))
