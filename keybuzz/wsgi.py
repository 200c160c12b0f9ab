"""WSGI entry point: `gunicorn keybuzz.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keybuzz.settings")

application = get_wsgi_application()

from keybuzz.startup import require_secret_key, warn_if_fallback_mode  # noqa: E402 (needs settings)

require_secret_key()
warn_if_fallback_mode()
