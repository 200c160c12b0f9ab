"""The hard cap's writes (CONTRACT §5): reserve the worst case, settle to the actual cost,
close what was abandoned.

An admission is one conditional statement on the tenant-day's counter row, whose condition is
the budget rule itself (rule.budget_admits): concurrent requests in any number of processes
serialize on that row, so spent + reserved can never pass the budget. The counters make the
check O(1): no SUM over ai_usage on the request path.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from keybuzz import fixed_sql
from tenants.models import Tenant
from usage.exceptions import BudgetExceeded
from usage.models import AIUsage, BudgetCounter, Reservation
from usage.pricing import from_micros, to_micros
from usage.recording import UsageEntry, usage_id_new, usage_record

from .rule import BudgetState, SqlTerm, budget_admits
from .state import budget_state

logger = logging.getLogger(__name__)

_COUNTER = BudgetCounter._meta.db_table


def _fits(amount_sql: str) -> str:
    """The rule on the counter row's columns: the amount and the daily budget as parameters."""
    return budget_admits(
        spent=SqlTerm(f"{_COUNTER}.spent_micros"),
        reserved=SqlTerm(f"{_COUNTER}.reserved_micros"),
        amount=SqlTerm(amount_sql),
        budget=SqlTerm("%s"),
        granted=SqlTerm(f"{_COUNTER}.granted_micros"),
    )


@cache
def _admission_sql(holds: int) -> tuple[str, str]:
    """The admission statement for `holds` candidates, as an upsert (a row it creates holds
    nothing yet) and as an update (above the budget only a top-up, which creates the row, can
    make room). It adds the first hold that fits to `reserved` and returns it; it changes
    nothing if none fits (the last, smallest one included)."""
    first_fit = (
        "CASE " + " ".join(f"WHEN {_fits('%s')} THEN %s" for _ in range(holds)) + " ELSE 0 END"
    )
    sets = (
        f"reserved_micros = {_COUNTER}.reserved_micros + {first_fit}, admitted_micros = {first_fit}"
    )
    upsert = (
        f"INSERT INTO {_COUNTER} (tenant_id, day, spent_micros, reserved_micros, "  # noqa: S608
        "granted_micros, admitted_micros) VALUES (%s, %s, 0, %s, 0, %s) "
        f"ON CONFLICT (tenant_id, day) DO UPDATE SET {sets} "
        f"WHERE {_fits('%s')} RETURNING admitted_micros"
    )
    update = (
        f"UPDATE {_COUNTER} SET {sets} "  # noqa: S608
        f"WHERE tenant_id = %s AND day = %s AND {_fits('%s')} RETURNING admitted_micros"
    )
    return upsert, update


@dataclass(frozen=True)
class Hold:
    """One call a request may become: its worst case and the usage row it would write."""

    worst_case: Decimal
    call: UsageEntry


@dataclass(frozen=True)
class Admission:
    """The reservation of the hold that was admitted, and that hold's place in the list."""

    reservation: Reservation
    index: int


def budget_reserve(
    *, tenant: Tenant, holds: Sequence[Hold], admitted_at: datetime
) -> Admission | None:
    """Hold the worst case of the first of `holds` that fits the tenant's day, in one
    conditional statement, in the caller's transaction; None when none fits (raise
    budget_refusal's error then, after the caller's commit).

    Each hold's `call` describes its request (feature, provider, model, user, request id,
    routing) so that the reservation can become its usage row even if this process dies
    before settling it. The counter's hold and the reservation row commit together or not at
    all.
    """
    day = tenant.local_day(admitted_at)
    amounts = [to_micros(hold.worst_case) for hold in holds]
    budget = to_micros(tenant.daily_budget)
    fits_a_new_row = [
        amount
        for amount in amounts
        if budget_admits(spent=0, reserved=0, amount=amount, budget=budget, granted=0)
    ]
    upsert, update = _admission_sql(len(amounts))
    cases = [value for amount in amounts for value in (amount, budget, amount)]
    least = [min(amounts), budget]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if fits_a_new_row:
            new = fits_a_new_row[0]
            cursor.execute(upsert, [tenant.id, day, new, new, *cases, *cases, *least])
        else:
            cursor.execute(update, [*cases, *cases, tenant.id, day, *least])
        row = cursor.fetchone()
        if row is None:
            return None
        index = amounts.index(row[0])  # the first-fit: the first hold of that amount
        call = holds[index].call
        reservation = Reservation(
            id=usage_id_new(),
            tenant=tenant,
            day=day,
            amount_micros=amounts[index],
            created_at=admitted_at,
            expires_at=admitted_at
            + timedelta(seconds=settings.KEYBUZZ["AI_RESERVATION_TTL_SECONDS"]),
            request_id=call.request_id or "",
            user_id=call.user_id or "",
            feature=call.feature,
            provider=call.provider,
            model=call.model,
            default_model=call.default_model or call.model,
            route_reason=call.route_reason,
            max_tokens=call.max_tokens,
        )
        fixed_sql.insert(reservation)
    return Admission(reservation=reservation, index=index)


