from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import metrics, probes

admin.site.site_header = "KeyBuzz AI console"
admin.site.site_title = "KeyBuzz AI console"
admin.site.index_title = "AI control plane"

urlpatterns = [
    path("", RedirectView.as_view(url="/staff/", permanent=False)),
    path("staff/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("ai.urls")),
    path("", include("usage.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
]
