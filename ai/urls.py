from django.urls import path

from .apis import AssistApi, AssistStatusApi

urlpatterns = [
    path("ai/assist", AssistApi.as_view(), name="ai-assist"),
    path("ai/assist/status", AssistStatusApi.as_view(), name="ai-assist-status"),
]
