"""The routing decision (ai.routing): a pure function, tested on a table of cases, no database."""

from decimal import Decimal

import pytest

from ai.routing import Reason, RouteRequest, route_candidates, rule_matching
from tenants.models import ModelPrice
from tenants.route_tables import route_rules_parse
from usage.budget import BudgetState, max_tokens_that_fit, worst_case_of
from usage.pricing import to_micros

PRICES = {
    alias: ModelPrice(
        alias=alias, input_usd_per_million=Decimal(i), output_usd_per_million=Decimal(o)
    )
    for alias, i, o in [
        ("kbz-cheap", "0.15", "0.60"),
        ("kbz-standard", "3.00", "15.00"),
        ("kbz-premium", "2.50", "10.00"),
    ]
}
SEEDED = route_rules_parse([
    {"name": "fast replies", "quality": ["fast"], "target": "kbz-cheap"},
    {"name": "journal", "feature": ["journal"], "target": "kbz-cheap"},
    {"name": "budget low", "budgetLeftBelowPercent": 20, "target": "kbz-cheap"},
])  # fmt: skip
PROMPT = 1500  # tokens: the bound of a short conversation with the system prompt
BUDGET = 10_000_000  # a pro day: $10


def _request(feature="assist", quality="balanced", size=40, prompt=PROMPT) -> RouteRequest:
    return RouteRequest(feature=feature, quality=quality, conversation_bytes=size,
                        prompt_tokens=prompt)  # fmt: skip


def _left(micros: int, budget: int = BUDGET) -> BudgetState:
    return BudgetState(budget_micros=budget, spent_micros=budget - micros)


def _route(request=None, budget=None, rules=SEEDED, default="kbz-standard"):
    return route_candidates(
        rules=rules, prices=PRICES, default=default, request=request or _request(),
        budget=budget or _left(BUDGET), max_tokens=1024, min_tokens=256,
    )  # fmt: skip


def _worst(alias: str, tokens: int, prompt: int = PROMPT) -> int:
    return to_micros(worst_case_of(price=PRICES[alias], prompt_tokens=prompt, max_tokens=tokens))


def _first(candidates):
    c = candidates[0]
    return c.alias, c.max_tokens, c.reason, c.rule


