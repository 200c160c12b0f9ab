import argparse
import time

from keybuzz.cli import KeyBuzzCommand, refuse_without_debug
from usage.synthetic import DEFAULT_CHUNK_SIZE, MAX_DAYS, MAX_TENANTS, usage_generate

MAX_ROWS = 1_000_000_000
MAX_CHUNK_SIZE = 200_000


def _int_between(low: int, high: int):
    """argparse type for an integer from `low` to `high` inclusive."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{value}' is not an integer") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not between {low:,} and {high:,}")
        return number

    return parse


class Command(KeyBuzzCommand):
    help = (
        "Record synthetic usage (provider 'mock') for tenants synthetic-0001… (created if "
        "missing) over their last DAYS local days, through the recording service, within "
        "each tenant-day's budget. Deterministic for a seed and a clock."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenants", type=_int_between(1, MAX_TENANTS), required=True)
        parser.add_argument("--rows", type=_int_between(1, MAX_ROWS), required=True)
        parser.add_argument("--days", type=_int_between(1, MAX_DAYS), required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--chunk-size",
            type=_int_between(1, MAX_CHUNK_SIZE),
            default=DEFAULT_CHUNK_SIZE,
            help="rows per recording transaction",
        )
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (synthetic rows!)"
        )

    def handle(self, *args, **options):
        refuse_without_debug(
            force=options["force"], why="synthetic usage would mix with real accounting"
        )
        self.stderr.style_func = None  # progress is not an error: no red
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            elapsed = time.monotonic() - started
            self.stderr.write(
                f"{done:>13,} / {total:,} rows ({done / total:6.1%})  "
                f"{done / elapsed if elapsed else 0:,.0f} rows/s"
            )

        report = usage_generate(
            tenants=options["tenants"],
            rows=options["rows"],
            days=options["days"],
            seed=options["seed"],
            chunk_size=options["chunk_size"],
            progress=progress,
        )
        self.stdout.write(
            f"Generated {report.rows:,} rows for {options['tenants']} synthetic tenants "
            f"({report.tenants_created} created, {report.tenants_reused} reused) over "
            f"{options['days']} days in {report.seconds:.1f} s: "
            f"{report.rows_per_second:,.0f} rows/s. {report.success:,} success, "
            f"{report.blocked:,} blocked (budget), {report.errors:,} errors; "
            f"${report.cost_usd} spent."
        )
