"""The global AI settings page: one object, a reason for every change, a confirmation to stop
AI for everyone, and the change audited twice (KillSwitchChange and Django's LogEntry)."""

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command

from ai.models import AIGlobalSettings, KillSwitchChange

pytestmark = pytest.mark.django_db

PAGE = "/staff/ai/aiglobalsettings/1/change/"


def _save(client, **fields):
    return client.post(PAGE, {"reason": "", **fields, "_save": "Save"})


def test_the_list_goes_straight_to_the_single_object(console):
    response = console.get("/staff/ai/aiglobalsettings/")
    assert (response.status_code, response["Location"]) == (302, PAGE)


def test_turning_the_switch_on_with_reason_and_confirmation_is_audited(console, superuser):
    # when support turns the global switch on with a reason and the confirmation
    response = _save(console, global_kill_switch="on", reason="provider outage", confirm="on")
    # then the switch is on and both audit trails hold who, why, old and new
    assert response.status_code == 302
    assert AIGlobalSettings.objects.get().global_kill_switch is True
    change = KillSwitchChange.objects.get()
    assert (change.tenant, change.old_value, change.new_value) == (None, False, True)
    assert (change.reason, change.changed_by) == ("provider outage", "root@keybuzz.test")
    entry = LogEntry.objects.get()
    assert entry.user == superuser
    assert entry.get_change_message() == (
        "Changed Global kill switch: False → True; Reason: — → provider outage."
    )


def test_turning_the_switch_on_without_confirmation_changes_nothing(console):
    response = _save(console, global_kill_switch="on", reason="provider outage")
    assert response.status_code == 200
    assert "Confirm that AI must stop for every tenant." in response.text
    assert AIGlobalSettings.objects.get().global_kill_switch is False
    assert not KillSwitchChange.objects.exists()


def test_a_change_without_reason_changes_nothing(console):
    response = _save(console, global_kill_switch="on", confirm="on")
    assert response.status_code == 200
    assert AIGlobalSettings.objects.get().global_kill_switch is False
    assert not KillSwitchChange.objects.exists()


def test_turning_it_off_needs_a_reason_but_no_confirmation(console):
    call_command("kill_switch", "on", "--reason", "incident", stdout=None)
    response = _save(console, reason="provider back")
    assert response.status_code == 302
    assert AIGlobalSettings.objects.get().global_kill_switch is False


def test_the_form_does_not_reuse_the_last_reason(console):
    call_command("kill_switch", "on", "--reason", "incident", stdout=None)
    form = console.get(PAGE).context["adminform"].form
    assert form["reason"].value() == ""


def test_the_cli_and_the_console_share_one_audit_trail(console):
    call_command("kill_switch", "on", "--reason", "from the shell", stdout=None)
    _save(console, reason="from the console")
    trail = list(
        KillSwitchChange.objects.order_by("changed_at").values_list("changed_by", "reason")
    )
    assert trail == [("cli", "from the shell"), ("root@keybuzz.test", "from the console")]
    page = console.get("/staff/ai/killswitchchange/")
    assert "from the shell" in page.text and "from the console" in page.text


def test_the_banner_is_on_every_console_page_while_the_switch_is_on(console):
    # given the switch off: no banner
    assert 'id="kill-switch-banner"' not in console.get("/staff/").text
    # when it is turned on
    call_command("kill_switch", "on", "--reason", "provider outage", stdout=None)
    # then every page shows it, with the reason
    for path in ["/staff/", "/staff/tenants/tenant/", "/staff/usage/aiusage/", PAGE]:
        page = console.get(path).text
        assert 'id="kill-switch-banner"' in page, path
        assert "provider outage" in page


def test_the_audit_trail_is_read_only(console):
    call_command("kill_switch", "on", "--reason", "incident", stdout=None)
    change = KillSwitchChange.objects.get()
    assert console.post(f"/staff/ai/killswitchchange/{change.pk}/change/", {}).status_code == 403
    assert console.get("/staff/ai/killswitchchange/add/").status_code == 403
