"""What the pipeline announces inside its own app (Autopilot jobs listen)."""

from django.dispatch import Signal

# Sent inside the transaction that turned a kill switch off: tenant (None: the global switch).
kill_switch_turned_off = Signal()
