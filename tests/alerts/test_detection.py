"""Alerts detected at write time: which writes raise which alert, once per threshold and day."""

from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from alerts.models import Alert, AlertDelivery
from tenants.models import Plan
from tests.alerts.conftest import refuse, spend
from usage.budget import minimal_call_micros_on_plan, plan_prices
from usage.models import AIUsage, BudgetCounter
from usage.pricing import from_micros
from usage.recording import UsageEntry, usage_record_many
from usage.top_ups import budget_top_up

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_noon")]

NOON_IN_PARIS = datetime.fromisoformat("2026-03-10T12:00:00+01:00")


@pytest.fixture
def frozen_noon():
    with freeze_time(NOON_IN_PARIS):
        yield


def percent_alerts(tenant) -> list[tuple]:
    return list(
        Alert.objects.filter(tenant=tenant, kind="budget_percent")
        .order_by("threshold")
        .values_list("threshold", "spend_usd", "budget_usd")
    )


def test_crossing_80_percent_creates_one_alert_with_its_email_delivery(tenant):
    # given a pro tenant (10 USD a day) that spent 7.90 USD today
    spend(tenant, "7.90")
    assert not Alert.objects.exists()
    # when a call of 0.20 USD takes it to 8.10 USD
    spend(tenant, "0.20")
    # then one 80 % alert names the spend and the budget, with one email delivery due
    alert = Alert.objects.get()
    assert (alert.kind, alert.tenant, alert.day) == (
        "budget_percent", tenant, NOON_IN_PARIS.date(),
    )  # fmt: skip
    assert (alert.threshold, alert.spend_usd, alert.budget_usd) == (80, Decimal("8.1"), 10)
    assert alert.key == "ecomlg-001:2026-03-10:budget_percent:80"
    assert list(alert.deliveries.values_list("channel", "status", "attempts")) == [
        ("email", "pending", 0)
    ]


def test_a_tenant_with_a_webhook_endpoint_gets_a_webhook_delivery_too(tenant, webhook_for):
    webhook_for(tenant, "https://hooks.example.com/kbz")
    spend(tenant, "8.5")
    assert sorted(AlertDelivery.objects.values_list("channel", flat=True)) == ["email", "webhook"]


def test_an_inactive_webhook_endpoint_gets_no_delivery(tenant, webhook_for):
    endpoint = webhook_for(tenant, "https://hooks.example.com/kbz")
    endpoint.is_active = False
    endpoint.save()
    spend(tenant, "8.5")
    assert list(AlertDelivery.objects.values_list("channel", flat=True)) == ["email"]


def test_a_write_that_jumps_past_80_and_100_creates_both(tenant):
    spend(tenant, "9.9999")
    assert percent_alerts(tenant) == [
        (80, Decimal("9.9999"), 10), (100, Decimal("9.9999"), 10),
    ]  # fmt: skip
    assert AlertDelivery.objects.count() == 2


def test_writes_below_every_threshold_make_no_alert_and_no_alert_query(tenant):
    # given spend well below 80 %
    spend(tenant, "3")
    # when more calls stay below it
    with CaptureQueriesContext(connection) as captured:
        spend(tenant, "2")
        spend(tenant, "2.99")
    # then no alert, and each write sent only its row, its spend and its rollup
    assert not Alert.objects.exists()
    assert len(captured) == 6
    assert not [query for query in captured if "alerts_" in query["sql"]]


def test_100_percent_is_the_budget_reached_less_than_one_minimal_call_left(tenant):
    # given the spend just short of the point where a minimal call (on the cheapest alias the
    # plan's route table names) no longer fits
    plan = tenant.plan
    minimal = from_micros(minimal_call_micros_on_plan(plan=plan, prices=plan_prices(plans=[plan])))
    reached = Decimal(10) - minimal + Decimal("0.000001")
    spend(tenant, str(reached - Decimal("0.000001")))
    assert [threshold for threshold, *_ in percent_alerts(tenant)] == [80]
    # when one more micro-dollar is spent
    spend(tenant, "0.000001")
    # then the budget is reached: the 100 % alert
    assert [threshold for threshold, *_ in percent_alerts(tenant)] == [80, 100]


def test_a_top_up_raises_the_base_of_the_thresholds(tenant):
    # given a 5 USD top-up today: the day's budget is 15 USD
    budget_top_up(tenant=tenant, amount=Decimal("5"), reason="launch", actor="support")
    # when the tenant spends 8.50 USD (85 % of its plain budget, 57 % of today's)
    spend(tenant, "8.5")
    # then nothing yet; at 12.10 USD (past 80 % of 15) the alert comes, against 15 USD
    assert not Alert.objects.exists()
    spend(tenant, "3.6")
    assert percent_alerts(tenant) == [(80, Decimal("12.1"), 15)]


def test_a_threshold_alerts_once_a_day_even_if_a_top_up_moves_it(tenant):
    # given the 80 % alert of today
    spend(tenant, "8.5")
    # when a top-up moves 80 % to 12 USD and the spend passes it again
    budget_top_up(tenant=tenant, amount=Decimal("5"), reason="launch", actor="support")
    spend(tenant, "4")
    # then there is still one 80 % alert
    assert [threshold for threshold, *_ in percent_alerts(tenant)] == [80]


