"""What every manage.py command of ours shares: bad arguments give one line and exit 2."""

import argparse
import logging
import re
import time
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

logger = logging.getLogger(__name__)

CLI_ACTOR = "cli"  # who the audit trails name for a change made from the command line


class _OneLineErrorParser(CommandParser):
    def error(self, message):
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message}\n")
        super().error(message)  # raises CommandError when called from code


class KeyBuzzCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds the parser itself; swapping its class keeps everything it configured
        # and replaces argparse's two-line "usage + error" with one line.
        parser.__class__ = _OneLineErrorParser
        return parser

    def repeat(self, step, *, loop: bool, interval: float) -> None:
        """Run `step()` once, or every `interval` seconds for housekeeping loops.

        In a loop a database outage must not end the process: the failed pass is logged, the
        broken connection dropped, and the next pass tries again. A single run lets it raise.
        """
        if not loop:
            step()
            return
        while True:
            try:
                step()
            except DatabaseError:
                logger.exception("%s: this pass failed; retrying next pass.", self.__module__)
                close_old_connections()
            time.sleep(interval)


def refuse_without_debug(*, force: bool, why: str) -> None:
    """Demo and synthetic data must not reach a production database by accident."""
    if not settings.DEBUG and not force:
        raise CommandError(
            f"refusing to run while DEBUG is off: {why} (pass --force to run anyway)"
        )


def usd_amount(value: str) -> Decimal:
    """argparse type for a non-negative USD amount such as 10 or 2.50."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"'{value}' is not an amount in USD") from None
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError(f"'{value}' is not a non-negative amount in USD")
    return amount


def positive_seconds(value: str) -> float:
    """argparse type for a duration in seconds greater than zero."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"'{value}' is not a positive number of seconds")
    return seconds


def iso_date(value: str) -> date:
    """argparse type for a calendar date written YYYY-MM-DD (and only that way)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"'{value}' is not a date (YYYY-MM-DD)")


def positive_int(value: str) -> int:
    """argparse type for a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of at least 1")
    return number


def validation_message(exc: ValidationError) -> str:
    """A model ValidationError as one line: 'field: message; field: message'."""
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)
