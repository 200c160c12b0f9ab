"""`manage.py kill_switch on|off [--tenant ID] --reason TEXT` (CONTRACT §5, §6).

Most tests go through `call_command`, where a bad argument raises CommandError. A few run
`manage.py` in a child process to check what an operator sees: one line on stderr, exit 2 for
argparse errors and 1 for CommandError.
"""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from ai.models import AIGlobalSettings, AISettings, KillSwitchChange

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "manage.py").is_file())


def _run(*args: str) -> str:
    out = StringIO()
    call_command("kill_switch", *args, stdout=out)
    return out.getvalue()


def _switches() -> dict:
    """Every switch and its audit trail: a refused command must leave them as they are."""
    return {
        "global": list(AIGlobalSettings.objects.values()),
        "tenants": list(AISettings.objects.order_by("tenant_id").values()),
        "audit_rows": KillSwitchChange.objects.count(),
    }


# --- the global switch ---------------------------------------------------------------------


@pytest.mark.django_db
def test_global_on_turns_the_global_switch_on():
    # given / when
    _run("on", "--reason", "provider outage")

    # then
    assert AIGlobalSettings.objects.get().global_kill_switch is True


@pytest.mark.django_db
def test_global_off_turns_the_global_switch_off():
    # given
    _run("on", "--reason", "provider outage")

    # when
    _run("off", "--reason", "provider back")

    # then
    assert AIGlobalSettings.objects.get().global_kill_switch is False


@pytest.mark.django_db
def test_global_on_records_who_why_and_the_change_in_the_audit_trail():
    # given / when
    _run("on", "--reason", "provider outage")

    # then
    change = KillSwitchChange.objects.get()
    assert (
        change.tenant_id,
        change.changed_by,
        change.reason,
        change.old_value,
        change.new_value,
    ) == (None, "cli", "provider outage", False, True)


@pytest.mark.django_db
def test_global_change_records_when_it_happened():
    # given
    before = timezone.now()

    # when
    _run("on", "--reason", "provider outage")

    # then
    assert before <= KillSwitchChange.objects.get().changed_at <= timezone.now()


@pytest.mark.django_db
def test_global_off_records_on_to_off():
    # given
    _run("on", "--reason", "provider outage")

    # when
    _run("off", "--reason", "provider back")

    # then
    latest = KillSwitchChange.objects.order_by("-changed_at", "-id").first()
    assert (latest.old_value, latest.new_value, latest.reason) == (True, False, "provider back")


@pytest.mark.django_db
def test_turning_on_a_switch_already_on_is_still_audited():
    # given
    _run("on", "--reason", "provider outage")

    # when
    _run("on", "--reason", "still down")

    # then
    latest = KillSwitchChange.objects.order_by("-changed_at", "-id").first()
    assert (KillSwitchChange.objects.count(), latest.old_value, latest.new_value) == (2, True, True)


@pytest.mark.django_db
def test_global_settings_row_records_who_and_why():
    # given / when
    _run("on", "--reason", "provider outage")

    # then
    row = AIGlobalSettings.objects.get()
    assert (row.updated_by, row.reason) == ("cli", "provider outage")


@pytest.mark.django_db
def test_global_switch_leaves_tenant_switches_alone(tenant):
    # given / when
    _run("on", "--reason", "provider outage")

    # then
    assert AISettings.objects.get(tenant=tenant).kill_switch is False


@pytest.mark.django_db
def test_reason_is_stored_without_surrounding_spaces():
    # given / when
    _run("on", "--reason", "  provider outage \n")

    # then
    assert KillSwitchChange.objects.get().reason == "provider outage"


@pytest.mark.django_db
def test_global_change_is_reported_on_one_line():
    # given / when
    output = _run("on", "--reason", "provider outage")

    # then
    assert output.splitlines() == ["Global kill switch: off → on (reason: provider outage)."]


# --- a tenant's switch ---------------------------------------------------------------------


@pytest.mark.django_db
def test_tenant_on_turns_that_tenants_switch_on(tenant):
    # given / when
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # then
    assert AISettings.objects.get(tenant=tenant).kill_switch is True


@pytest.mark.django_db
def test_tenant_off_turns_that_tenants_switch_off(tenant):
    # given
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # when
    _run("off", "--tenant", tenant.id, "--reason", "cleared")

    # then
    assert AISettings.objects.get(tenant=tenant).kill_switch is False


@pytest.mark.django_db
def test_tenant_switch_leaves_the_global_switch_alone(tenant):
    # given / when
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # then
    assert AIGlobalSettings.objects.get().global_kill_switch is False


@pytest.mark.django_db
def test_tenant_switch_leaves_other_tenants_alone(tenant, make_tenant):
    # given
    other = make_tenant("other-002", plan="starter")

    # when
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # then
    assert AISettings.objects.get(tenant=other).kill_switch is False


