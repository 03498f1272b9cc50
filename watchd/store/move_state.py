"""Moving a single machine's state into an empty shared database (``watchd db migrate-to``).

Both databases are brought to the newest schema, then every table is copied
in dependency order (batches before jobs, jobs before parts) in one
transaction on the target, through the models' column types (so timestamps
and odd file names are converted for the target, not copied as raw bytes).
The target's id sequences are moved past the copied ids, and the row counts
are compared before the transaction commits: a failed or partial copy leaves
the target as empty as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Integer, Table, func, inspect, select

from watchd.store.database import Database
from watchd.store.migrate import upgrade
from watchd.store.models import Base

COPY_CHUNK_ROWS = 1000  # rows read and inserted at a time (memory stays small)


class MoveError(Exception):
    """The state cannot be moved; the message says why, and nothing was written."""


@dataclass(frozen=True)
class Moved:
    """What was copied: rows per table, in the order they were copied, and the revision."""

    rows: dict[str, int]
    revision: str


def move_state(source: Database, target: Database) -> Moved:
    """Copy every row of ``source`` into the empty ``target``; return what was copied.

    Raises MoveError for a target that holds rows or a count that differs
    afterwards (nothing committed then), SchemaError / DatabaseProblem from
    the upgrades.
    """
    refuse_non_empty(target)
    upgrade(source.engine)
    revision = upgrade(target.engine)
    copied: dict[str, int] = {}
    with source.reading() as reading, target.engine.begin() as writing:
        from_conn = reading.connection()
        for table in Base.metadata.sorted_tables:
            copied[table.name] = _copy_table(table, from_conn, writing)
        _reset_sequences(writing)
        for table in Base.metadata.sorted_tables:
            there = writing.scalar(select(func.count()).select_from(table)) or 0
            if there != copied[table.name]:
                raise MoveError(
                    f"table {table.name}: {copied[table.name]} rows copied but {there} found "
                    "in the target; nothing was committed"
                )
    return Moved(copied, revision)


def refuse_non_empty(target: Database) -> None:
    """Raise MoveError if any of watchd's tables in ``target`` holds a row."""
    with target.engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name in present and connection.scalar(select(table).limit(1)) is not None:
                where = target.engine.url.render_as_string(hide_password=True)
                raise MoveError(
                    f"the target database {where} is not empty (table {table.name} has rows); "
                    "give an empty database, e.g. one made with createdb"
                )


def _copy_table(table: Table, source: Connection, target: Connection) -> int:
    result = source.execute(select(table).order_by(*table.primary_key.columns))
    count = 0
    while chunk := result.mappings().fetchmany(COPY_CHUNK_ROWS):
        target.execute(table.insert(), [dict(row) for row in chunk])
        count += len(chunk)
    return count


def _reset_sequences(target: Connection) -> None:
    """Move each id sequence past the highest copied id (PostgreSQL; SQLite needs none)."""
    if target.dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        key = keys[0]
        # setval(NULL, ...) is NULL: a key without a sequence (file_hashes.job_id) is skipped.
        sequence = func.pg_get_serial_sequence(table.name, key.name)
        highest = func.coalesce(select(func.max(key)).scalar_subquery(), 0)
        target.execute(select(func.setval(sequence, highest + 1, False)))
