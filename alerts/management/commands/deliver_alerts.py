import logging
import time

from django.db import DatabaseError, close_old_connections

from alerts.delivery import alerts_deliver
from alerts.platform import alerts_detect_platform_spend
from keybuzz.cli import KeyBuzzCommand, positive_int, positive_seconds

logger = logging.getLogger(__name__)


class Command(KeyBuzzCommand):
    help = (
        "Send pending cost alerts (email, webhooks) with retries, and raise the platform "
        "spend alert when today's spend reaches its threshold. Runs as a loop; --once for cron."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--interval", type=positive_seconds, default=10.0, help="seconds between passes"
        )
        parser.add_argument(
            "--limit", type=positive_int, default=100, help="deliveries sent per pass at most"
        )

    def handle(self, *args, **options):
        while True:
            if options["once"]:
                self._pass(options["limit"], quiet=False)
                return
            try:
                self._pass(options["limit"], quiet=True)
            except DatabaseError:
                # The database restarting must not end the loop: the next pass retries.
                logger.exception("deliver_alerts: this pass failed; retrying next pass.")
                close_old_connections()
            time.sleep(options["interval"])

    def _pass(self, limit: int, *, quiet: bool) -> None:
        """One pass; the loop reports only passes that did something."""
        platform = alerts_detect_platform_spend()
        if platform is not None:
            self.stdout.write(f"Raised the platform spend alert {platform.event_id}.")
        report = alerts_deliver(limit=limit)
        if not quiet or report.sent or report.failed or report.dead:
            self.stdout.write(f"Alert deliveries: {report}.")
