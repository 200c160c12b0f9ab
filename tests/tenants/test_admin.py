"""The Tenants and Plans pages of the staff console: today's budget on the list, its filters, the
kill switch actions and inline, value-logged plan and budget changes, budget warnings, top-ups."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from ai.kill_switches import kill_switch_set
from ai.models import AISettings, KillSwitchChange
from tenants.models import Plan, Tenant
from usage.budget import budget_state
from usage.models import BudgetTopUp
from usage.recording import UsageEntry, usage_record
from usage.top_ups import budget_top_up

pytestmark = pytest.mark.django_db

TENANTS = "/staff/tenants/tenant/"
PLANS = "/staff/tenants/plan/"
# 10:30 UTC: already tomorrow at UTC+14 (Kiritimati), still yesterday at UTC-11 (Pago Pago).
NOW = datetime(2025, 3, 10, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with freeze_time(NOW):
        yield


@pytest.fixture
def superuser(make_user):
    return make_user("root@keybuzz.test", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def client_with_permissions(client, staff):
    """The test client logged in as a staff user with only the given permissions."""

    def login(*permissions: str):
        for permission in permissions:
            app_label, codename = permission.split(".")
            staff.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        client.force_login(staff)
        return client

    return login


def spend(tenant: Tenant, usd: str, *, at: datetime | None = None) -> None:
    usage_record(
        entry=UsageEntry(
            tenant=tenant, feature="assist", provider="litellm", model=tenant.plan.model_id,
            status="success", prompt_tokens=100, completion_tokens=100, cost_usd=Decimal(usd),
            created_at=at,
        )
    )  # fmt: skip


def changelist_ids(client, query: dict | None = None) -> list[str]:
    response = client.get(TENANTS, query or {})
    assert response.status_code == 200
    return sorted(tenant.id for tenant in response.context["cl"].result_list)


def change_url(tenant: Tenant) -> str:
    return f"{TENANTS}{tenant.pk}/change/"


def change_form_data(response) -> dict:
    """What the browser would post back from a change page, untouched."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for field in form:
            value = field.value()
            if value is not None and value is not False:
                data[field.html_name] = "on" if value is True else value
    return data


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def log_messages(tenant_or_plan) -> list[str]:
    entries = LogEntry.objects.filter(object_id=tenant_or_plan.pk).order_by("pk")
    return [entry.get_change_message() for entry in entries]


# The list


def test_the_list_shows_today_spend_budget_with_top_up_percent_and_last_call(
    staff_client, tenant, superuser
):
    # given a pro tenant (10 USD a day) topped up by 2 USD, that spent 9.60 USD today
    spend(tenant, "4.5", at=NOW - timedelta(hours=2))
    spend(tenant, "5.1", at=NOW - timedelta(minutes=30))
    budget_top_up(tenant=tenant, amount=Decimal(2), reason="launch day", actor=superuser.email)
    # when staff open the tenants page
    response = staff_client.get(TENANTS)
    # then its row shows the model, the spend, the budget with the top-up and 80 % in amber
    page = response.content.decode()
    assert '<td class="field-model_alias">kbz-standard</td>' in page
    assert '<td class="field-spend_today">$9.60</td>' in page
    assert '<td class="field-budget_today">$12.00</td>' in page
    assert (
        '<span class="kbz-budget kbz-budget--near">80.0 % '
        '<span class="kbz-budget__label">(near the limit)</span>' in page
    )
    # and the time of its latest call
    (row,) = response.context["cl"].result_list
    assert row.last_call == NOW - timedelta(minutes=30)


def test_a_tenant_without_calls_shows_nothing_spent_and_no_last_call(staff_client, tenant):
    response = staff_client.get(TENANTS)
    page = response.content.decode()
    assert '<td class="field-spend_today">$0.00</td>' in page
    assert '<span class="kbz-budget kbz-budget--ok">0.0 %</span>' in page
    assert response.context["cl"].result_list[0].last_call is None


@pytest.mark.parametrize(
    ("spent", "badge"),
    [
        ("7.99", '<span class="kbz-budget kbz-budget--ok">79.9 %</span>'),
        ("8", '<span class="kbz-budget kbz-budget--near">80.0 % '),
        ("10", '<span class="kbz-budget kbz-budget--reached">100.0 % '),
    ],
)
def test_the_percent_used_is_coloured_by_its_level(staff_client, tenant, spent, badge):
    spend(tenant, spent)
    assert badge in staff_client.get(TENANTS).content.decode()


