import pytest
from django.contrib import admin
from django.urls import reverse

from ai.models import AIGlobalSettings, KillSwitchChange
from tenants.models import ApiToken, User
from tenants.tokens import api_token_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-staff-password-1"


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root@keybuzz.test", password=PASSWORD)


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


def test_staff_log_into_the_console_with_email_and_password(client, superuser):
    # when the staff user signs in on the admin login page
    response = client.post(
        "/staff/login/?next=/staff/", {"username": "ROOT@keybuzz.test", "password": PASSWORD}
    )
    # then they land on the console
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200


def test_a_non_staff_user_cannot_open_the_console(client, make_user):
    client.force_login(make_user("agent@shop.test"))
    assert client.get("/staff/").status_code == 302  # back to the login page


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_every_model_has_a_working_changelist(staff_client, model, tenant, member):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    # (the single global settings object's list goes straight to its page)
    assert staff_client.get(url, follow=True).status_code == 200


def test_a_kill_switch_change_in_the_console_is_audited_with_the_staff_email(staff_client):
    # when staff turn the global switch on from its page, with a reason
    url = reverse("admin:ai_aiglobalsettings_change", args=[1])
    response = staff_client.post(
        url, {"global_kill_switch": "on", "reason": "incident #42", "confirm": "on"}
    )
    # then it is on and the audit trail names them
    assert response.status_code == 302
    assert AIGlobalSettings.objects.get().global_kill_switch is True
    change = KillSwitchChange.objects.get()
    assert (change.changed_by, change.reason, change.new_value) == (
        "root@keybuzz.test",
        "incident #42",
        True,
    )


def test_a_kill_switch_change_without_reason_is_refused(staff_client):
    url = reverse("admin:ai_aiglobalsettings_change", args=[1])
    response = staff_client.post(url, {"global_kill_switch": "on", "reason": ""})
    assert response.status_code == 200  # the form again, with its error
    assert AIGlobalSettings.objects.get().global_kill_switch is False
    assert not KillSwitchChange.objects.exists()


def test_the_revoke_action_revokes_the_selected_tokens_only(staff_client, member, token_for):
    # given two tokens of a member
    kept, revoked = token_for(member), token_for(member)
    target = ApiToken.objects.get(prefix=revoked[:12])
    # when staff revoke one of them from the tokens list
    response = staff_client.post(
        reverse("admin:tenants_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [target.pk]},
    )
    # then only that one stops working
    assert response.status_code == 302
    assert api_token_user(raw_token=revoked) is None
    assert api_token_user(raw_token=kept) == member
