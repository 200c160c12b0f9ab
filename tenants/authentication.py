"""How API callers prove who they are (CONTRACT §3).

- `Authorization: Bearer <token>` or `Token <token>`: a user's API token.
- `Authorization: Bearer <KEYBUZZ_SERVICE_KEY>` with `X-User-Email`: the trusted frontend proxy
  acting as that user. `X-User-Email` alone is never trusted.
- The browser session (DRF's SessionAuthentication, with CSRF), configured in settings.
"""

import hmac

from django.conf import settings
from rest_framework import authentication, exceptions

from .models import User
from .models.users import normalize_email
from .tokens import api_token_user

_SCHEMES = ("bearer", "token")


def _credentials(request) -> str | None:
    """The secret of an `Authorization: Bearer|Token <secret>` header, if there is one."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() not in _SCHEMES:
        return None
    secret = secret.strip()
    if not secret or " " in secret:
        raise exceptions.AuthenticationFailed("Malformed Authorization header.")
    return secret


def _is_service_key(secret: str) -> bool:
    service_key = settings.KEYBUZZ["SERVICE_KEY"]
    return bool(service_key) and hmac.compare_digest(secret.encode(), service_key.encode())


class ServiceKeyAuthentication(authentication.BaseAuthentication):
    """The trusted frontend proxy: the service key plus the email of the user it acts for."""

    def authenticate(self, request):
        secret = _credentials(request)
        if secret is None or not _is_service_key(secret):
            return None
        email = request.META.get("HTTP_X_USER_EMAIL", "").strip()
        if not email:
            raise exceptions.AuthenticationFailed("The service key needs an X-User-Email header.")
        user = User.objects.filter(email=normalize_email(email), is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed("Unknown user.")
        return user, None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """A user's own API token."""

    def authenticate(self, request):
        secret = _credentials(request)
        if secret is None or _is_service_key(secret):
            return None
        user = api_token_user(raw_token=secret)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return user, None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
