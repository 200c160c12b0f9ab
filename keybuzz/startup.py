"""Checks a web server runs before it accepts its first request."""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_secret_key() -> None:
    """Serving with DEBUG off needs a real SECRET_KEY: fail at boot, not at the first login."""
    try:
        settings.SECRET_KEY  # noqa: B018 (Django raises on access when it is empty)
    except ImproperlyConfigured:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is false.") from None


def warn_if_fallback_mode() -> None:
    if not settings.KEYBUZZ["LITELLM_MASTER_KEY"]:
        logging.getLogger("keybuzz").warning(
            "LITELLM_MASTER_KEY is not set: AI runs in fallback mode "
            "(generic suggestions, no upstream call, no cost)."
        )
