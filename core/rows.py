"""One-row statements for the hot paths of the live room, without the ORM's
query compiler.

Every live action locks its room row, writes it with the frame's new seq,
appends a learning event and claims its client frame id: four statements
that the ORM compiles afresh each time (a third of a mode switch's CPU in a
busy process, docs/performance.md). Their SQL depends only on the model and
the columns written, so it is built once per (model, columns, database
vendor) here; the values go through the fields' own `pre_save` /
`get_db_prep_save` and, on the way back, the same converters the ORM applies,
so a row read here equals one read by `Model.objects.get`."""

from __future__ import annotations

from functools import lru_cache

from django.db import connection
from django.db.models import Model


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


@lru_cache(maxsize=64)
def _lock_plan(model: type[Model], vendor: str, for_update: bool):
    fields = model._meta.concrete_fields
    table = _quote(model._meta.db_table)
    columns = ", ".join(f"{table}.{_quote(field.column)}" for field in fields)
    sql = (
        f"SELECT {columns} FROM {table} WHERE {table}.{_quote(model._meta.pk.column)} = %s"  # noqa: S608
        + (" FOR UPDATE" if for_update else "")
    )
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    return sql, [field.attname for field in fields], converters


def row_lock(model: type[Model], pk: int) -> Model | None:
    """`model.objects.select_for_update().filter(pk=pk).first()`: the row,
    locked until the transaction ends (where the database has row locks)."""
    sql, names, converters = _lock_plan(
        model, connection.vendor, connection.features.has_select_for_update
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        found = cursor.fetchone()
    if found is None:
        return None
    values = list(found)
    for index, column, functions in converters:
        value = values[index]
        for function in functions:
            value = function(value, column, connection)
        values[index] = value
    return model.from_db(connection.alias, names, values)


@lru_cache(maxsize=128)
def _update_plan(model: type[Model], attnames: tuple[str, ...], vendor: str):
    meta = model._meta
    fields = [next(f for f in meta.concrete_fields if f.attname == name) for name in attnames]
    table = _quote(meta.db_table)
    sets = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    return f"UPDATE {table} SET {sets} WHERE {_quote(meta.pk.column)} = %s", fields  # noqa: S608


def row_update(instance: Model, attnames: tuple[str, ...]) -> None:
    """`type(instance).objects.filter(pk=instance.pk).update(...)` of these
    attributes' current values (no `auto_now`: set such fields yourself)."""
    sql, fields = _update_plan(type(instance), attnames, connection.vendor)
    values = [
        field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])


@lru_cache(maxsize=64)
def _insert_plan(model: type[Model], on_conflict: str, vendor: str):
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    names = ", ".join(_quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    conflict = f" ON CONFLICT ({on_conflict}) DO NOTHING" if on_conflict else ""
    sql = (
        f"INSERT INTO {_quote(model._meta.db_table)} ({names}) VALUES ({marks}){conflict} "  # noqa: S608
        f"RETURNING {_quote(model._meta.pk.column)}"
    )
    return sql, fields


def row_insert(instance: Model, *, on_conflict: str = "") -> bool:
    """INSERT `instance` (fields' `pre_save` applied: `auto_now_add`, defaults
    already set by the constructor); sets its pk. With `on_conflict` (the
    unique columns, comma-separated) a conflicting row inserts nothing and
    returns False instead of raising, so the caller's transaction stays
    usable without a savepoint."""
    sql, fields = _insert_plan(type(instance), on_conflict, connection.vendor)
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    instance.pk = inserted[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True
