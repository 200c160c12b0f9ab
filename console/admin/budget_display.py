"""How the console shows budget use and budgets too small for a single call (money reads
through keybuzz.money_display.usd, as everywhere)."""

from decimal import ROUND_DOWN, Decimal

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from keybuzz.money_display import usd
from tenants.models import Plan
from usage.budget import BudgetState, cheapest_minimal_call, plan_aliases, plan_prices
from usage.pricing import from_micros, to_micros

CENT = Decimal("0.01")
NEAR_LIMIT_PERCENT = Decimal(80)
REACHED_PERCENT = Decimal(100)


def percent_badge(percent: Decimal) -> SafeString:
    """The percentage with a CSS class for its level and the level in words, so that the
    colour is never the only signal. Rounded down: 79.99 % must not read as 80.0 %."""
    shown = percent.quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    if percent >= REACHED_PERCENT:
        level, label = "reached", gettext("budget reached")
    elif percent >= NEAR_LIMIT_PERCENT:
        level, label = "near", gettext("near the limit")
    else:
        return format_html(
            '<span class="kbz-budget kbz-budget--ok">{} %</span>', number_format(shown, 1)
        )
    return format_html(
        '<span class="kbz-budget kbz-budget--{}">{} % <span class="kbz-budget__label">({})'
        "</span></span>",
        level,
        number_format(shown, 1),
        label,
    )


def minimal_call_on_plan(plan: Plan) -> tuple[str, Decimal]:
    """The cheapest alias a plan's calls may use (its default model or a route table's
    target) and the worst case of a minimal request there: what one call costs at least."""
    try:
        plan_aliases(plan)
    except ValidationError:  # a form showing a table it refused: the stored one still applies
        plan = Plan.objects.get(pk=plan.pk) if plan.pk else Plan(model=plan.model)
    alias, micros = cheapest_minimal_call(plan=plan, prices=plan_prices(plans=[plan]))
    return alias, from_micros(micros)


def budget_covers_one_call(*, budget: Decimal, minimum: Decimal) -> bool:
    """Whether a day of `budget` admits a call of worst case `minimum` (the budget rule)."""
    return BudgetState(budget_micros=to_micros(budget)).admits(to_micros(minimum))


def budget_below_one_call(*, budget: Decimal, plan: Plan) -> str | None:
    """Why `budget` admits no request at all, if so: below the worst case of the smallest
    request on the cheapest alias the plan may use, every call of the day is refused with
    402."""
    alias, minimum = minimal_call_on_plan(plan)
    if budget_covers_one_call(budget=budget, minimum=minimum):
        return None
    return _below_one_call(budget=budget, alias=alias, minimum=minimum)


def _below_one_call(*, budget: Decimal, alias: str, minimum: Decimal) -> str:
    return gettext(
        "The daily budget (%(budget)s) is below the cost of one minimal call on "
        "%(model)s (%(minimum)s): every AI request will be refused."
    ) % {"budget": usd(budget), "model": alias, "minimum": usd(minimum)}


def budget_check_html(*, budget: Decimal, plan: Plan) -> SafeString:
    """The read-only "budget check" of a change page: the warning, or what the budget covers."""
    alias, minimum = minimal_call_on_plan(plan)
    if not budget_covers_one_call(budget=budget, minimum=minimum):
        return format_html(
            '<span class="kbz-budget kbz-budget--reached" role="alert">⚠ {}</span>',
            _below_one_call(budget=budget, alias=alias, minimum=minimum),
        )
    return format_html(
        '<span class="kbz-budget kbz-budget--ok">{}</span>',
        gettext("OK: it covers a minimal call on %(model)s (%(minimum)s).")
        % {"model": alias, "minimum": usd(minimum)},
    )