@pytest.mark.parametrize(
    ("request_", "budget", "expected"),
    [
        (_request(), _left(BUDGET), ("kbz-standard", 1024, Reason.DEFAULT, None)),
        (_request(quality="fast"), _left(BUDGET), ("kbz-cheap", 1024, Reason.RULE, "fast replies")),
        (_request(feature="journal"), _left(BUDGET), ("kbz-cheap", 1024, Reason.RULE, "journal")),
        (_request(), _left(BUDGET * 19 // 100),
         ("kbz-cheap", 1024, Reason.BUDGET_LOW, "budget low")),
        (_request(), _left(BUDGET * 20 // 100), ("kbz-standard", 1024, Reason.DEFAULT, None)),
        (_request(quality="fast", feature="journal"), _left(BUDGET * 5 // 100),
         ("kbz-cheap", 1024, Reason.RULE, "fast replies")),
        (_request(feature="autopilot"), _left(BUDGET),
         ("kbz-standard", 1024, Reason.DEFAULT, None)),
    ],
    ids=["default", "fast", "journal", "budget-19%", "budget-20%", "first-rule-wins", "autopilot"],
)  # fmt: skip
def test_the_routed_call_follows_the_first_matching_rule(request_, budget, expected):
    assert _first(_route(request_, budget)) == expected


def test_a_call_that_does_not_fit_moves_to_the_cheapest_alias_then_fewer_tokens():
    # given less left than a full standard call, but more than a full cheap one
    room = _worst("kbz-standard", 1024) - 1
    candidates = _route(budget=BudgetState(budget_micros=room))
    # then: the routed call, the cheap one in full, and the cheap one at the minimum
    assert [(c.alias, c.max_tokens, c.reason) for c in candidates] == [
        ("kbz-standard", 1024, Reason.DEFAULT),
        ("kbz-cheap", 1024, Reason.FIT_TO_BUDGET),
        ("kbz-cheap", 256, Reason.FIT_TO_BUDGET),
    ]
    assert [c.worst_case_micros for c in candidates] == [
        _worst("kbz-standard", 1024), _worst("kbz-cheap", 1024), _worst("kbz-cheap", 256)
    ]  # fmt: skip


def test_when_even_the_cheapest_does_not_fit_max_tokens_is_lowered_to_what_fits():
    room = _worst("kbz-cheap", 700)
    candidates = _route(budget=BudgetState(budget_micros=room))
    assert [(c.alias, c.max_tokens) for c in candidates] == [
        ("kbz-standard", 1024), ("kbz-cheap", 1024), ("kbz-cheap", 700), ("kbz-cheap", 256),
    ]  # fmt: skip


def test_below_the_minimum_the_last_candidate_is_the_minimum_which_the_ledger_refuses():
    room = _worst("kbz-cheap", 256) - 1
    candidates = _route(budget=BudgetState(budget_micros=room))
    assert (candidates[-1].alias, candidates[-1].max_tokens) == ("kbz-cheap", 256)
    assert candidates[-1].worst_case_micros > room


def test_a_plan_without_rules_lowers_its_own_default():
    room = _worst("kbz-cheap", 500)
    candidates = _route(budget=BudgetState(budget_micros=room), rules=[], default="kbz-cheap")
    assert [(c.alias, c.max_tokens, c.reason) for c in candidates] == [
        ("kbz-cheap", 1024, Reason.DEFAULT),
        ("kbz-cheap", 500, Reason.FIT_TO_BUDGET),
        ("kbz-cheap", 256, Reason.FIT_TO_BUDGET),
    ]


def test_fit_to_budget_keeps_the_name_of_the_rule_that_routed_the_call():
    candidates = _route(_request(quality="fast"), BudgetState(budget_micros=1))
    assert {(c.reason, c.rule) for c in candidates[1:]} == {(Reason.FIT_TO_BUDGET, "fast replies")}


@pytest.mark.parametrize(
    ("rule", "size", "matches"),
    [
        ({"minBytes": 100}, 99, False), ({"minBytes": 100}, 100, True),
        ({"maxBytes": 100}, 100, True), ({"maxBytes": 100}, 101, False),
        ({"minBytes": 10, "maxBytes": 20, "quality": ["balanced"]}, 15, True),
        ({"minBytes": 10, "maxBytes": 20, "quality": ["fast"]}, 15, False),
    ],
)  # fmt: skip
def test_size_conditions_bound_the_conversations_utf8_size(rule, size, matches):
    rules = route_rules_parse([{"name": "r", "target": "kbz-premium", **rule}])
    assert (rule_matching(rules, _request(size=size), _left(BUDGET)) is not None) == matches


def test_without_a_budget_rules_on_the_budget_are_skipped():
    # a call stopped before the budget (kill switch, rate limit) records the routed alias
    assert rule_matching(SEEDED, _request(), None) is None
    assert rule_matching(SEEDED, _request(quality="fast"), None).name == "fast replies"


def test_a_day_without_budget_counts_as_nothing_left():
    assert _first(_route(budget=BudgetState(budget_micros=0)))[2] == Reason.BUDGET_LOW


@pytest.mark.parametrize("room", [0, 1, 225, 450, 1_000, 2_000, 2_612, 5_000, 10**9])
def test_max_tokens_that_fit_is_the_largest_that_fits(room):
    price = PRICES["kbz-cheap"]
    tokens = max_tokens_that_fit(price=price, prompt_tokens=PROMPT, room_micros=room, ceiling=1024)
    if tokens:
        assert _worst("kbz-cheap", tokens) <= room
    if tokens < 1024:
        assert _worst("kbz-cheap", tokens + 1) > room
