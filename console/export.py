"""ai_usage rows as CSV, a block of lines at a time: millions of rows never sit in memory."""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import QuerySet

from usage.models import AIUsage

# The seed's column names, in the table's order. The header is a contract with the scripts and
# spreadsheets that read the file, so it is spelled out rather than derived from the model.
COLUMNS = (
    "id", "tenant_id", "user_id", "feature", "provider", "model", "prompt_tokens",
    "completion_tokens", "total_tokens", "cost_usd_est", "status", "error_code", "request_id",
    "created_at",
)  # fmt: skip
# Rows per round trip; on PostgreSQL, rows per FETCH from a server-side cursor.
CHUNK_SIZE = 5000
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def usage_csv_lines(*, rows: QuerySet[AIUsage], chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """The header, then one CSV line per row of `rows` in its order, yielded in blocks of
    `chunk_size` whole lines.

    Plain tuples through `.iterator()`: no model instances and no result cache, so memory stays
    flat however many rows there are. Blocks rather than single lines: each yield costs the
    response (and the server's socket) one write.
    """
    block = io.StringIO()
    writer = csv.writer(block)
    writer.writerow(COLUMNS)
    fetched = rows.values_list(*COLUMNS).iterator(chunk_size=chunk_size)
    for count, row in enumerate(fetched, start=1):
        writer.writerow(map(_cell, row))
        if count % chunk_size == 0:
            yield block.getvalue()
            block.seek(0)
            block.truncate()
    yield block.getvalue()


def _cell(value):
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_PREFIXES) else value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"  # never exponent notation
    return value
