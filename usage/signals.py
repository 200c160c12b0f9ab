"""What the ledger announces, so that layers above it can react without the ledger knowing
them (alerts.detection listens to `usage_recorded`; the pipeline to `usage_purged`)."""

from django.dispatch import Signal

# Sent inside the transaction that records ai_usage rows, after the counters moved:
#   spend_moved: {(tenant_id, day): (spent before, spent after, granted)} in micro-dollars;
#   budget_refused: {(tenant_id, day)} that got a row refused by the budget;
#   tenants: {tenant_id: Tenant} of those tenant-days; now: the recording's clock;
#   live: True for a live call (usage_record), False for a batch (usage_record_many).
# A receiver's writes commit or roll back with the rows.
usage_recorded = Signal()

# Sent after a retention run (usage.retention.usage_purge): batch_size.
usage_purged = Signal()
