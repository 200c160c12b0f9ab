from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from usage.budget import Hold, budget_reserve
from usage.models import AIUsage, Reservation
from usage.recording import UsageEntry

pytestmark = pytest.mark.django_db


def _reserve(tenant, *, age: timedelta) -> None:
    call = UsageEntry(tenant=tenant, feature="assist", provider="litellm", model="kbz-standard",
                      status="success")  # fmt: skip
    budget_reserve(
        tenant=tenant,
        admitted_at=timezone.now() - age,
        holds=[Hold(worst_case=Decimal("0.01"), call=call)],
    )


def test_the_command_closes_expired_reservations_only(tenant):
    # given one reservation past its TTL and one still in flight
    _reserve(tenant, age=timedelta(hours=1))
    _reserve(tenant, age=timedelta(seconds=0))
    out = StringIO()
    # when the command runs once
    call_command("close_abandoned_reservations", stdout=out)
    # then the expired one is an abandoned row and the live one still holds
    assert out.getvalue().strip() == "Closed 1 abandoned reservation(s)."
    assert AIUsage.objects.get().error_code == "abandoned"
    assert Reservation.objects.count() == 1


@pytest.mark.parametrize("interval", ["0", "-1", "soon", "inf"])
def test_the_command_refuses_a_bad_interval(interval):
    with pytest.raises(CommandError, match="--interval"):
        call_command("close_abandoned_reservations", "--loop", "--interval", interval)


def test_the_loop_survives_a_database_outage_and_tries_again(monkeypatch):
    # given a database that fails the first pass and answers the second
    passes = iter([DatabaseError("server closed the connection"), 0])

    def close_abandoned():
        outcome = next(passes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    class Stop(Exception):
        pass

    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise Stop

    monkeypatch.setattr(
        "usage.management.commands.close_abandoned_reservations.budget_close_abandoned",
        close_abandoned,
    )
    monkeypatch.setattr("keybuzz.cli.time.sleep", sleep)
    out = StringIO()
    # when the loop runs two passes
    with pytest.raises(Stop):
        call_command("close_abandoned_reservations", "--loop", "--interval", "5", stdout=out)
    # then the failed pass did not end it, and the next one ran
    assert sleeps == [5.0, 5.0]
    assert out.getvalue().strip() == "Closed 0 abandoned reservation(s)."
