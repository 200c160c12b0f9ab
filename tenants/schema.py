"""How the OpenAPI schema describes our authentication classes (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user's API token (`manage.py create_api_token`). "
            "`Authorization: Token <token>` is accepted too.",
        }


class ServiceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ServiceKeyAuthentication"
    name = "serviceKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The trusted frontend proxy: `Authorization: Bearer "
            "<KEYBUZZ_SERVICE_KEY>` together with `X-User-Email: <email>` acts as that user.",
        }