def test_the_reached_level_also_says_so_in_words(staff_client, tenant):
    spend(tenant, "12")
    assert "(budget reached)" in staff_client.get(TENANTS).content.decode()


def test_the_list_costs_the_same_queries_for_3_and_for_30_tenants(staff_client, make_tenant):
    def add_tenants(first: int, last: int) -> None:
        for number in range(first, last):
            spending = make_tenant(f"shop-{number:03}", timezone="Asia/Tokyo")
            spend(spending, "1.25")
            budget_top_up(tenant=spending, amount=Decimal(1), reason="r", actor="a@b.test")

    def queries_of_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(TENANTS).status_code == 200
        return len(queries)

    # given 3 tenants with spend and top-ups, then 30
    add_tenants(0, 3)
    with_3 = queries_of_the_page()
    add_tenants(3, 30)
    with_30 = queries_of_the_page()
    # then the page needs as many queries for 30 as for 3, and few
    assert with_30 == with_3
    assert with_30 <= 10


def test_the_search_finds_tenants_by_id_and_name(staff_client, make_tenant):
    make_tenant("shop-001", name="Boutique Lyon")
    make_tenant("shop-002", name="Garage Nantes")
    assert changelist_ids(staff_client, {"q": "shop-002"}) == ["shop-002"]
    assert changelist_ids(staff_client, {"q": "lyon"}) == ["shop-001"]


# Filters


def test_the_plan_filter_keeps_the_plans_tenants(staff_client, make_tenant):
    make_tenant("shop-starter", plan="starter")
    make_tenant("shop-pro", plan="pro")
    assert changelist_ids(staff_client, {"plan__code__exact": "starter"}) == ["shop-starter"]


def test_the_kill_switch_filter_keeps_the_switched_off_tenants(staff_client, make_tenant):
    off = make_tenant("shop-off")
    make_tenant("shop-on")
    kill_switch_set(tenant=off, on=True, reason="abuse", actor="root@keybuzz.test")
    assert changelist_ids(staff_client, {"ai_settings__kill_switch__exact": "1"}) == ["shop-off"]
    assert changelist_ids(staff_client, {"ai_settings__kill_switch__exact": "0"}) == ["shop-on"]


@pytest.fixture
def spenders(make_tenant):
    """Pro tenants (10 USD a day) that spent this much of their own today, on every side of UTC."""
    for tenant_id, zone, spent in [
        ("utc-low", "UTC", "7.99"),
        ("utc-near", "UTC", "8"),
        ("utc-reached", "UTC", "10"),
        ("kiritimati-near", "Pacific/Kiritimati", "9"),  # its today is UTC's tomorrow
        ("pago-reached", "Pacific/Pago_Pago", "10"),  # its today is UTC's yesterday
        ("idle", "Europe/Paris", "0"),
    ]:
        spend(make_tenant(tenant_id, timezone=zone), spent)
    # and one that spent it all yesterday, in its own days, but nothing today
    spend(make_tenant("utc-yesterday", timezone="UTC"), "10", at=NOW - timedelta(days=1))


def test_the_80_percent_filter_keeps_tenants_near_or_over_their_budget_today(
    staff_client, spenders
):
    assert changelist_ids(staff_client, {"budget_used": "80"}) == [
        "kiritimati-near",
        "pago-reached",
        "utc-near",
        "utc-reached",
    ]


def test_the_100_percent_filter_keeps_tenants_that_reached_their_budget_today(
    staff_client, spenders
):
    assert changelist_ids(staff_client, {"budget_used": "100"}) == ["pago-reached", "utc-reached"]


def test_the_80_percent_filter_costs_the_same_queries_whatever_the_tenants(
    staff_client, spenders, make_tenant
):
    def queries_of_the_filtered_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            staff_client.get(TENANTS, {"budget_used": "80"})
        return len(queries)

    before = queries_of_the_filtered_page()
    for number in range(10):
        spend(make_tenant(f"more-{number}", timezone="America/Chicago"), "9")
    assert queries_of_the_filtered_page() == before


# Bulk kill switch actions


@pytest.fixture
def shops(make_tenant) -> list[Tenant]:
    return [make_tenant("shop-001"), make_tenant("shop-002"), make_tenant("shop-003")]


def switches() -> dict[str, bool]:
    return dict(AISettings.objects.values_list("tenant_id", "kill_switch"))


