from keybuzz.cli import KeyBuzzCommand, positive_seconds
from usage.budget import budget_close_abandoned


class Command(KeyBuzzCommand):
    help = (
        "Close reservations not settled within AI_RESERVATION_TTL_SECONDS as 'abandoned' usage "
        "rows at their worst-case cost. Requests do this too when such a reservation blocks "
        "them; run this from cron (or with --loop) so that the rows appear promptly."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep running")
        parser.add_argument(
            "--interval", type=positive_seconds, default=30.0, help="seconds between runs"
        )

    def handle(self, *args, **options):
        self.repeat(self._pass, loop=options["loop"], interval=options["interval"])

    def _pass(self) -> None:
        self.stdout.write(f"Closed {budget_close_abandoned()} abandoned reservation(s).")
