"""A finished job's callback (CONTRACT §9): its final state, POSTed to its `callbackUrl`
through the alerts' outbox — the same delivery rows, signer, retry policy and address rule as
alert webhooks (alerts.callbacks), never a copy."""

from rest_framework.renderers import JSONRenderer

from alerts.callbacks import callback_delivery_enqueue
from keybuzz.bound_serializers import represented

from ..models import AutopilotJob
from .serializers import JobSerializer


def callback_enqueue(*, job: AutopilotJob) -> None:
    """Queue the POST of the job's final state, in the transaction that ended the job: a job
    ends with its callback queued, or not at all."""
    body = JSONRenderer().render(represented(JobSerializer, job))
    callback_delivery_enqueue(tenant_id=job.tenant_id, url=job.callback_url, body=body)
