from alerts.delivery import alerts_deliver
from alerts.platform import alerts_detect_platform_spend
from keybuzz.cli import KeyBuzzCommand, positive_int, positive_seconds


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
        once, limit = options["once"], options["limit"]
        self.repeat(
            lambda: self._pass(limit, quiet=not once), loop=not once, interval=options["interval"]
        )

    def _pass(self, limit: int, *, quiet: bool) -> None:
        """One pass; the loop reports only passes that did something."""
        platform = alerts_detect_platform_spend()
        if platform is not None:
            self.stdout.write(f"Raised the platform spend alert {platform.event_id}.")
        report = alerts_deliver(limit=limit)
        if not quiet or report.sent or report.failed or report.dead:
            self.stdout.write(f"Alert deliveries: {report}.")
