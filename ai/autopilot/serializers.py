"""An Autopilot job as the API and its callback show it (CONTRACT §9)."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ai.models import AutopilotJob

Status = AutopilotJob.Status


@extend_schema_serializer(component_name="AutopilotJobError")
class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


@extend_schema_serializer(component_name="AutopilotJob")
class JobSerializer(serializers.Serializer):
    jobId = serializers.UUIDField(source="id")
    tenantId = serializers.CharField(source="tenant_id")
    status = serializers.ChoiceField(choices=Status.values)
    attempts = serializers.IntegerField(
        help_text="Runs that reached the model (deferrals and waits are not attempts)."
    )
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    nextRunAt = serializers.SerializerMethodField(
        help_text="When a waiting job (queued, deferred) may run next; null otherwise."
    )
    deadline = serializers.DateTimeField()
    result = serializers.JSONField(
        allow_null=True, help_text="When succeeded: the body POST /ai/assist gives a 200."
    )
    error = JobErrorSerializer(allow_null=True, help_text="When failed, expired or cancelled.")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_nextRunAt(self, job: AutopilotJob):
        if job.status not in (Status.QUEUED, Status.DEFERRED):
            return None
        return serializers.DateTimeField().to_representation(job.next_run_at)
