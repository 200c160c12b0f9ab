"""The ledger's refusals, raised anywhere and rendered by keybuzz.errors (CONTRACT §4)."""

from keybuzz.api_docs import BudgetSerializer
from keybuzz.errors import ApiError


class Refusal(ApiError):
    """A guardrail refused the request before any upstream call; `reason` is what the blocked
    ai_usage row records as its error_code."""

    reason = "refused"


class BudgetExceeded(Refusal):
    status_code = 402
    code = reason = "budget_exceeded"
    message = "The tenant's daily AI budget would be exceeded by this request."

    def __init__(self, *, plan: str, state):
        """`state`: the day's BudgetState as it stands after the refusal."""
        budget = BudgetSerializer({"budget": state, "allowed": False}).data
        super().__init__(extra={"upgradeRequired": True, "plan": plan, "budget": budget})
