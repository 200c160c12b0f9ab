"""Every form of the pages (login, password reset, the staff console) is CSRF-protected."""

import pytest
from django.test import Client

from ai.models import AIGlobalSettings
from tenants.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-staff-password-1"


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("path", ["/accounts/login/", "/staff/login/", "/accounts/password_reset/"])
def test_each_form_carries_a_csrf_token(csrf_client, path):
    assert b'name="csrfmiddlewaretoken"' in csrf_client.get(path).content


@pytest.mark.parametrize("path", ["/accounts/login/", "/staff/login/", "/accounts/password_reset/"])
def test_a_form_posted_without_its_token_is_refused(csrf_client, path):
    User.objects.create_superuser("root@kb.test", password=PASSWORD)
    response = csrf_client.post(path, {"username": "root@kb.test", "password": PASSWORD,
                                       "email": "root@kb.test"})  # fmt: skip
    assert response.status_code == 403


def test_a_staff_console_change_without_its_token_is_refused(csrf_client):
    # given a signed-in staff user
    csrf_client.force_login(User.objects.create_superuser("root@kb.test", password=PASSWORD))
    # when a kill switch change is posted without the CSRF token
    response = csrf_client.post(
        "/staff/ai/aiglobalsettings/1/change/", {"global_kill_switch": "on", "reason": "x"}
    )
    # then it is refused and nothing changed
    assert response.status_code == 403
    assert AIGlobalSettings.objects.get().global_kill_switch is False
