"""A test-only endpoint that runs the real authentication and tenant-access check.

The contract's tenant-scoped endpoints arrive with later features; this one lets the auth
matrix be tested against exactly the pieces they will use.
"""

from django.urls import include, path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.access import Access, tenant_for_user


class AccessProbeApi(APIView):
    class InputSerializer(serializers.Serializer):
        tenantId = serializers.CharField()
        count = serializers.IntegerField(min_value=1, required=False)

    def get(self, request):
        tenant = tenant_for_user(
            user=request.user, tenant_id=request.query_params.get("tenantId"), access=Access.READ
        )
        return Response({"tenantId": tenant.id, "user": request.user.email})

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = tenant_for_user(
            user=request.user, tenant_id=data.validated_data["tenantId"], access=Access.SPEND
        )
        return Response({"tenantId": tenant.id, "user": request.user.email})


class CrashApi(APIView):
    def get(self, request):
        raise RuntimeError("secret internals: password=hunter2")


urlpatterns = [
    path("ai/test-access", AccessProbeApi.as_view()),
    path("ai/test-crash", CrashApi.as_view()),
    path("", include("keybuzz.urls")),
]
