from django.urls import path

from .apis import AssistApi, AssistStatusApi
from .autopilot.apis import JobApi, JobCancelApi, JobsApi

urlpatterns = [
    path("ai/assist", AssistApi.as_view(), name="ai-assist"),
    path("ai/assist/status", AssistStatusApi.as_view(), name="ai-assist-status"),
    path("ai/autopilot/jobs", JobsApi.as_view(), name="ai-autopilot-jobs"),
    path("ai/autopilot/jobs/<str:job_id>", JobApi.as_view(), name="ai-autopilot-job"),
    path(
        "ai/autopilot/jobs/<str:job_id>/cancel", JobCancelApi.as_view(), name="ai-autopilot-cancel"
    ),
]
