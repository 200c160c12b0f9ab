from .prices import ModelPrice
from .tenants import Membership, Plan, Tenant, local_day
from .tokens import ApiToken
from .users import User

__all__ = ["ApiToken", "Membership", "ModelPrice", "Plan", "Tenant", "User", "local_day"]
