"""What tenants announce, so that layers above can react without tenants knowing them."""

from django.dispatch import Signal

# Sent inside the transaction that changed a daily budget: a tenant's override, a plan's budget,
# or a top-up (sent by the ledger). Arguments: tenant_ids (a set) or plan_code (every tenant on
# the plan). Autopilot wakes the jobs the budget deferred (CONTRACT §9).
budget_changed = Signal()
