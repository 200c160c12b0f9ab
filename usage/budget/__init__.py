"""The spend ledger's budget: the one owner of every rule of spend (CONTRACT §5).

- rule.py: THE comparison (spent + reserved + x ≤ budget + granted), the worst-case bound of
  a request and of a minimal one;
- state.py: reads of a tenant-day's budget, for one tenant or many;
- admission.py: reserve, settle (or release at cost 0), close abandoned reservations.

Everything that asks "may this tenant spend?" (the pipeline, status, the console, alerts, demo
and synthetic data) calls these names.
"""

from .admission import (
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
    minimal_call_cost,
    minimal_call_micros,
    prompt_tokens_upper_bound,
    worst_case_cost,
)
from .state import (
    budget_counter_state,
    budget_reached_today,
    budget_state,
    budget_states_today,
    days_that_may_be_today,
    tenant_ids_using_at_least,
)

__all__ = [
    "BudgetState",
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
    "budget_states_today",
    "days_that_may_be_today",
    "minimal_call_cost",
    "minimal_call_micros",
    "prompt_tokens_upper_bound",
    "tenant_ids_using_at_least",
    "worst_case_cost",
]