def test_disable_ai_first_asks_for_a_reason(staff_client, shops):
    # when staff choose "Disable AI" for two tenants, as the list's action bar posts it
    response = staff_client.post(
        TENANTS,
        {"action": "disable_ai", "select_across": "0", "index": "0",
         "_selected_action": ["shop-001", "shop-002"]},
    )  # fmt: skip
    # then a confirmation page lists them, keeps the selection and asks for a reason
    assert response.status_code == 200
    assert response.templates[0].name == "admin/tenants/tenant/kill_switch_confirmation.html"
    page = response.content.decode()
    for hidden in [
        '<input type="hidden" name="_selected_action" value="shop-001">',
        '<input type="hidden" name="_selected_action" value="shop-002">',
        '<input type="hidden" name="action" value="disable_ai">',
        'name="csrfmiddlewaretoken"',
    ]:
        assert hidden in page
    assert 'name="reason"' in page
    assert "shop-003" not in page
    # and nothing changed yet
    assert not any(switches().values())
    assert not KillSwitchChange.objects.exists()


def test_disable_ai_with_a_reason_switches_the_tenants_off_and_audits_each(
    staff_client, shops, superuser
):
    # when staff confirm "Disable AI" for two tenants with a reason
    response = staff_client.post(
        TENANTS,
        {
            "action": "disable_ai",
            "_selected_action": ["shop-001", "shop-002"],
            "post": "yes",
            "reason": "card fraud",
        },
    )
    # then both kill switches are on, the third is untouched
    assert response.status_code == 302
    assert switches() == {"shop-001": True, "shop-002": True, "shop-003": False}
    # and each change is audited with the reason and the staff email, in both trails
    changes = KillSwitchChange.objects.order_by("tenant_id")
    assert [(c.tenant_id, c.old_value, c.new_value, c.reason, c.changed_by) for c in changes] == [
        ("shop-001", False, True, "card fraud", superuser.email),
        ("shop-002", False, True, "card fraud", superuser.email),
    ]
    for shop in shops[:2]:
        assert log_messages(shop) == ["Turned the kill switch on (AI disabled). Reason: card fraud"]
    assert ("success", "Disabled AI for 2 tenants.") in messages_of(response)


def test_enable_ai_with_a_reason_switches_the_tenants_back_on(staff_client, shops, superuser):
    # given a tenant whose AI is off
    kill_switch_set(tenant=shops[0], on=True, reason="card fraud", actor="x@keybuzz.test")
    # when staff confirm "Enable AI" for it
    response = staff_client.post(
        TENANTS,
        {"action": "enable_ai", "_selected_action": ["shop-001"], "post": "yes",
         "reason": "cleared by the bank"},
    )  # fmt: skip
    # then its switch is off again, audited
    assert response.status_code == 302
    assert switches()["shop-001"] is False
    latest = KillSwitchChange.objects.filter(tenant=shops[0]).order_by("-pk").first()
    assert (latest.old_value, latest.new_value, latest.reason, latest.changed_by) == (
        True,
        False,
        "cleared by the bank",
        superuser.email,
    )
    assert log_messages(shops[0]) == [
        "Turned the kill switch off (AI enabled). Reason: cleared by the bank"
    ]
    assert ("success", "Enabled AI for 1 tenant.") in messages_of(response)


