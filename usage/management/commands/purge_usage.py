from django.core.management.base import CommandError

from keybuzz.cli import KeyBuzzCommand, iso_date, positive_int
from usage.retention import DEFAULT_BATCH_SIZE, PurgeRefused, usage_purge


class Command(KeyBuzzCommand):
    help = (
        "Delete the ai_usage rows of every tenant's local days before DATE, in batches. The "
        "rollups (the analytics history) and the budget counters are kept. DATE may be at most "
        "today in AI_BUDGET_TIMEZONE. Idempotency-Keys older than 24 hours are deleted too."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--before", type=iso_date, required=True, metavar="DATE", help="YYYY-MM-DD"
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"rows deleted per transaction (default {DEFAULT_BATCH_SIZE})",
        )

    def handle(self, *args, **options):
        before = options["before"]
        try:
            deleted = usage_purge(before=before, batch_size=options["batch_size"])
        except PurgeRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Deleted {deleted} ai_usage row(s) of local days before {before}; "
            "rollups and budget counters kept."
        )
