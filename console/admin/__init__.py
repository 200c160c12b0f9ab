"""Every page of the staff console. Importing the modules registers their ModelAdmins on the
console's admin site (Django's admin autodiscovery imports this package)."""

from . import (
    ai,
    alerts,
    autopilot,
    kill_switches,
    log_entries,
    plans,
    tenants,
    top_ups,
    usage,
    users,
)

__all__ = [
    "ai", "alerts", "autopilot", "kill_switches", "log_entries", "plans", "tenants", "top_ups",
    "usage", "users",
]  # fmt: skip