def test_disable_ai_with_an_empty_reason_shows_the_form_again_and_changes_nothing(
    staff_client, shops
):
    response = staff_client.post(
        TENANTS,
        {"action": "disable_ai", "_selected_action": ["shop-001"], "post": "yes", "reason": "  "},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert not any(switches().values())
    assert not KillSwitchChange.objects.exists()
    assert not LogEntry.objects.exists()


def action_names(response) -> set[str]:
    form = response.context["action_form"]  # None when no action is offered at all
    return {name for name, _ in form.fields["action"].choices} if form else set()


def test_staff_without_the_kill_switch_permission_get_no_kill_switch_actions(
    client_with_permissions, shops
):
    # given staff who may view and change tenants, but not their AI settings
    client = client_with_permissions("tenants.view_tenant", "tenants.change_tenant")
    # then the list offers them no kill switch action
    response = client.get(TENANTS)
    assert response.status_code == 200
    assert not {"disable_ai", "enable_ai"} & action_names(response)
    # and posting one anyway changes nothing
    client.post(
        TENANTS,
        {"action": "disable_ai", "_selected_action": ["shop-001"], "post": "yes", "reason": "x"},
    )
    assert not any(switches().values())
    assert not KillSwitchChange.objects.exists()


def test_staff_with_the_kill_switch_permission_get_the_actions(client_with_permissions, shops):
    client = client_with_permissions("tenants.view_tenant", "ai.change_aisettings")
    assert {"disable_ai", "enable_ai"} <= action_names(client.get(TENANTS))


# The tenant page


def test_turning_the_kill_switch_on_in_the_tenant_page_needs_a_reason(staff_client, tenant):
    # given the tenant page with the kill switch ticked and no reason
    data = change_form_data(staff_client.get(change_url(tenant)))
    data["ai_settings-0-kill_switch"] = "on"
    # when staff save it
    response = staff_client.post(change_url(tenant), data)
    # then the page comes back with the error, and the switch is still off
    assert response.status_code == 200
    (inline_errors,) = response.context["inline_admin_formsets"][0].formset.errors
    assert inline_errors == {"change_reason": ["Give a reason to turn the kill switch on or off."]}
    assert AISettings.objects.get(tenant=tenant).kill_switch is False
    assert not KillSwitchChange.objects.exists()


def test_turning_the_kill_switch_on_in_the_tenant_page_is_audited(staff_client, tenant, superuser):
    data = change_form_data(staff_client.get(change_url(tenant)))
    data["ai_settings-0-kill_switch"] = "on"
    data["ai_settings-0-change_reason"] = "prompt injection attempts"
    response = staff_client.post(change_url(tenant), data)
    assert response.status_code == 302
    settings = AISettings.objects.get(tenant=tenant)
    assert (settings.kill_switch, settings.reason, settings.updated_by) == (
        True,
        "prompt injection attempts",
        superuser.email,
    )
    change = KillSwitchChange.objects.get()
    assert (change.old_value, change.new_value, change.reason, change.changed_by) == (
        False,
        True,
        "prompt injection attempts",
        superuser.email,
    )
    assert "Kill switch" in log_messages(tenant)[0]


def test_saving_the_tenant_page_without_touching_the_switch_needs_no_reason(staff_client, tenant):
    data = change_form_data(staff_client.get(change_url(tenant)))
    data["name"] = "E-com LG"
    response = staff_client.post(change_url(tenant), data)
    assert response.status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).name == "E-com LG"
    assert not KillSwitchChange.objects.exists()


def test_staff_who_may_not_change_ai_settings_cannot_turn_the_switch_from_the_tenant_page(
    client_with_permissions, tenant
):
    # given staff who may change tenants but only view their AI settings
    client = client_with_permissions(
        "tenants.view_tenant", "tenants.change_tenant", "ai.view_aisettings"
    )
    data = change_form_data(client.get(change_url(tenant)))
    # when they post the switch anyway
    data.update({"ai_settings-0-kill_switch": "on", "ai_settings-0-change_reason": "x"})
    response = client.post(change_url(tenant), data)
    # then the tenant is saved and the switch is not touched
    assert response.status_code == 302
    assert AISettings.objects.get(tenant=tenant).kill_switch is False
    assert not KillSwitchChange.objects.exists()


def test_a_plan_and_budget_override_change_is_logged_with_old_and_new_values(staff_client, tenant):
    data = change_form_data(staff_client.get(change_url(tenant)))
    data.update(plan="starter", daily_budget_override="2.5")
    response = staff_client.post(change_url(tenant), data)
    assert response.status_code == 302
    assert log_messages(tenant) == [
        "Changed Plan: pro → starter; Daily budget override (USD): — → 2.5."
    ]


def test_staff_who_may_only_view_see_the_tenant_page_without_a_reason_field(
    client_with_permissions, tenant
):
    client = client_with_permissions("tenants.view_tenant", "ai.view_aisettings")
    response = client.get(change_url(tenant))
    assert response.status_code == 200
    assert "change_reason" not in response.content.decode()


# Budget warnings


def test_a_tenant_budget_below_one_call_is_warned_on_save_and_on_its_page(staff_client, tenant):
    # when staff set a budget override smaller than one minimal call on the cheapest alias pro
    # may use (kbz-cheap, where its route table can send a call, at AI_MIN_OUTPUT_TOKENS)
    data = change_form_data(staff_client.get(change_url(tenant)))
    data["daily_budget_override"] = "0.0001"
    response = staff_client.post(change_url(tenant), data)
    # then the save warns, and the page's budget check says so too
    assert response.status_code == 302
    warnings = [text for level, text in messages_of(response) if level == "warning"]
    assert warnings == [
        "The daily budget ($0.0001) is below the cost of one minimal call on kbz-cheap "
        "($0.000341): every AI request will be refused."
    ]
    page = staff_client.get(change_url(tenant)).content.decode()
    assert 'class="kbz-budget kbz-budget--reached" role="alert">⚠ The daily budget' in page


