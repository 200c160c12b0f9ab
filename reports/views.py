"""The tenant usage page (/usage/): the seed's AIUsageCard, server-rendered, polled live by
usage/static/usage/usage.js.

Every number comes from the selectors behind the JSON API (usage_today, usage_history,
assist_status, and jobs_today_by_status for Autopilot), so the page and the API agree by
construction; this module only picks the tenant and formats for the reader's language.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from ai.autopilot.selectors import jobs_today_by_status
from ai.models import AutopilotJob
from ai.services import assist_status
from keybuzz.errors import Forbidden
from keybuzz.money_display import decimal_text, usd, usd_pattern
from tenants.access import Access, tenant_access_check
from tenants.models import Tenant
from usage.selectors import Totals, UsageHistory, usage_history, usage_today

from .charts import bar_chart

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


def money(value: Decimal) -> Figure:
    return Figure(value, usd(value))


def percent(value: Decimal) -> Figure:
    amount = decimal_text(value, min_places=0, max_places=2)
    # Translators: a percentage, already formatted (French: "%(percent)s %%").
    return Figure(value, _("%(percent)s%%") % {"percent": amount})


def count(value: int) -> Figure:
    return Figure(value, number_format(value, force_grouping=True))


def _model_mix(history: UsageHistory) -> list[tuple[str, Figure]]:
    """Each model's share of the period's successful calls, largest first (the chart's legend:
    routing sends some calls to other models than the plan's)."""
    calls = {alias: totals.calls for alias, totals in history.by_model.items() if totals.calls}
    total = sum(calls.values())
    return [
        (alias, percent(Decimal(count) * 100 / total))
        for alias, count in sorted(calls.items(), key=lambda item: (-item[1], item[0]))
    ]


def countdown(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds()) // 60)
    return _("in %(hours)s h %(minutes)s min") % {"hours": minutes // 60, "minutes": minutes % 60}


def _breakdown(totals: Totals) -> dict:
    return {
        "calls": count(totals.calls),
        "blocked": count(totals.blocked_calls),
        "errors": count(totals.error_calls),
        "tokens": count(totals.tokens),
        "cost": money(totals.cost_usd),
    }


def _autopilot_today(tenant: Tenant) -> list[tuple[str, str, Figure]] | None:
    """Today's Autopilot jobs by state (status, label, count), for a tenant whose plan has
    Autopilot or that has jobs today (its plan may have lost Autopilot since); else None."""
    counts = jobs_today_by_status(tenant=tenant)
    if not tenant.plan.autopilot_enabled and not any(counts.values()):
        return None
    return [(status, AutopilotJob.Status(status).label, count(n)) for status, n in counts.items()]


def _days(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= MAX_DAYS else DAY_CHOICES[0]


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
            raise Forbidden(_("You are not a member of any tenant yet: ask your administrator."))
        tenant_id = next((t["id"] for t in tenants if t["is_active"]), tenants[0]["id"])
    # Its errors (404, 403) are rendered by keybuzz.errors, as for every page.
    access = tenant_access_check(user=user, tenant_id=tenant_id, access=Access.READ)
    tenant = access.tenant
    days = _days(request.GET.get("days"))
    # Status first: reading it may close abandoned reservations, whose rows today then counts.
    status = assist_status(tenant=tenant)
    today = usage_today(tenant=tenant)
    history = usage_history(tenant=tenant, days=days)
    autopilot = _autopilot_today(tenant)
    with timezone.override(tenant.zone):  # dates and times on the page are the tenant's
        context = _context(
            tenant=tenant, tenants=tenants, days=days, status=status, today=today, history=history
        )
        context["autopilot"] = autopilot
        context["read_as_staff"] = not access.as_member
        return render(request, "usage/page.html", context)


def _context(*, tenant, tenants, days, status, today, history) -> dict:
    now = timezone.now()
    reset_at = datetime.combine(today.day + timedelta(days=1), time(0), tzinfo=tenant.zone)
    # Wall-clock arithmetic on one tzinfo ignores DST changes: subtract in UTC.
    until_reset = reset_at.astimezone(UTC) - now
    reached = today.percent_used >= 100 or not status.allowed
    warning = today.percent_used >= WARNING_PERCENT
    chart = bar_chart([day.cost_usd for day in history.by_day])
    summary = history.summary
    return {
        "tenant": tenant,
        "tenants": tenants,
        "days": days,
        "day_choices": DAY_CHOICES,
        "status": status,
        "today": today,
        "card": {
            "calls": count(today.totals.calls),
            "tokens": count(today.totals.tokens),
            "cost": money(today.totals.cost_usd),
            "daily": money(today.daily),
            "used": money(today.used),
            "remaining": money(today.remaining),
            "percent": percent(today.percent_used),
            "bar_value": min(Decimal(100), today.percent_used),
            "level": "reached" if reached else "warning" if warning else "ok",
            "top_up": money(today.budget.granted),
            "base_budget": tenant.daily_budget,
        },
        "reset_at": reset_at,
        "reset_at_utc": reset_at.astimezone(UTC).isoformat(),
        "reset_in": countdown(until_reset),
        # The same messages with placeholders, for the live script to fill in.
        "patterns": {
            "money": usd_pattern(),
            "percent": _("%(percent)s%%") % {"percent": "{n}"},
            "countdown": _("in %(hours)s h %(minutes)s min") % {"hours": "{h}", "minutes": "{m}"},
        },
        "summary": {
            "calls": count(summary.all_calls),
            "success": count(summary.calls),
            "blocked": count(summary.blocked_calls),
            "errors": count(summary.error_calls),
            "tokens": count(summary.tokens),
            "cost": money(summary.cost_usd),
            "saved": money(summary.saved_usd),
        },
        "model_mix": _model_mix(history),
        "history": history,
        "chart": chart,
        "gridlines": [(line, money(line.value)) for line in chart.gridlines],
        "day_rows": [
            {"date": day.day, "bar": bar, **_breakdown(day)}
            for day, bar in zip(history.by_day, chart.bars, strict=True)
        ],
        "by_feature": [
            (FEATURE_LABELS.get(name, name), _breakdown(totals))
            for name, totals in history.by_feature.items()
        ],
        "by_model": [(alias, _breakdown(totals)) for alias, totals in history.by_model.items()],
    }
