"""WSGI entry point: `gunicorn keybuzz.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keybuzz.settings")

from keybuzz.startup import (
    require_secret_key,
    static_files_missing,
    warn_if_fallback_mode,
)

# Checked before the application loads: a server that would fail every login, or answer 500
# on every page, stops at start with one line instead (CONTRACT §7).
require_secret_key()
if missing := static_files_missing():
    raise SystemExit(missing)

application = get_wsgi_application()

warn_if_fallback_mode()