def test_the_tenants_own_percents_win_over_the_plans(tenant):
    tenant.alert_percents = [50]
    tenant.save()
    spend(tenant, "5.5")
    spend(tenant, "3")
    assert [threshold for threshold, *_ in percent_alerts(tenant)] == [50]


def test_the_plans_percents_apply_to_its_tenants_without_their_own(make_tenant):
    Plan.objects.filter(pk="starter").update(alert_percents=[25, 62.5])
    shop = make_tenant("shop-1", plan="starter")  # 1 USD a day
    spend(shop, "0.30")
    spend(shop, "0.40")
    assert [threshold for threshold, *_ in percent_alerts(shop)] == [25, Decimal("62.5")]


def test_the_budget_blocked_alert_is_raised_once_a_day(tenant):
    # given three requests refused by the budget today
    for _ in range(3):
        refuse(tenant)
    # then one budget_blocked alert
    alert = Alert.objects.get()
    assert (alert.kind, alert.threshold, alert.budget_usd) == ("budget_blocked", None, 10)
    # and tomorrow's first refusal makes tomorrow's
    with freeze_time(NOON_IN_PARIS + timedelta(days=1)):
        refuse(tenant)
        refuse(tenant)
    assert list(Alert.objects.order_by("day").values_list("kind", "day")) == [
        ("budget_blocked", NOON_IN_PARIS.date()),
        ("budget_blocked", NOON_IN_PARIS.date() + timedelta(days=1)),
    ]


def test_other_refusals_raise_no_alert(tenant):
    refuse(tenant, error_code="rate_limited")
    refuse(tenant, error_code="tenant_kill_switch")
    assert not Alert.objects.exists()


def test_bulk_writes_of_past_days_raise_no_alert(tenant):
    # given a history of days each spent to their full budget, written in bulk
    entries = [
        UsageEntry(
            tenant=tenant, feature="assist", provider="mock", model="kbz-standard",
            status=status, cost_usd=Decimal(cost), error_code=code,
            created_at=NOON_IN_PARIS - timedelta(days=days_ago),
        )
        for days_ago in range(1, 8)
        for status, cost, code in (("success", "10", None), ("blocked", "0", "budget_exceeded"))
    ]  # fmt: skip
    usage_record_many(entries=entries)
    # then no alert, though every day passed 80 %, 100 % and was blocked
    assert AIUsage.objects.count() == 14
    assert not Alert.objects.exists()


def test_bulk_writes_of_today_do_alert(tenant):
    usage_record_many(entries=[
        UsageEntry(tenant=tenant, feature="assist", provider="mock", model="kbz-standard",
                   status="success", cost_usd=Decimal("8.5"))
    ])  # fmt: skip
    assert [threshold for threshold, *_ in percent_alerts(tenant)] == [80]


def test_a_call_admitted_before_midnight_and_settled_after_alerts_for_its_day(tenant):
    # given a call admitted yesterday at 23:59 (Paris), recorded now, just after midnight
    with freeze_time(NOON_IN_PARIS.replace(hour=0, minute=0, second=5)):
        spend(tenant, "8.5", created_at=NOON_IN_PARIS.replace(hour=23, minute=59) - timedelta(1))
    # then the alert is yesterday's
    assert Alert.objects.get().day == NOON_IN_PARIS.date() - timedelta(days=1)


def test_an_alert_that_cannot_be_written_never_loses_the_usage_row(tenant):
    # given the alerts table refusing writes
    with mock.patch("alerts.detection.Alert.objects.bulk_create", side_effect=DatabaseError):
        # when a call crosses 80 %
        spend(tenant, "8.5")
    # then the call is still recorded and spent (and the failure logged)
    assert AIUsage.objects.count() == 1
    assert BudgetCounter.objects.get().spent_micros == 8_500_000
    assert not Alert.objects.exists()


def test_an_empty_list_turns_the_tenants_percent_alerts_off(tenant):
    tenant.alert_percents = []
    tenant.save()
    spend(tenant, "9.999")
    refuse(tenant)
    assert list(Alert.objects.values_list("kind", flat=True)) == ["budget_blocked"]


@pytest.mark.parametrize(
    ("percents", "valid"),
    [([80, 100], True), ([12.5], True), ([1, 2, 3, 4, 5], True), ([0], False), ([101], False),
     ([80, 80.0], False), ([1, 2, 3, 4, 5, 6], False), (["80"], False), ([True], False),
     ({"80": 1}, False)],
)  # fmt: skip
def test_alert_percents_are_1_to_5_distinct_numbers_above_0_up_to_100(percents, valid):
    plan = Plan.objects.get(pk="pro")
    plan.alert_percents = percents
    try:
        plan.full_clean()
    except ValidationError as error:
        assert not valid, error
        assert list(error.message_dict) == ["alert_percents"]
    else:
        assert valid
