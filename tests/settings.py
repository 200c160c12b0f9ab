"""Test settings: the real settings, with the test suite's own secrets and no local .env."""

import os

os.environ["DJANGO_READ_DOT_ENV_FILE"] = "false"
os.environ["SECRET_KEY"] = "tests-only-secret-key-not-for-production-0123456789"
os.environ.setdefault("DEBUG", "false")
os.environ["SECURE_HTTPS"] = "false"  # the test client speaks plain HTTP
os.environ["KEYBUZZ_SERVICE_KEY"] = "tests-service-key-0123456789abcdef"
os.environ.pop("LITELLM_MASTER_KEY", None)
# Webhook receivers in tests listen on loopback; tests/security/test_outbound_addresses.py
# closes the rule again to check it.
os.environ["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = "true"

from keybuzz.settings import *  # noqa: F403

# Templates reference static files; tests don't run collectstatic, so no manifest is needed.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Fast hashing: tests create many users with passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
