"""How money reads, everywhere it is shown to a person: one function and its template filter.

`usd` gives "$10.00", "$0.002589", "$1,234.50" (French: "10,00 $", "1 234,50 $"): cents when
they say it all, else every significant decimal up to the micro-dollar, in the reader's number
format. The usage page, the console's pages and its messages all call it (`{{ x|usd }}` in a
template: the filter is a builtin, see TEMPLATES in settings).
"""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext

register = template.Library()

MIN_PLACES, MAX_PLACES = 2, 6


def decimal_text(value: Decimal, *, min_places: int, max_places: int) -> str:
    """Up to `max_places` decimals, trailing zeros dropped down to `min_places`, grouped: what
    the page's Intl.NumberFormat(…, {minimumFractionDigits, maximumFractionDigits}) shows."""
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_UP)
    places = min(max(-rounded.normalize().as_tuple().exponent, min_places), max_places)
    return number_format(rounded, decimal_pos=places, force_grouping=True)


def usd_pattern() -> str:
    """The localized pattern around an amount, "{n}" standing for it (for the page's script)."""
    # Translators: an amount in US dollars, already formatted (French: "%(amount)s $").
    return gettext("$%(amount)s") % {"amount": "{n}"}


@register.filter
def usd(value: Decimal | int | None) -> str:
    if value is None or value == "":
        return ""
    amount = decimal_text(Decimal(value), min_places=MIN_PLACES, max_places=MAX_PLACES)
    return usd_pattern().replace("{n}", amount)