def test_a_tenant_budget_that_covers_a_call_is_not_warned(staff_client, tenant):
    data = change_form_data(staff_client.get(change_url(tenant)))
    data["daily_budget_override"] = "0.5"
    response = staff_client.post(change_url(tenant), data)
    assert not [text for level, text in messages_of(response) if level == "warning"]
    page = staff_client.get(change_url(tenant)).content.decode()
    assert "OK: it covers a minimal call on kbz-cheap ($0.000341)." in page


def plan_form(plan: Plan, **changes) -> dict:
    return {
        "name": plan.name,
        "daily_budget_usd": str(plan.daily_budget_usd),
        "model": plan.model_id,
        "fallback_model": plan.fallback_model,
        "requests_per_minute": plan.requests_per_minute,
        "autopilot_concurrency": plan.autopilot_concurrency,
        **({"autopilot_enabled": "on"} if plan.autopilot_enabled else {}),
        "route_rules": json.dumps(plan.route_rules),
        "initial-route_rules": json.dumps(plan.route_rules),
        "alert_percents": json.dumps(plan.alert_percents),
        # the form's hidden copy of a callable default, as a browser posts it back
        "initial-alert_percents": json.dumps(plan.alert_percents),
        **changes,
    }


def test_a_plan_budget_below_one_call_is_warned_on_save_and_on_the_list(staff_client):
    # when staff lower the starter plan's budget under one minimal call on kbz-cheap
    starter = Plan.objects.get(pk="starter")
    response = staff_client.post(
        f"{PLANS}starter/change/", plan_form(starter, daily_budget_usd="0.0002")
    )
    # then the save warns
    assert response.status_code == 302
    assert ("warning", (
        "The daily budget ($0.0002) is below the cost of one minimal call on kbz-cheap "
        "($0.000341): every AI request will be refused."
    )) in messages_of(response)  # fmt: skip
    # and the plans list flags that plan only
    page = staff_client.get(PLANS).content.decode()
    assert page.count("⚠ below one call") == 1
    assert page.index("⚠ below one call") > page.index(f'href="{PLANS}starter/change/"')


def test_a_plan_change_is_logged_with_old_and_new_values(staff_client):
    pro = Plan.objects.get(pk="pro")
    response = staff_client.post(
        f"{PLANS}pro/change/",
        plan_form(pro, daily_budget_usd="12.5", model="kbz-premium", requests_per_minute=240),
    )
    assert response.status_code == 302
    assert not [text for level, text in messages_of(response) if level == "warning"]
    assert log_messages(pro) == [
        "Changed Daily budget (USD): 10.000000 → 12.5; Model: kbz-standard → kbz-premium; "
        "Requests per minute: 120 → 240."
    ]
    pro.refresh_from_db()
    assert (pro.daily_budget_usd, pro.model_id, pro.requests_per_minute) == (
        Decimal("12.5"),
        "kbz-premium",
        240,
    )


