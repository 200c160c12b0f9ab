from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from freezegun import freeze_time

from ai.prompts import SYSTEM_PROMPT, upstream_messages
from tenants.models import ModelPrice
from usage.budget import (
    Hold,
    budget_close_abandoned,
    budget_refusal,
    budget_reserve,
    budget_settle,
    budget_state,
    prompt_tokens_upper_bound,
    worst_case_cost,
)
from usage.exceptions import BudgetExceeded
from usage.models import AIUsage, BudgetCounter, Reservation
from usage.recording import UsageEntry

pytestmark = pytest.mark.django_db

ONE_CENT = Decimal("0.010000")


@pytest.fixture
def tiny(make_tenant):
    """A tenant whose budget holds exactly three one-cent reservations."""
    return make_tenant("tiny-1", plan="pro", daily_budget_override=Decimal("0.03"))


def _call(tenant, **fields) -> UsageEntry:
    defaults = dict(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                    status="success", user_id="7", request_id="req-1")  # fmt: skip
    return UsageEntry(**{**defaults, **fields})


def _reserve(tenant, amount=ONE_CENT, at=None):
    """Reserve as the pipeline does: the hold, or the 402 of a refusal."""
    at = at or timezone.now()
    hold = Hold(worst_case=amount, call=_call(tenant))
    admission = budget_reserve(tenant=tenant, holds=[hold], admitted_at=at)
    if admission is None:
        raise budget_refusal(tenant=tenant, day=tenant.local_day(at))
    return admission.reservation


def _counter(tenant) -> tuple[int, int]:
    counter = BudgetCounter.objects.get(tenant=tenant)
    return counter.spent_micros, counter.reserved_micros


def test_the_prompt_bound_counts_every_utf8_byte_plus_allowances():
    # "é" is two bytes: a tokenizer can never make more tokens of it than that
    messages = [{"role": "user", "content": "é"}]
    assert prompt_tokens_upper_bound(messages) == 256 + 2 + 16


def test_the_worst_case_covers_the_system_prompt_and_the_maximum_output(settings):
    # given the pro model and the default 1024 output tokens
    price = ModelPrice.objects.get(alias="kbz-standard")
    messages = upstream_messages([{"role": "customer", "content": "Hello"}])
    # when the worst case is computed
    worst = worst_case_cost(price=price, messages=messages)
    # then it prices every byte of the system prompt and the conversation, and 1024 outputs
    prompt_bound = 256 + len(SYSTEM_PROMPT.encode()) + 16 + 5 + 16
    assert worst == (Decimal(prompt_bound * 3) + Decimal(1024 * 15)) / Decimal(1_000_000)


def test_reservations_are_admitted_up_to_the_budget_exactly(tiny):
    # when three one-cent calls reserve against a three-cent budget
    for _ in range(3):
        _reserve(tiny)
    # then all three hold budget and nothing is spent yet
    assert _counter(tiny) == (0, 30_000)


def test_a_reservation_past_the_budget_is_refused_with_the_budget_state(tiny):
    # given a budget fully held by calls in flight
    for _ in range(3):
        _reserve(tiny)
    # when one more call asks
    with pytest.raises(BudgetExceeded) as refused:
        _reserve(tiny)
    # then it is refused, and the refusal shows what is used and held
    assert refused.value.extra["budget"] == {
        "dailyBudget": Decimal("0.03"), "used": Decimal("0"), "reserved": Decimal("0.03"),
        "remaining": Decimal("0.03"), "allowed": False,
    }  # fmt: skip
    assert Reservation.objects.count() == 3


def test_a_worst_case_larger_than_the_whole_budget_is_refused(tiny):
    with pytest.raises(BudgetExceeded):
        _reserve(tiny, amount=Decimal("0.04"))
    assert not Reservation.objects.exists()


def test_settling_turns_the_hold_into_the_actual_cost_with_one_row(tiny):
    # given a call holding one cent
    reservation = _reserve(tiny)
    # when it settles at its actual cost
    row = budget_settle(reservation=reservation, outcome=_call(tiny, cost_usd=Decimal("0.002589")))
    # then the counter spent it, holds nothing, and the row exists with that cost
    assert _counter(tiny) == (2589, 0)
    assert AIUsage.objects.get().cost_usd_est == row.cost_usd_est == Decimal("0.002589")
    assert not Reservation.objects.exists()


