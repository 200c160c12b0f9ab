from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsageConfig(AppConfig):
    """The spend ledger: ai_usage, rollups, tenant-day counters, reservations, top-ups and the
    budget rule (usage.budget)."""

    name = "usage"
    verbose_name = _("AI usage")
    scrape_collectors = ["usage.metrics.ReservationsInFlight"]  # read by keybuzz.metrics