def test_a_route_table_edit_is_logged_with_old_and_new_tables_and_seen_by_the_next_call(
    staff_client,
):
    # given the seeded pro table
    pro = Plan.objects.get(pk="pro")
    table = [{"name": "long chats", "minBytes": 4000, "target": "kbz-premium"}]
    # when staff replace it
    response = staff_client.post(
        f"{PLANS}pro/change/", plan_form(pro, route_rules=json.dumps(table))
    )
    # then it is saved, read fresh, and the audit keeps the old and the new table
    assert response.status_code == 302
    assert Plan.objects.get(pk="pro").route_table[0].name == "long chats"
    (message,) = log_messages(pro)
    assert message.startswith("Changed Route table: [{'name': 'fast replies'")
    assert message.endswith(
        "→ [{'name': 'long chats', 'minBytes': 4000, 'target': 'kbz-premium'}]."
    )


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ([{"name": "x", "quality": ["fast"], "target": "kbz-nope"}],
         "Unknown model alias(es): kbz-nope."),
        ([{"name": "x", "target": "kbz-cheap"}], "at least one condition is required"),
        ([{"name": "x", "quality": ["turbo"], "target": "kbz-cheap"}], "quality is a non-empty"),
        ([{"name": "x", "minBytes": 9, "maxBytes": 1, "target": "kbz-cheap"}], "minBytes is above"),
        ([{"name": "x", "budgetLeftBelowPercent": 0, "target": "kbz-cheap"}], "above 0"),
        ([{"name": "x", "quality": ["fast"], "target": "kbz-cheap"}] * 2, "a name of its own"),
        ({"name": "x"}, "JSON list"),
    ],
    ids=["unknown-alias", "no-condition", "unknown-quality", "sizes", "percent", "twice",
         "not-a-list"],
)  # fmt: skip
def test_an_invalid_route_table_is_refused_and_nothing_is_saved(staff_client, table, error):
    pro = Plan.objects.get(pk="pro")
    response = staff_client.post(
        f"{PLANS}pro/change/", plan_form(pro, route_rules=json.dumps(table))
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Plan.objects.get(pk="pro").route_rules == pro.route_rules
    assert log_messages(pro) == []


# One-day top-ups


def top_up_url(tenant: Tenant) -> str:
    return f"{TENANTS}{tenant.pk}/top-up/"


def test_the_tenant_page_links_to_the_top_up_for_staff_who_may_grant_one(
    staff_client, client_with_permissions, tenant
):
    link = f'href="{top_up_url(tenant)}"'
    assert link in staff_client.get(change_url(tenant)).content.decode()
    viewer = client_with_permissions("tenants.view_tenant")
    assert link not in viewer.get(change_url(tenant)).content.decode()


def test_the_top_up_page_shows_today_budget_and_spend(staff_client, tenant):
    spend(tenant, "2.5")
    response = staff_client.get(top_up_url(tenant))
    assert response.status_code == 200
    context = response.context
    assert (context["daily"], context["used"], context["remaining"]) == ("$10.00", "$2.50", "$7.50")
    assert context["day"] == tenant.local_day()


def test_a_top_up_raises_today_budget_and_is_audited(staff_client, tenant, superuser):
    # when staff grant 2.50 USD with a reason
    response = staff_client.post(top_up_url(tenant), {"amount": "2.50", "reason": "big launch"})
    # then they are back on the tenant page, and today's budget is 12.50 USD
    assert response.status_code == 302
    assert response.url == change_url(tenant)
    assert budget_state(tenant=tenant, day=tenant.local_day()).daily == Decimal("12.5")
    grant = BudgetTopUp.objects.get()
    assert (grant.amount_usd, grant.reason, grant.granted_by) == (
        Decimal("2.5"),
        "big launch",
        superuser.email,
    )
    assert log_messages(tenant) == [
        "Granted a one-day top-up of $2.50 for 2025-03-10. Reason: big launch"
    ]
    assert (
        "success",
        "Granted $2.50 more to ecomlg-001 (ecomlg-001) for 2025-03-10.",
    ) in messages_of(response)


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0", "The amount must be a positive number of USD."),
        ("-1", "The amount must be a positive number of USD."),
        ("0.0000001", "The amount has at most 6 decimals."),
        ("1000.01", "A top-up is at most 1000 USD."),
        ("lots", "Enter a number."),
    ],
)
def test_a_bad_top_up_amount_shows_the_form_again_with_its_error(
    staff_client, tenant, amount, error
):
    response = staff_client.post(top_up_url(tenant), {"amount": amount, "reason": "r"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"amount": [error]}
    assert not BudgetTopUp.objects.exists()


def test_a_top_up_without_a_reason_is_refused(staff_client, tenant):
    response = staff_client.post(top_up_url(tenant), {"amount": "1", "reason": " "})
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert not BudgetTopUp.objects.exists()


def test_staff_without_the_top_up_permission_get_403(client_with_permissions, tenant):
    client = client_with_permissions("tenants.view_tenant", "tenants.change_tenant")
    assert client.get(top_up_url(tenant)).status_code == 403
    assert client.post(top_up_url(tenant), {"amount": "1", "reason": "r"}).status_code == 403
    assert not BudgetTopUp.objects.exists()


def test_staff_with_the_top_up_permission_may_grant_one(client_with_permissions, tenant):
    client = client_with_permissions("tenants.view_tenant", "usage.add_budgettopup")
    response = client.post(top_up_url(tenant), {"amount": "1", "reason": "r"})
    assert response.status_code == 302
    assert BudgetTopUp.objects.count() == 1
