"""The console's two staff groups, created by a migration: what each may see and change."""

from decimal import Decimal

import pytest

from ai.models import AIGlobalSettings
from tenants.models import ModelPrice, Plan

pytestmark = pytest.mark.django_db

READ_PAGES = [
    "/staff/",
    "/staff/tenants/tenant/",
    "/staff/tenants/plan/",
    "/staff/tenants/modelprice/",
    "/staff/ai/killswitchchange/",
    "/staff/usage/budgettopup/",
    "/staff/usage/aiusage/",
    "/staff/admin/logentry/",
    "/staff/ai/autopilotjob/",
    "/staff/ai/autopilotjob/queue/",
]


def _logged_in(client, user):
    client.force_login(user)
    return client


def _switch_on(client):
    return client.post(
        "/staff/ai/aiglobalsettings/1/change/",
        {"global_kill_switch": "on", "reason": "incident", "confirm": "on", "_save": "Save"},
    )


def _edit_plan(client):
    return client.post("/staff/tenants/plan/pro/change/", {
        "code": "pro", "name": "Pro", "daily_budget_usd": "12", "model": "kbz-standard",
        "fallback_model": "GPT-4o-mini", "requests_per_minute": "120",
        "autopilot_concurrency": "4", "alert_percents": "[80, 100]", "_save": "Save",
    })  # fmt: skip


def _edit_price(client):
    return client.post("/staff/tenants/modelprice/kbz-cheap/change/", {
        "alias": "kbz-cheap", "input_usd_per_million": "0.2", "output_usd_per_million": "0.6",
        "_save": "Save",
    })  # fmt: skip


@pytest.mark.parametrize("group", ["Support", "Billing admin"])
def test_both_groups_see_every_page(client, in_group, group):
    client = _logged_in(client, in_group(group))
    for path in READ_PAGES:
        assert client.get(path).status_code == 200, path


def test_support_toggles_the_kill_switch(client, in_group):
    client = _logged_in(client, in_group("Support"))
    assert _switch_on(client).status_code == 302
    assert AIGlobalSettings.objects.get().global_kill_switch is True


def test_support_cannot_edit_plans_or_prices(client, in_group):
    client = _logged_in(client, in_group("Support"))
    assert _edit_plan(client).status_code == 403
    assert _edit_price(client).status_code == 403
    assert Plan.objects.get(pk="pro").daily_budget_usd == 10
    assert ModelPrice.objects.get(pk="kbz-cheap").input_usd_per_million == Decimal("0.15")


def test_billing_admins_edit_plans_and_prices(client, in_group):
    client = _logged_in(client, in_group("Billing admin"))
    assert _edit_plan(client).status_code == 302
    assert _edit_price(client).status_code == 302
    assert Plan.objects.get(pk="pro").daily_budget_usd == 12
    assert ModelPrice.objects.get(pk="kbz-cheap").input_usd_per_million == Decimal("0.2")


def test_billing_admins_cannot_toggle_the_kill_switch(client, in_group):
    client = _logged_in(client, in_group("Billing admin"))
    assert _switch_on(client).status_code == 403
    assert AIGlobalSettings.objects.get().global_kill_switch is False


@pytest.mark.parametrize("group", ["Support", "Billing admin"])
def test_nobody_edits_accounting_rows(client, in_group, group):
    client = _logged_in(client, in_group(group))
    assert client.get("/staff/usage/aiusage/add/").status_code == 403
    assert client.get("/staff/usage/budgetcounter/add/").status_code == 403
