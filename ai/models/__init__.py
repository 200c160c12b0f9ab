from .idempotency import IdempotencyKey
from .rate_limits import RateLimitState
from .switches import AIGlobalSettings, AISettings, KillSwitchChange

__all__ = ["AIGlobalSettings", "AISettings", "IdempotencyKey", "KillSwitchChange", "RateLimitState"]
