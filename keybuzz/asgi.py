"""ASGI entry point, for servers that speak ASGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keybuzz.settings")

application = get_asgi_application()

from keybuzz.startup import require_secret_key, warn_if_fallback_mode  # noqa: E402 (needs settings)

require_secret_key()
warn_if_fallback_mode()
