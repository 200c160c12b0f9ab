from .autopilot_jobs import AutopilotJob
from .idempotency import IdempotencyKey
from .rate_limits import RateLimitState
from .switches import AIGlobalSettings, AISettings, KillSwitchChange

__all__ = [
    "AIGlobalSettings",
    "AISettings",
    "AutopilotJob",
    "IdempotencyKey",
    "KillSwitchChange",
    "RateLimitState",
]
