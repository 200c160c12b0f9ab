import pytest
from django.contrib.auth.management.commands import changepassword
from django.core.management import call_command

from tenants.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-owner-password-1"


def test_the_login_page_asks_for_email_and_password(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'type="email"' in response.content and b'type="password"' in response.content


def test_a_tenant_user_signs_in_with_email_and_password(client, make_user):
    make_user("owner@shop.test", password=PASSWORD)
    response = client.post(
        "/accounts/login/", {"username": "owner@shop.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session.get("_auth_user_id")


def test_a_wrong_password_shows_the_form_again_with_an_error(client, make_user):
    make_user("owner@shop.test", password=PASSWORD)
    response = client.post("/accounts/login/", {"username": "owner@shop.test", "password": "no"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_changepassword_sets_a_web_login_password_for_an_email(monkeypatch):
    # given a user created by create_api_token, without a usable password
    user = User.objects.create_user("agent@shop.test")
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": PASSWORD)
    # when support sets a password with Django's own command
    call_command("changepassword", "agent@shop.test")
    # then the user can log in with it
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
