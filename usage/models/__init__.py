from .budget import BudgetCounter, BudgetTopUp, Reservation
from .usage import AIUsage, UsagePurge, UsageRollup

__all__ = ["AIUsage", "BudgetCounter", "BudgetTopUp", "Reservation", "UsagePurge", "UsageRollup"]
