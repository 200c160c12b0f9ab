"""The platform's daily spend threshold: checked by deliver_alerts, emailed to staff once a day."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from freezegun import freeze_time

from alerts.models import Alert, AlertSettings
from tests.alerts.conftest import spend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("noon_utc")]

NOON_UTC = datetime.fromisoformat("2026-03-10T12:00:00+00:00")


@pytest.fixture
def noon_utc():
    with freeze_time(NOON_UTC):
        yield


@pytest.fixture
def threshold():
    def set_to(usd: str | None) -> None:
        AlertSettings.objects.update(platform_daily_usd=None if usd is None else Decimal(usd))

    return set_to


@pytest.fixture
def two_shops(make_tenant, make_user):
    shops = [make_tenant("shop-a", plan="autopilot"), make_tenant("shop-b", plan="autopilot")]
    for shop in shops:
        make_user(f"owner@{shop.id}.test", tenant=shop, role="owner")
    return shops


def test_the_platform_alert_comes_once_when_todays_spend_reaches_the_threshold(
    two_shops, staff, threshold, deliver
):
    # given a 5 USD platform threshold and 4.99 USD spent today by two tenants
    threshold("5")
    spend(two_shops[0], "3")
    spend(two_shops[1], "1.99")
    deliver()
    assert not Alert.objects.filter(kind="platform_spend").exists()
    # when the platform reaches it
    spend(two_shops[1], "0.01")
    output = deliver()
    # then one platform alert, emailed to staff only, in English
    alert = Alert.objects.get(kind="platform_spend")
    assert (alert.tenant, alert.day, alert.threshold, alert.spend_usd) == (
        None, NOON_UTC.date(), 5, 5,
    )  # fmt: skip
    assert f"Raised the platform spend alert {alert.event_id}." in output
    (message,) = mail.outbox
    assert message.to == ["support@keybuzz.test"]
    assert message.subject == "[KeyBuzz AI] Platform AI spend today has reached 5 USD"
    assert "The whole platform has spent 5.00 USD on AI today" in message.body
    # and later passes raise no other one that day
    spend(two_shops[0], "20")
    deliver()
    assert Alert.objects.filter(kind="platform_spend").count() == 1


def test_tomorrow_the_platform_alert_can_come_again(two_shops, staff, threshold, deliver):
    threshold("1")
    spend(two_shops[0], "2")
    deliver()
    with freeze_time(NOON_UTC + timedelta(days=1)):
        spend(two_shops[0], "2")
        deliver()
    assert Alert.objects.filter(kind="platform_spend").count() == 2


def test_no_threshold_no_platform_alert(two_shops, staff, threshold, deliver):
    threshold(None)
    spend(two_shops[0], "40")
    deliver()
    assert not Alert.objects.filter(kind="platform_spend").exists()
