"""The tenant usage page (/usage/): the seed's AIUsageCard, server-rendered, polled live by
usage/static/usage/usage.js.

Every number comes from the selectors behind the JSON API (usage_today, usage_history,
assist_status), so the page and the API agree by construction; this module only picks the
tenant and formats for the reader's language.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from ai.services import assist_status
from keybuzz.errors import Forbidden, NotFound
from keybuzz.tenants.access import Access, TenantInactive, tenant_for_user
from keybuzz.tenants.models import Tenant

from .charts import bar_chart
from .selectors import usage_history, usage_today

DAY_CHOICES = (7, 30)
MAX_DAYS = 90  # as the API's `days`
WARNING_PERCENT = 80  # the bar turns amber from here, red when the budget is reached
FEATURE_LABELS = {
    "assist": gettext_lazy("Reply suggestions"),
    "autopilot": gettext_lazy("Autopilot"),
    "journal": gettext_lazy("Journal"),
}


@dataclass(frozen=True)
class Figure:
    """A number as data (`value`, for tests and the live script) and as localized text."""

    value: Decimal | int
    text: str

    def __str__(self) -> str:
        return self.text


def _decimal_text(value: Decimal, *, min_places: int, max_places: int) -> str:
    # Up to max_places decimals, trailing zeros dropped down to min_places: what the page's
    # Intl.NumberFormat(..., {minimumFractionDigits, maximumFractionDigits}) shows too.
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    places = min(max(-rounded.normalize().as_tuple().exponent, min_places), max_places)
    return number_format(rounded, decimal_pos=places, force_grouping=True)


def money(value: Decimal) -> Figure:
    amount = _decimal_text(value, min_places=2, max_places=6)
    # Translators: an amount in US dollars, already formatted (French: "%(amount)s $").
    return Figure(value, _("$%(amount)s") % {"amount": amount})


def percent(value: Decimal) -> Figure:
    amount = _decimal_text(value, min_places=0, max_places=2)
    # Translators: a percentage, already formatted (French: "%(percent)s %%").
    return Figure(value, _("%(percent)s%%") % {"percent": amount})


def count(value: int) -> Figure:
    return Figure(value, number_format(value, force_grouping=True))


def countdown(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds()) // 60)
    return _("in %(hours)s h %(minutes)s min") % {"hours": minutes // 60, "minutes": minutes % 60}


def _breakdown(entry: dict) -> dict:
    return {
        "calls": count(entry["calls"]),
        "blocked": count(entry["blockedCalls"]),
        "errors": count(entry["errorCalls"]),
        "tokens": count(entry["tokens"]),
        "cost": money(entry["costUsd"]),
    }


def _days(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= MAX_DAYS else DAY_CHOICES[0]


def _error_page(request, *, status: int, message: str):
    return render(
        request, "usage/error.html", {"message": message, "status_code": status}, status=status
    )


@require_GET
@login_required
def usage_page(request):
    user = request.user
    # The switcher's choices, in one query; also where the default tenant comes from.
    tenants = list(
        Tenant.objects.filter(memberships__user=user)
        .order_by("id")
        .values("id", "name", "is_active")
    )
    tenant_id = request.GET.get("tenantId", "").strip()
    if not tenant_id:
        if not tenants:
            if user.is_staff:
                return redirect("/staff/")
            message = _("You are not a member of any tenant yet: ask your administrator.")
            return _error_page(request, status=403, message=message)
        tenant_id = next((t["id"] for t in tenants if t["is_active"]), tenants[0]["id"])
    try:
        tenant = tenant_for_user(user=user, tenant_id=tenant_id, access=Access.READ)
    except NotFound:
        message = _("There is no tenant “%(id)s”.") % {"id": tenant_id}
        return _error_page(request, status=404, message=message)
    except TenantInactive:
        return _error_page(request, status=403, message=_("This tenant is inactive."))
    except Forbidden:
        return _error_page(request, status=403, message=_("You are not a member of this tenant."))
    days = _days(request.GET.get("days"))
    # Status first: reading it may close abandoned reservations, whose rows today then counts.
    status = assist_status(tenant=tenant)
    today = usage_today(tenant=tenant)
    history = usage_history(tenant=tenant, days=days)
    with timezone.override(tenant.zone):  # dates and times on the page are the tenant's
        context = _context(
            tenant=tenant, tenants=tenants, days=days, status=status, today=today, history=history
        )
        return render(request, "usage/page.html", context)


def _context(*, tenant, tenants, days, status, today, history) -> dict:
    budget = today["budget"]
    now = timezone.now()
    reset_at = datetime.combine(today["date"] + timedelta(days=1), time(0), tzinfo=tenant.zone)
    # Wall-clock arithmetic on one tzinfo ignores DST changes: subtract in UTC.
    until_reset = reset_at.astimezone(UTC) - now
    reached = budget["percentUsed"] >= 100 or not status["budget"]["allowed"]
    warning = budget["percentUsed"] >= WARNING_PERCENT
    chart = bar_chart([day["costUsd"] for day in history["byDay"]])
    summary = history["summary"]
    return {
        "tenant": tenant,
        "tenants": tenants,
        "days": days,
        "day_choices": DAY_CHOICES,
        "status": status,
        "today": today,
        "card": {
            "calls": count(today["calls"]),
            "tokens": count(today["tokens"]),
            "cost": money(today["costUsd"]),
            "daily": money(budget["daily"]),
            "used": money(budget["used"]),
            "remaining": money(budget["remaining"]),
            "percent": percent(budget["percentUsed"]),
            "bar_value": min(Decimal(100), budget["percentUsed"]),
            "level": "reached" if reached else "warning" if warning else "ok",
            "top_up": money(budget["daily"] - tenant.daily_budget),
            "base_budget": tenant.daily_budget,
        },
        "reset_at": reset_at,
        "reset_at_utc": reset_at.astimezone(UTC).isoformat(),
        "reset_in": countdown(until_reset),
        # The same messages with placeholders, for the live script to fill in.
        "patterns": {
            "money": _("$%(amount)s") % {"amount": "{n}"},
            "percent": _("%(percent)s%%") % {"percent": "{n}"},
            "countdown": _("in %(hours)s h %(minutes)s min") % {"hours": "{h}", "minutes": "{m}"},
        },
        "summary": {
            "calls": count(summary["totalCalls"]),
            "success": count(summary["successCalls"]),
            "blocked": count(summary["blockedCalls"]),
            "errors": count(summary["errorCalls"]),
            "tokens": count(summary["totalTokens"]),
            "cost": money(summary["totalCostUsd"]),
        },
        "history": history,
        "chart": chart,
        "gridlines": [(line, money(line.value)) for line in chart.gridlines],
        "day_rows": [
            {"date": day["date"], "bar": bar, **_breakdown(day)}
            for day, bar in zip(history["byDay"], chart.bars, strict=True)
        ],
        "by_feature": [
            (FEATURE_LABELS.get(name, name), _breakdown(entry))
            for name, entry in history["byFeature"].items()
        ],
        "by_model": [(alias, _breakdown(entry)) for alias, entry in history["byModel"].items()],
    }
