"""One-day budget top-ups: the hard cap honours them at once, for the tenant's day only."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from freezegun import freeze_time

from keybuzz.errors import InvalidRequest
from tenants.models import Tenant
from usage.budget import Hold, budget_refusal, budget_reserve, budget_state, budget_states_today
from usage.exceptions import BudgetExceeded
from usage.models import BudgetCounter, BudgetTopUp
from usage.recording import UsageEntry, usage_record
from usage.selectors import usage_today
from usage.top_ups import budget_top_up

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")
NOON_PARIS = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


@pytest.fixture
def tiny(make_tenant):
    """A Paris tenant whose budget holds two one-cent reservations."""
    return make_tenant("tiny-1", timezone="Europe/Paris", daily_budget_override=Decimal("0.02"))


def _reserve(tenant, amount=CENT):
    call = UsageEntry(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                      status="success")  # fmt: skip
    reservation = budget_reserve(
        tenant=tenant, admitted_at=NOON_PARIS, holds=[Hold(worst_case=amount, call=call)]
    )
    if reservation is None:  # refused: the pipeline's 402
        raise budget_refusal(tenant=tenant, day=tenant.local_day(NOON_PARIS))
    return reservation.reservation


def _top_up(tenant, amount="0.01", reason="goodwill after an outage"):
    return budget_top_up(tenant=tenant, amount=Decimal(amount), reason=reason, actor="ops@kb.test")


def _spend(tenant, usd: Decimal) -> None:
    entry = UsageEntry(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                       status="success", cost_usd=usd)  # fmt: skip
    usage_record(entry=entry)


@freeze_time(NOON_PARIS)
def test_a_top_up_admits_the_next_call_at_once(tiny):
    # given a day whose budget is fully held
    _reserve(tiny), _reserve(tiny)
    with pytest.raises(BudgetExceeded):
        _reserve(tiny)
    # when support grants one more cent for today
    _top_up(tiny, "0.01")
    # then one more call is admitted, and not two
    _reserve(tiny)
    with pytest.raises(BudgetExceeded):
        _reserve(tiny)


@freeze_time(NOON_PARIS)
def test_a_top_up_admits_a_call_bigger_than_the_plain_budget(tiny):
    # given a call whose worst case exceeds the whole daily budget
    with pytest.raises(BudgetExceeded):
        _reserve(tiny, Decimal("0.05"))
    # when the day is topped up enough
    _top_up(tiny, "0.03")
    # then it is admitted
    _reserve(tiny, Decimal("0.05"))
    assert BudgetCounter.objects.get(tenant=tiny).reserved_micros == 50_000


@freeze_time(NOON_PARIS)
def test_the_top_up_counts_for_the_tenants_local_day_only(tiny):
    # when a top-up is granted at noon in Paris
    top_up = _top_up(tiny, "5")
    # then it raises 10 March's budget, not the next day's
    assert top_up.day == date(2026, 3, 10)
    assert budget_state(tenant=tiny, day=date(2026, 3, 10)).daily == Decimal("5.02")
    assert budget_state(tenant=tiny, day=date(2026, 3, 11)).daily == Decimal("0.02")


@freeze_time(NOON_PARIS)
def test_top_ups_add_up_and_each_is_audited(tiny):
    _top_up(tiny, "1", reason="first")
    _top_up(tiny, "0.5", reason="second")
    assert budget_state(tenant=tiny, day=date(2026, 3, 10)).granted_micros == 1_500_000
    audit = BudgetTopUp.objects.order_by("id").values_list("amount_usd", "reason", "granted_by")
    assert list(audit) == [
        (Decimal("1"), "first", "ops@kb.test"),
        (Decimal("0.5"), "second", "ops@kb.test"),
    ]


@freeze_time(NOON_PARIS)
def test_usage_today_and_status_show_the_topped_up_budget(tiny, client_for, make_user):
    # given 0.01 spent and a top-up of 0.08
    _spend(tiny, CENT)
    _top_up(tiny, "0.08")
    # then both views of the day agree on a 0.10 budget
    assert usage_today(tenant=tiny).daily == Decimal("0.10")
    reader = client_for(make_user("a@tiny.test", tenant=tiny))
    status = reader.get("/ai/assist/status", {"tenantId": tiny.id}).json()
    assert (status["budget"]["dailyBudget"], status["budget"]["remaining"]) == (0.1, 0.09)


@pytest.mark.parametrize(
    ("amount", "reason", "field"),
    [("0", "r", "amount"), ("-1", "r", "amount"), ("1000.01", "r", "amount"),
     ("0.0000001", "r", "amount"), ("NaN", "r", "amount"), ("1", "  ", "reason")],
)  # fmt: skip
def test_a_bad_top_up_is_refused_and_writes_nothing(tiny, amount, reason, field):
    with pytest.raises(InvalidRequest) as refused:
        _top_up(tiny, amount, reason=reason)
    assert field in refused.value.extra["errors"]
    assert not BudgetCounter.objects.exists()
    assert not BudgetTopUp.objects.exists()


def test_rebuilding_rollups_keeps_the_days_top_ups(tiny):
    # given a topped-up day with spend
    _spend(tiny, CENT)
    _top_up(tiny, "2")
    BudgetCounter.objects.update(spent_micros=0)  # drift, as after manual SQL
    # when the rollups and counters are repaired
    call_command("rebuild_usage_rollups", stdout=None)
    # then the spend is back and the top-up untouched
    counter = BudgetCounter.objects.get()
    assert (counter.spent_micros, counter.granted_micros) == (10_000, 2_000_000)


def test_the_states_of_a_page_of_tenants_come_from_one_query(
    make_tenant, tiny, django_assert_num_queries
):
    # given tenants on different local days (Tokyo is already tomorrow at 23:00 UTC)
    make_tenant("tokyo-1", timezone="Asia/Tokyo")
    make_tenant("utc-1")
    with freeze_time("2026-03-10 23:00:00"):
        _top_up(Tenant.objects.get(pk="tokyo-1"), "1")
        _top_up(tiny, "2")
        tenants = list(Tenant.objects.select_related("plan").order_by("id"))
        # when their states are read
        with django_assert_num_queries(1):
            states = budget_states_today(tenants=tenants)
    # then each shows its own day's top-up
    assert {tenant_id: state.granted_micros for tenant_id, state in states.items()} == {
        "tiny-1": 2_000_000, "tokyo-1": 1_000_000, "utc-1": 0,
    }  # fmt: skip
