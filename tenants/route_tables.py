"""A plan's route table (CONTRACT §8): ordered rules, first match wins, then the plan's default
model. Stored as JSON on the plan, so that the tenant lookup loads it with the plan and an edit
is logged with its old and new value like any other plan field.

    [{"name": "fast replies", "quality": ["fast"], "target": "kbz-cheap"},
     {"name": "journal", "feature": ["journal"], "target": "kbz-cheap"},
     {"name": "budget low", "budgetLeftBelowPercent": 20, "target": "kbz-cheap"}]

A rule has a name, a target alias and at least one condition, all of which must hold:
`feature` (a list), `quality` (a list), `minBytes` / `maxBytes` (the conversation's UTF-8
size) and `budgetLeftBelowPercent` (what is left of the day's budget, top-ups included). A
rule without a condition would shadow the default model, which always stays last.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

FEATURES = ("assist", "autopilot", "journal")
QUALITIES = ("fast", "balanced")
CONDITIONS = ("feature", "quality", "minBytes", "maxBytes", "budgetLeftBelowPercent")
MAX_RULES = 20


@dataclass(frozen=True)
class RouteRule:
    name: str
    target: str
    features: frozenset[str] | None = None
    qualities: frozenset[str] | None = None
    min_bytes: int | None = None
    max_bytes: int | None = None
    budget_left_below_percent: Decimal | None = None

    @property
    def watches_budget(self) -> bool:
        return self.budget_left_below_percent is not None


def route_rules_parse(value) -> list[RouteRule]:
    """The rules of a route table, or ValidationError naming what is wrong (in the reader's
    language): the console's form and the request path read tables through this."""
    if not isinstance(value, list) or len(value) > MAX_RULES:
        raise ValidationError(_("Give a JSON list of at most %(max)s rules.") % {"max": MAX_RULES})
    rules = [_rule(item, number) for number, item in enumerate(value, start=1)]
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ValidationError(_("Each rule needs a name of its own."))
    return rules


def validate_route_rules(value) -> None:
    route_rules_parse(value)


def _rule(item, number: int) -> RouteRule:
    def wrong(why: str) -> ValidationError:
        return ValidationError(_("Rule %(number)s: %(why)s") % {"number": number, "why": why})

    if not isinstance(item, dict):
        raise wrong(_("a rule is a JSON object."))
    unknown = set(item) - {"name", "target", *CONDITIONS}
    if unknown:
        raise wrong(_("unknown key(s) %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
    name, target = item.get("name"), item.get("target")
    if not isinstance(name, str) or not name.strip():
        raise wrong(_("a name is required."))
    if not isinstance(target, str) or not target.strip():
        raise wrong(_("a target model alias is required."))
    if not set(CONDITIONS) & set(item):
        raise wrong(_("at least one condition is required (the default model comes last)."))
    features = _choices(item, "feature", FEATURES, wrong)
    qualities = _choices(item, "quality", QUALITIES, wrong)
    min_bytes, max_bytes = _size(item, "minBytes", wrong), _size(item, "maxBytes", wrong)
    if min_bytes is not None and max_bytes is not None and min_bytes > max_bytes:
        raise wrong(_("minBytes is above maxBytes."))
    return RouteRule(
        name=name.strip(),
        target=target.strip(),
        features=features,
        qualities=qualities,
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        budget_left_below_percent=_percent(item, wrong),
    )


def _choices(item: dict, key: str, allowed: tuple[str, ...], wrong) -> frozenset[str] | None:
    if key not in item:
        return None
    values = item[key]
    if not isinstance(values, list) or not values or not set(values) <= set(allowed):
        raise wrong(
            _("%(key)s is a non-empty list among %(allowed)s.")
            % {"key": key, "allowed": ", ".join(allowed)}
        )
    return frozenset(values)


def _size(item: dict, key: str, wrong) -> int | None:
    if key not in item:
        return None
    value = item[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise wrong(_("%(key)s is a whole number of bytes, 0 or more.") % {"key": key})
    return value


def _percent(item: dict, wrong) -> Decimal | None:
    if "budgetLeftBelowPercent" not in item:
        return None
    value = item["budgetLeftBelowPercent"]
    try:
        percent = None if isinstance(value, bool) else Decimal(str(value))
    except InvalidOperation:
        percent = None
    if percent is None or not percent.is_finite() or not 0 < percent <= 100:
        raise wrong(_("budgetLeftBelowPercent is a number above 0 and at most 100."))
    return percent
