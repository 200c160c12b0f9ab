"""The spend ledger's budget: the one owner of every rule of spend (CONTRACT §5).

- rule.py: THE comparison (spent + reserved + x ≤ budget + granted), the worst-case bound of
  a request and of a minimal one;
- state.py: reads of a tenant-day's budget, for one tenant or many;
- admission.py: reserve, settle (or release at cost 0), close abandoned reservations.

Everything that asks "may this tenant spend?" (the pipeline, status, the console, alerts, demo
and synthetic data) calls these names.
"""

from .admission import (
    Admission,
    Hold,
    budget_close_abandoned,
    budget_close_abandoned_and_read,
    budget_refusal,
    budget_reserve,
    budget_settle,
)
from .rule import (
    BudgetState,
    budget_admits,
    budget_reached_from,
    cheapest_minimal_call,
    max_tokens_that_fit,
    minimal_call_cost,
    minimal_call_micros,
    minimal_call_micros_on_plan,
    plan_aliases,
    prompt_tokens_upper_bound,
    worst_case_cost,
    worst_case_of,
)
from .state import (
    budget_counter_state,
    budget_reached_today,
    budget_state,
    budget_state_and_prices,
    budget_states_today,
    days_that_may_be_today,
    plan_prices,
    tenant_ids_using_at_least,
)

__all__ = [
    "Admission",
    "BudgetState",
    "Hold",
    "budget_admits",
    "budget_close_abandoned",
    "budget_close_abandoned_and_read",
    "budget_counter_state",
    "budget_reached_from",
    "budget_reached_today",
    "budget_refusal",
    "budget_reserve",
    "budget_settle",
    "budget_state",
    "budget_state_and_prices",
    "budget_states_today",
    "cheapest_minimal_call",
    "days_that_may_be_today",
    "max_tokens_that_fit",
    "minimal_call_cost",
    "minimal_call_micros",
    "minimal_call_micros_on_plan",
    "plan_aliases",
    "plan_prices",
    "prompt_tokens_upper_bound",
    "tenant_ids_using_at_least",
    "worst_case_cost",
    "worst_case_of",
]