def budget_refusal(*, tenant: Tenant, day: date) -> BudgetExceeded:
    """The 402 of a refused admission, with the day's budget as it stands."""
    state = budget_close_abandoned_and_read(tenant=tenant, day=day)
    return BudgetExceeded(plan=tenant.plan_id, state=state)


def budget_close_abandoned_and_read(*, tenant: Tenant, day: date) -> BudgetState:
    """Close the abandoned reservations found holding the tenant's budget, then read its day.

    Closing charges their worst case, so it frees no admission room; it makes their rows
    appear and the day's `used` true. Only looked for when something is reserved.
    """
    state = budget_state(tenant=tenant, day=day)
    if state.reserved_micros and budget_close_abandoned(tenant=tenant):
        state = budget_state(tenant=tenant, day=day)
    return state


def budget_settle(*, reservation: Reservation, outcome: UsageEntry) -> AIUsage | None:
    """Close the reservation and write the call's one usage row, in one transaction.

    A failed call settles at cost 0, which releases its hold. The row keeps the reservation's
    admission time and day, and never costs more than the reservation held, so the cap holds
    even if an upstream reports more tokens than the bound. Returns None when the reservation
    was already closed as abandoned: that row stands for the call.
    """
    held = from_micros(reservation.amount_micros)
    if outcome.cost_usd > held:
        logger.warning(
            "Request %s cost %s, above its worst case %s: recorded at the worst case.",
            reservation.request_id,
            outcome.cost_usd,
            held,
        )
    outcome = replace(
        outcome,
        created_at=reservation.created_at,
        day=reservation.day,
        cost_usd=min(outcome.cost_usd, held),
    )
    with transaction.atomic():
        if not _reservation_delete(reservation.pk):
            logger.warning(
                "Request %s settled after it was closed as abandoned.", outcome.request_id
            )
            return None
        # The row, its cost added to the day's spend and the hold released: one recording.
        return usage_record(entry=outcome, released_micros=reservation.amount_micros)


def _reservation_delete(reservation_id: str) -> bool:
    """Delete the reservation; False if it was gone (closed as abandoned meanwhile). Its row
    lock makes a settle and a close of the same reservation exclusive."""
    with connection.cursor() as cursor:
        cursor.execute(_RESERVATION_DELETE, [reservation_id])
        return cursor.rowcount == 1


_RESERVATION_DELETE = f'DELETE FROM "{Reservation._meta.db_table}" WHERE "id" = %s'  # noqa: S608


def budget_close_abandoned(*, tenant: Tenant | None = None, limit: int = 1000) -> int:
    """Close reservations past their TTL as `error`/`abandoned` rows at their worst-case cost.

    Their process died or could not commit its settle; what they held is charged (the call may
    have been paid upstream) and stops holding budget. Returns how many were closed.
    """
    expired = Reservation.objects.filter(expires_at__lt=timezone.now()).select_related(
        "tenant__plan__model"  # recording its row reads the plan (alert thresholds)
    )
    if tenant is not None:
        expired = expired.filter(tenant=tenant)
    closed = 0
    for reservation in expired.order_by("expires_at")[:limit]:
        row = budget_settle(
            reservation=reservation,
            outcome=UsageEntry(
                tenant=reservation.tenant,
                feature=reservation.feature,
                provider=reservation.provider,
                model=reservation.model,
                status=AIUsage.Status.ERROR,
                error_code="abandoned",
                cost_usd=from_micros(reservation.amount_micros),
                user_id=reservation.user_id or None,
                request_id=reservation.request_id or None,
                default_model=reservation.default_model,
                route_reason=reservation.route_reason,
                max_tokens=reservation.max_tokens,
            ),
        )
        closed += row is not None
    if closed:
        logger.warning("Closed %d abandoned reservation(s).", closed)
    return closed
