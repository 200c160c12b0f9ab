from .budget import BudgetCounter, BudgetTopUp, Reservation
from .idempotency import IdempotencyKey
from .prices import ModelPrice
from .rate_limits import RateLimitState
from .switches import AIGlobalSettings, AISettings, KillSwitchChange

__all__ = [
    "AIGlobalSettings",
    "AISettings",
    "BudgetCounter",
    "BudgetTopUp",
    "IdempotencyKey",
    "KillSwitchChange",
    "ModelPrice",
    "RateLimitState",
    "Reservation",
]
