"""Fixed SQL for the request hot path, with the ORM's own conversions on the way in and out.

Building and compiling a QuerySet cost 0.5 to 1.2 ms of CPU per statement here (the token
lookup, the tenant check, the kill switches), against 0.03 ms for the round trip itself
(docs/PERFORMANCE.md). The few
statements every POST /ai/assist runs are therefore written once as SQL; these helpers keep
them tied to the models: column lists come from `_meta`, values go in through each field's
`get_db_prep_save` and come out through the same converters a QuerySet applies, so the
instances they build equal what the ORM would load, on PostgreSQL and on SQLite alike.
"""

from collections.abc import Sequence
from functools import cache

from django.db import connection
from django.db.models import Model


def columns(model: type[Model], alias: str) -> str:
    """`alias."col", ...` for every concrete field of `model`, in `from_row`'s order."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def column_count(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def column(model: type[Model], name: str) -> str:
    """The database column of `model`'s field `name` (a foreign key's `<name>_id`, or its
    `db_column`)."""
    return model._meta.get_field(name).column


def execute_rows(cursor, statement: str, rows: Sequence[Sequence]) -> None:
    """Run `statement` once per row: a single row as one plain statement (a live call's case;
    `executemany` would open a pipeline for it), several with `executemany`."""
    if len(rows) == 1:
        cursor.execute(statement, rows[0])
    else:
        cursor.executemany(statement, rows)


@cache
def _converters(model: type[Model], vendor: str) -> tuple[tuple[int, list, object], ...]:
    """(position, converters, column) of the fields whose database values need converting,
    as the SQL compiler finds them: the backend's first, then the field's own."""
    found = []
    for position, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            found.append((position, functions, column))
    return tuple(found)


def from_row(model: type[Model], values: Sequence) -> Model:
    """An instance of `model` from the values of `columns(model, ...)`, as the ORM loads it."""
    values = list(values)
    for position, functions, column in _converters(model, connection.vendor):
        for convert in functions:
            values[position] = convert(values[position], column, connection)
    return model.from_db(connection.alias, None, values)


@cache
def _insert_statement(model: type[Model], attnames: tuple[str, ...]) -> str:
    names = ", ".join(f'"{model._meta.get_field(name).column}"' for name in attnames)
    placeholders = ", ".join(["%s"] * len(attnames))
    return f'INSERT INTO "{model._meta.db_table}" ({names}) VALUES ({placeholders})'  # noqa: S608


def insert(instance: Model) -> None:
    """INSERT one new row for `instance`, every field as `save(force_insert=True)` would
    write it, without the ORM's per-call query building."""
    fields = instance._meta.concrete_fields
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    statement = _insert_statement(type(instance), tuple(field.attname for field in fields))
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
    instance._state.adding = False
    instance._state.db = connection.alias


def insert_rows(model: type[Model], attnames: tuple[str, ...], rows: Sequence[Sequence]) -> None:
    """INSERT rows given as tuples of values for `attnames`, each prepared by its field."""
    fields = [model._meta.get_field(name) for name in attnames]
    params = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row, strict=True)
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        execute_rows(cursor, _insert_statement(model, attnames), params)