def test_a_failed_call_settles_at_zero_and_frees_its_hold(tiny):
    reservation = _reserve(tiny)
    budget_settle(
        reservation=reservation,
        outcome=_call(tiny, status="error", error_code="upstream_timeout"),
    )
    assert _counter(tiny) == (0, 0)
    assert AIUsage.objects.get().error_code == "upstream_timeout"


def test_the_row_keeps_the_admission_time_and_day_of_its_reservation(make_tenant):
    # given a Paris tenant whose call was admitted at 23:59:59 Paris time
    tenant = make_tenant("paris-1", timezone="Europe/Paris")
    admitted = datetime(2026, 1, 14, 22, 59, 59, tzinfo=UTC)
    reservation = _reserve(tenant, at=admitted)
    # when it settles after midnight
    budget_settle(
        reservation=reservation,
        outcome=_call(tenant, cost_usd=Decimal("0.001"), created_at=admitted + timedelta(hours=1)),
    )
    # then the row and the spend belong to the day of admission
    assert AIUsage.objects.get().created_at == admitted
    assert BudgetCounter.objects.get(tenant=tenant).day == date(2026, 1, 14)


def test_a_cost_above_the_worst_case_is_recorded_at_the_worst_case(tiny):
    reservation = _reserve(tiny)
    budget_settle(reservation=reservation, outcome=_call(tiny, cost_usd=Decimal("0.5")))
    assert AIUsage.objects.get().cost_usd_est == ONE_CENT
    assert _counter(tiny) == (10_000, 0)


def test_an_expired_reservation_is_closed_as_one_abandoned_row_at_its_worst_case(tiny):
    # given a call whose process died an hour ago
    reservation = _reserve(tiny, at=timezone.now() - timedelta(hours=1))
    # when abandoned reservations are closed
    closed = budget_close_abandoned()
    # then it is one error row 'abandoned' charged at its worst case, and holds nothing
    row = AIUsage.objects.get()
    assert (closed, row.status, row.error_code, row.cost_usd_est) == (
        1, "error", "abandoned", ONE_CENT,
    )  # fmt: skip
    assert (row.request_id, row.user_id, row.created_at) == ("req-1", "7", reservation.created_at)
    assert _counter(tiny) == (10_000, 0)


def test_a_reservation_within_its_ttl_is_not_closed(tiny):
    _reserve(tiny)
    assert budget_close_abandoned() == 0
    assert Reservation.objects.count() == 1


def test_settling_after_being_closed_as_abandoned_writes_no_second_row(tiny):
    # given a reservation already closed as abandoned
    reservation = _reserve(tiny, at=timezone.now() - timedelta(hours=1))
    budget_close_abandoned()
    # when its late process tries to settle
    row = budget_settle(reservation=reservation, outcome=_call(tiny, cost_usd=Decimal("0.001")))
    # then the abandoned row stays the only one
    assert row is None
    assert AIUsage.objects.count() == 1
    assert _counter(tiny) == (10_000, 0)


@freeze_time("2026-03-10 12:00:00")  # the dead call's hour ago is the same budget day
def test_a_refusal_closes_the_abandoned_calls_it_meets_and_reports_them_as_used(make_tenant):
    # given a 2-cent budget: one cent held by a call that died, one by a live call
    tenant = make_tenant("half-1", daily_budget_override=Decimal("0.02"))
    _reserve(tenant, at=timezone.now() - timedelta(hours=1))
    _reserve(tenant)
    # when a third call asks for a cent, it is refused
    with pytest.raises(BudgetExceeded) as refused:
        _reserve(tenant)
    # then the dead call was closed on the way: its worst case is now used, not held
    assert _counter(tenant) == (10_000, 10_000)
    assert AIUsage.objects.get().error_code == "abandoned"
    assert refused.value.extra["budget"]["used"] == ONE_CENT


def test_budget_state_of_a_day_without_counter_is_empty(tiny):
    state = budget_state(tenant=tiny, day=date(2026, 1, 1))
    assert (state.spent_micros, state.reserved_micros, state.daily_micros) == (0, 0, 30_000)


def test_a_budget_override_of_zero_admits_nothing(make_tenant):
    tenant = make_tenant("zero-1", daily_budget_override=Decimal("0"))
    with pytest.raises(BudgetExceeded):
        _reserve(tenant, amount=Decimal("0.000001"))
