"""Checks a web server runs before it accepts its first request."""

import logging
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


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


def static_files_missing() -> str | None:
    """Why serving would fail, if it would: with DEBUG off and a manifest storage (whitenoise's,
    in production) every page renders static URLs from collectstatic's manifest, and without
    it every page is a 500. One line, for the server to stop with at start (management commands
    never ask)."""
    storage = import_string(settings.STORAGES["staticfiles"]["BACKEND"])
    if settings.DEBUG or not issubclass(storage, ManifestFilesMixin):
        return None
    if (Path(settings.STATIC_ROOT) / storage.manifest_name).is_file():
        return None
    return (
        f"Static files are missing in STATIC_ROOT ({settings.STATIC_ROOT}): run "
        "`python manage.py collectstatic --no-input` before serving with DEBUG off."
    )
