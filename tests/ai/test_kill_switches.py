import pytest

from ai.kill_switches import kill_switch_set
from ai.models import AIGlobalSettings, AISettings, KillSwitchChange
from keybuzz.errors import InvalidRequest

pytestmark = pytest.mark.django_db


def test_turning_the_global_switch_on_records_who_when_why_and_old_to_new():
    # when support turns the global switch on
    change = kill_switch_set(tenant=None, on=True, reason="provider outage", actor="ops@kb.test")
    # then the row is on and the audit trail says who, why, and off → on
    settings_row = AIGlobalSettings.objects.get()
    assert settings_row.global_kill_switch is True
    assert (settings_row.reason, settings_row.updated_by) == ("provider outage", "ops@kb.test")
    assert (change.tenant, change.old_value, change.new_value) == (None, False, True)
    assert change.changed_at == settings_row.updated_at


def test_turning_a_tenant_switch_off_again_records_on_to_off(tenant):
    kill_switch_set(tenant=tenant, on=True, reason="abuse", actor="ops@kb.test")
    change = kill_switch_set(tenant=tenant, on=False, reason="resolved", actor="ops@kb.test")
    assert (change.old_value, change.new_value) == (True, False)
    assert AISettings.objects.get(tenant=tenant).kill_switch is False
    assert KillSwitchChange.objects.filter(tenant=tenant).count() == 2


def test_a_blank_reason_is_refused_and_nothing_changes(tenant):
    with pytest.raises(InvalidRequest):
        kill_switch_set(tenant=tenant, on=True, reason="   ", actor="ops@kb.test")
    assert AISettings.objects.get(tenant=tenant).kill_switch is False
    assert not KillSwitchChange.objects.exists()
