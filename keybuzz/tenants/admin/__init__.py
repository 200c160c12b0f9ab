"""The staff console's pages for tenants, plans, users, memberships and API tokens.

Importing the modules registers their ModelAdmins on the admin site.
"""

from . import plans, tenants, users

__all__ = ["plans", "tenants", "users"]
