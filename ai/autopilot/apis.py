"""The Autopilot job endpoints (CONTRACT §9): validate, check tenant access, call one service
or selector, render."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from keybuzz.api_docs import ErrorSerializer, error_responses
from keybuzz.api_fields import StrictCharField
from keybuzz.bound_serializers import represented, validated
from tenants.access import Access, tenant_for_user

from ..apis import REQUEST_ID_HEADER, SEED_ANSWER, SEED_REQUEST, AssistApi
from ..exceptions import JobNotCancellable
from ..idempotency import HEADER as IDEMPOTENCY_KEY
from ..idempotency import idempotency_key_from_header
from ..models import AutopilotJob
from .selectors import job_for_user, jobs_page
from .serializers import JobSerializer
from .services import job_create
from .transitions import job_cancel

Status = AutopilotJob.Status
JOB_ID = "3c7e6f7a-2b1d-4c55-9a43-8f1e2d3c4b5a"
JOB_QUEUED = {"jobId": JOB_ID, "status": "queued", "statusUrl": f"/ai/autopilot/jobs/{JOB_ID}"}
JOB_SUCCEEDED = {
    "jobId": JOB_ID, "tenantId": "ecomlg-001", "status": "succeeded", "attempts": 1,
    "createdAt": "2026-03-10T14:42:07.123456Z", "startedAt": "2026-03-10T14:42:07.401233Z",
    "finishedAt": "2026-03-10T14:42:09.010870Z", "nextRunAt": None,
    "deadline": "2026-03-11T14:42:07.123456Z",
    "result": {**SEED_ANSWER, "model": "kbz-premium"}, "error": None,
}  # fmt: skip
JOB_DEFERRED = {
    **JOB_SUCCEEDED, "status": "deferred", "attempts": 0, "finishedAt": None,
    "nextRunAt": "2026-03-11T00:00:00Z", "result": None,
}  # fmt: skip
IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    IDEMPOTENCY_KEY,
    str,
    OpenApiParameter.HEADER,
    description="Optional, 1 to 255 printable ASCII characters, scoped to the tenant and kept "
    "24 hours: the same key with the same body returns the existing job (200); with another "
    "body, 422.",
)


class JobsApi(APIView):
    """POST /ai/autopilot/jobs (create) and GET /ai/autopilot/jobs?tenantId=&status= (list)."""

    @extend_schema_serializer(component_name="AutopilotJobRequest")
    class InputSerializer(AssistApi.InputSerializer):
        feature = serializers.ChoiceField(
            choices=["autopilot"], default="autopilot", help_text="If given, `autopilot`."
        )
        callbackUrl = serializers.URLField(
            max_length=500, required=False,
            help_text="http or https, resolving to a public address: the job's final state is "
            "POSTed there, signed with the tenant's webhook secret (docs/ALERTS.md).",
        )  # fmt: skip
        deadline = serializers.DateTimeField(
            required=False,
            help_text="ISO 8601; default 24 h after creation, at most 7 days. A job not run by "
            "then is `expired`.",
        )

        def validate_callbackUrl(self, value: str) -> str:
            if not value.lower().startswith(("http://", "https://")):
                raise serializers.ValidationError("Must be an http or https URL.")
            return value

    @extend_schema_serializer(component_name="AutopilotJobAccepted")
    class AcceptedSerializer(serializers.Serializer):
        jobId = serializers.UUIDField(source="id")
        status = serializers.ChoiceField(choices=Status.values)
        statusUrl = serializers.SerializerMethodField()

        def get_statusUrl(self, job) -> str:
            return f"/ai/autopilot/jobs/{job.pk}"

    @extend_schema_serializer(component_name="AutopilotJobsQuery")
    class ListInputSerializer(serializers.Serializer):
        tenantId = StrictCharField(max_length=64)
        status = serializers.ChoiceField(choices=Status.values, required=False)
        cursor = StrictCharField(max_length=200, required=False)

    @extend_schema_serializer(component_name="AutopilotJobsPage")
    class ListOutputSerializer(serializers.Serializer):
        jobs = JobSerializer(many=True)
        nextCursor = serializers.CharField(
            source="next_cursor", allow_null=True, help_text="Pass as `cursor` for older jobs."
        )

    @extend_schema(
        operation_id="ai_autopilot_job_create",
        summary="Queue an Autopilot job",
        description="Accepted at once (202) and run by background workers through the same "
        "pipeline as POST /ai/assist (feature `autopilot`: kill switches, rate limit, routing, "
        "budget). A job the budget refuses is `deferred` to the tenant's next local day (or a "
        "top-up); a kill switch makes it wait (`paused`). Checks, in order: authentication, "
        "validation, tenant, the plan allows Autopilot (403 plan_feature_unavailable), the "
        "callback URL, the Idempotency-Key, the tenant's unfinished jobs (429 queue_full).",
        request=InputSerializer,
        parameters=[REQUEST_ID_HEADER, IDEMPOTENCY_KEY_HEADER],
        responses={
            202: AcceptedSerializer,
            200: JobSerializer,
            **error_responses(400, 401, 403, 404, 413, 422, 429, 500, 503),
        },
        examples=[
            OpenApiExample("A conversation to answer", value=SEED_REQUEST, request_only=True),
            OpenApiExample("Accepted", value=JOB_QUEUED, response_only=True, status_codes=["202"]),
        ],
    )
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        key = idempotency_key_from_header(request.headers.get(IDEMPOTENCY_KEY))
        tenant = tenant_for_user(user=request.user, tenant_id=data["tenantId"], access=Access.SPEND)
        outcome = job_create(
            tenant=tenant, user_id=str(request.user.pk), body=data,
            request_id=request.request_id, idempotency_key=key,
        )  # fmt: skip
        if not outcome.created:
            return Response(represented(JobSerializer, outcome.job), status=200)
        return Response(represented(self.AcceptedSerializer, outcome.job), status=202)

    @extend_schema(
        operation_id="ai_autopilot_job_list",
        summary="A tenant's Autopilot jobs, newest first",
        parameters=[ListInputSerializer],
        responses={200: ListOutputSerializer, **error_responses(400, 401, 403, 404, 500, 503)},
    )
    def get(self, request):
        data = validated(self.ListInputSerializer, request.query_params)
        tenant = tenant_for_user(user=request.user, tenant_id=data["tenantId"], access=Access.READ)
        page = jobs_page(tenant=tenant, status=data.get("status"), cursor=data.get("cursor"))
        return Response(represented(self.ListOutputSerializer, page))


class JobApi(APIView):
    """GET /ai/autopilot/jobs/{jobId}."""

    @extend_schema(
        operation_id="ai_autopilot_job_get",
        summary="An Autopilot job's state, and its result once it succeeded",
        responses={200: JobSerializer, **error_responses(401, 403, 404, 500, 503)},
        examples=[
            OpenApiExample("Succeeded", value=JOB_SUCCEEDED),
            OpenApiExample("Deferred by the budget", value=JOB_DEFERRED),
        ],
    )
    def get(self, request, job_id: str):
        job = job_for_user(user=request.user, job_id=job_id, access=Access.READ)
        return Response(represented(JobSerializer, job))


class JobCancelApi(APIView):
    """POST /ai/autopilot/jobs/{jobId}/cancel."""

    @extend_schema(
        operation_id="ai_autopilot_job_cancel",
        summary="Cancel a job that is queued, deferred or paused",
        request=None,
        responses={
            200: JobSerializer,
            **error_responses(
                401,
                403,
                404,
                500,
                503,
                e409=OpenApiResponse(
                    ErrorSerializer,
                    description="`job_not_cancellable`: the job is running or finished "
                    "(`jobStatus` says which).",
                ),
            ),
        },
    )
    def post(self, request, job_id: str):
        job = job_for_user(user=request.user, job_id=job_id, access=Access.SPEND)
        if not job_cancel(job=job):
            job.refresh_from_db()
            raise JobNotCancellable(status=job.status)
        job.refresh_from_db()
        return Response(represented(JobSerializer, job))
