from .tenants import Membership, Plan, Tenant
from .tokens import ApiToken
from .users import User

__all__ = ["ApiToken", "Membership", "Plan", "Tenant", "User"]
