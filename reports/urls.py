from django.urls import path

from .apis import UsageHistoryApi, UsageTodayApi
from .views import usage_page

urlpatterns = [
    path("admin/ai/usage/today", UsageTodayApi.as_view(), name="usage-today"),
    path("admin/ai/usage", UsageHistoryApi.as_view(), name="usage-history"),
    path("usage/", usage_page, name="usage-page"),
]