@pytest.mark.django_db
def test_tenant_on_records_who_why_and_the_change_in_the_audit_trail(tenant):
    # given / when
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # then
    change = KillSwitchChange.objects.get()
    assert (
        change.tenant_id,
        change.changed_by,
        change.reason,
        change.old_value,
        change.new_value,
    ) == (tenant.id, "cli", "abuse report", False, True)


@pytest.mark.django_db
def test_tenant_change_records_when_it_happened(tenant):
    # given
    before = timezone.now()

    # when
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # then
    assert before <= KillSwitchChange.objects.get().changed_at <= timezone.now()


@pytest.mark.django_db
def test_tenant_off_records_on_to_off(tenant):
    # given
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # when
    _run("off", "--tenant", tenant.id, "--reason", "cleared")

    # then
    latest = KillSwitchChange.objects.order_by("-changed_at", "-id").first()
    assert (latest.tenant_id, latest.old_value, latest.new_value) == (tenant.id, True, False)


@pytest.mark.django_db
def test_tenant_settings_row_records_who_and_why(tenant):
    # given / when
    _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # then
    row = AISettings.objects.get(tenant=tenant)
    assert (row.updated_by, row.reason) == ("cli", "abuse report")


@pytest.mark.django_db
def test_tenant_change_is_reported_on_one_line(tenant):
    # given / when
    output = _run("on", "--tenant", tenant.id, "--reason", "abuse report")

    # then
    assert output.splitlines() == [f"Kill switch of {tenant.id}: off → on (reason: abuse report)."]


# --- bad arguments -------------------------------------------------------------------------

BAD_ARGS = {
    "missing_state": ["--reason", "why"],
    "unknown_state": ["maybe", "--reason", "why"],
    "state_in_capitals": ["ON", "--reason", "why"],
    "missing_reason": ["on"],
    "missing_reason_with_tenant": ["on", "--tenant", "ecomlg-001"],
    "empty_reason": ["on", "--reason", ""],
    "blank_reason": ["on", "--reason", "   "],
    "empty_reason_with_tenant": ["on", "--tenant", "ecomlg-001", "--reason", ""],
    "unknown_tenant": ["on", "--tenant", "nobody-999", "--reason", "why"],
    "tenant_id_in_capitals": ["on", "--tenant", "ECOMLG-001", "--reason", "why"],
    "two_states": ["on", "off", "--reason", "why"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("args", BAD_ARGS.values(), ids=BAD_ARGS.keys())
def test_bad_argument_fails_and_changes_no_switch_and_writes_no_audit_row(tenant, args):
    # given
    before = _switches()

    # when
    with pytest.raises(CommandError):
        call_command("kill_switch", *args, stdout=StringIO())

    # then
    assert _switches() == before


@pytest.mark.django_db
def test_unknown_tenant_is_named_in_the_error():
    # given / when
    with pytest.raises(CommandError) as raised:
        call_command("kill_switch", "on", "--tenant", "nobody-999", "--reason", "why")

    # then
    assert str(raised.value) == "unknown tenant 'nobody-999'"


# --- from the command line (see ManageCli) ---------------------------------------------------


def test_cli_missing_reason_prints_one_line_and_exits_2(manage_cli):
    # given / when
    result = manage_cli("kill_switch", "on")

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        2,
        ["manage.py kill_switch: error: the following arguments are required: --reason"],
    )


def test_cli_unknown_state_prints_one_line_and_exits_2(manage_cli):
    # given / when
    result = manage_cli("kill_switch", "maybe", "--reason", "why")

    # then
    assert (result.returncode, len(result.stderr.splitlines())) == (2, 1)


def test_cli_empty_reason_prints_one_line_and_exits_1(manage_cli):
    # given / when
    result = manage_cli("kill_switch", "on", "--reason", " ")

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        ["CommandError: --reason must not be empty"],
    )


def test_cli_unknown_tenant_prints_one_line_and_exits_1(manage_cli):
    # given / when
    result = manage_cli("kill_switch", "on", "--tenant", "nobody-999", "--reason", "why")

    # then
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        ["CommandError: unknown tenant 'nobody-999'"],
    )


def test_cli_refused_change_writes_no_audit_row(manage_cli):
    # given
    before = manage_cli.count("ai_killswitchchange")

    # when
    manage_cli("kill_switch", "on", "--tenant", "nobody-999", "--reason", "why")

    # then
    assert manage_cli.count("ai_killswitchchange") == before


def test_cli_change_writes_one_audit_row_by_cli(manage_cli):
    # given
    before = manage_cli.count("ai_killswitchchange")

    # when
    result = manage_cli("kill_switch", "off", "--reason", "drill")

    # then
    who = manage_cli.query("SELECT changed_by FROM ai_killswitchchange WHERE reason = 'drill'")
    assert (result.returncode, manage_cli.count("ai_killswitchchange") - before, who) == (
        0,
        1,
        [("cli",)],
    )
