"""The hard daily budget cap (CONTRACT §5): reserve the worst case, settle to the actual cost.

A request is admitted only if spent + reserved + its worst-case cost ≤ the day's budget, checked
and held by one conditional statement on the tenant-day's counter row (BudgetCounter), so
concurrent requests in any number of processes cannot overspend. The counters make the check
O(1): no SUM over ai_usage on the request path.
"""

import logging
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from keybuzz import fixed_sql
from keybuzz.tenants.models import Tenant
from usage.models import AIUsage
from usage.services import UsageEntry, usage_id_new, usage_record

from .exceptions import BudgetExceeded
from .models import BudgetCounter, ModelPrice, Reservation
from .pricing import cost_usd, from_micros, to_micros
from .prompts import upstream_messages
from .selectors import BudgetState, budget_state

logger = logging.getLogger(__name__)

# Byte-level BPE tokenizers (OpenAI's, Anthropic's) never emit more tokens than UTF-8 bytes,
# so bytes bound a text's tokens. The allowances bound what the chat format adds around them.
TOKENS_PER_MESSAGE_ALLOWANCE = 16  # role markers and separators
TOKENS_PER_REQUEST_ALLOWANCE = 256  # priming, provider-side framing such as JSON mode
MINIMAL_CONVERSATION = [{"role": "user", "content": "x"}]  # "allowed" = this would be admitted


def prompt_tokens_upper_bound(messages: list[dict[str, str]]) -> int:
    return TOKENS_PER_REQUEST_ALLOWANCE + sum(
        len(message["content"].encode()) + TOKENS_PER_MESSAGE_ALLOWANCE for message in messages
    )


def worst_case_cost(*, price: ModelPrice, messages: list[dict[str, str]]) -> Decimal:
    """An upper bound of what sending `messages` (system prompt included) can cost."""
    return cost_usd(
        price=price,
        prompt_tokens=prompt_tokens_upper_bound(messages),
        completion_tokens=settings.KEYBUZZ["AI_MAX_OUTPUT_TOKENS"],
    )


def minimal_call_cost(*, price: ModelPrice) -> Decimal:
    """The worst case of the smallest request (one 1-byte message): a budget below it admits
    nothing, and `allowed` is false once less than it remains."""
    return worst_case_cost(price=price, messages=upstream_messages(MINIMAL_CONVERSATION))


def budget_reserve(
    *, tenant: Tenant, worst_case: Decimal, admitted_at: datetime, call: UsageEntry
) -> Reservation:
    """Hold `worst_case` against the tenant's day, or raise BudgetExceeded.

    `call` describes the request (feature, provider, model, user, request id) so that the
    reservation can become its usage row even if this process dies before settling it.
    """
    with transaction.atomic():
        reservation = budget_hold(
            tenant=tenant, worst_case=worst_case, admitted_at=admitted_at, call=call
        )
    if reservation is None:
        raise budget_exceeded(tenant=tenant, day=tenant.local_day(admitted_at))
    return reservation


def budget_hold(
    *, tenant: Tenant, worst_case: Decimal, admitted_at: datetime, call: UsageEntry
) -> Reservation | None:
    """budget_reserve's hold in the caller's transaction (the guardrails add the rate limit to
    it, so that an admission commits once); None when the worst case does not fit.

    One conditional upsert of the day's counter admits and holds the amount, then the
    reservation row records the hold; both commit or neither does.
    """
    day = tenant.local_day(admitted_at)
    amount = to_micros(worst_case)
    with transaction.atomic(savepoint=False):
        held = BudgetCounter.objects.reserve_within(
            tenant_id=tenant.id, day=day, amount=amount, budget=to_micros(tenant.daily_budget)
        )
        if not held:
            return None
        reservation = Reservation(
            id=usage_id_new(),
            tenant=tenant,
            day=day,
            amount_micros=amount,
            created_at=admitted_at,
            expires_at=admitted_at
            + timedelta(seconds=settings.KEYBUZZ["AI_RESERVATION_TTL_SECONDS"]),
            request_id=call.request_id or "",
            user_id=call.user_id or "",
            feature=call.feature,
            provider=call.provider,
            model=call.model,
        )
        fixed_sql.insert(reservation)
    return reservation


def budget_exceeded(*, tenant: Tenant, day: date) -> BudgetExceeded:
    """The 402 of a refused admission, with the day's budget as it stands."""
    state = budget_state_fresh(tenant=tenant, day=day)
    return BudgetExceeded(plan=tenant.plan_id, budget=state.as_json(allowed=False))


def budget_state_fresh(*, tenant: Tenant, day: date) -> BudgetState:
    """The day's budget for the API, after closing abandoned reservations found holding it.

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
        return usage_record(entry=replace(outcome, released_micros=reservation.amount_micros))


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
            ),
        )
        closed += row is not None
    if closed:
        logger.warning("Closed %d abandoned reservation(s).", closed)
    return closed
