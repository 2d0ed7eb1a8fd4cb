"""Server-side prepared statements for a service's hottest queries on PostgreSQL.

`execute_prepared(conn, name, statement, params)` runs a fixed Core statement as a
prepared statement of the connection (PREPAREd on first use there, kept while the
connection lives), so PostgreSQL skips parsing and planning each time: for registration's
joined read that was ~0.1 ms of the server's CPU per query, three quarters of it.

It runs on the driver's cursor rather than through `Connection.exec_driver_sql`: a textual
statement has no compiled form for SQLAlchemy to cache its result's description on, so
SQLAlchemy matched the 43 columns of that read against the cursor's description on every
execution — ~120 µs of the service's CPU per read, more than the driver's own round trip
(measured with `bench/gateway`'s database and `time.process_time`, 5,000 reads: 223 µs
through `exec_driver_sql`, 105 µs on the cursor). What SQLAlchemy would still do around a
cursor is done here too: errors are raised as SQLAlchemy's (an `IntegrityError` stays one)
and a connection found dead is invalidated, so that the pool replaces it.

Only on autocommit connections (the readers, `WorkerSession.autocommit`): a failure inside a
transaction would abort it, and the retry below could not run. Rows come back as the driver
reads them (no result processors: fine for the types used here), as named tuples whose
attributes are the statement's column names, as Core names them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound

# SQLSTATEs after which a prepared statement is made again: it is gone (someone ran
# DISCARD ALL), or the tables changed under it (a migration) so its plan no longer fits.
_PREPARED_GONE = {"26000", "0A000"}


class PreparedResult:
    """The rows a prepared statement answered, with the Core result's usual accessors."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0]

    def all(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Any:
        return iter(self._rows)


class _Statement:
    """A statement prepared on one connection: its EXECUTE, its binds in order (each with its
    type's processor), and the type of its rows once the first answer told their columns."""

    __slots__ = ("execute", "binds", "row_type")

    def __init__(self, name: str, binds: list[tuple[str, Any]]) -> None:
        self.execute = f"EXECUTE {name}({', '.join(['%s'] * len(binds))})"
        self.binds = binds
        self.row_type: Any = None


def execute_prepared(conn: Connection, name: str, statement: Any,
                     params: dict[str, Any]) -> PreparedResult:
    prepared = conn.connection.info.setdefault("cxc_prepared", {})
    known = prepared.get(name)
    if known is None:
        known = prepared[name] = _prepare(conn, name, statement)
    try:
        return _run(conn, known, params)
    except DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) not in _PREPARED_GONE:
            raise
    del prepared[name]
    try:
        _run_sql(conn, f"DEALLOCATE {name}")
    except DBAPIError:
        pass  # already gone
    known = prepared[name] = _prepare(conn, name, statement)
    return _run(conn, known, params)


def _prepare(conn: Connection, name: str, statement: Any) -> _Statement:
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect)
    sql = compiled.string
    binds = []
    for position, (key, bind) in enumerate(compiled.binds.items(), start=1):
        sql = sql.replace(f"%({key})s", f"${position}")
        binds.append((key, bind.type.dialect_impl(dialect).bind_processor(dialect)))
    _run_sql(conn, f"PREPARE {name} AS {sql.replace('%%', '%')}")
    return _Statement(name, binds)


def _run(conn: Connection, statement: _Statement, params: dict[str, Any]) -> PreparedResult:
    # Each value as the bind's type would send it (JSON encoded, a UTC check, ...).
    values = tuple(process(params[key]) if process else params[key]
                   for key, process in statement.binds)
    with _dbapi_errors(conn, statement.execute, values) as cursor:
        cursor.execute(statement.execute, values)
        if statement.row_type is None:
            description = cursor.description
            if description is None:
                return PreparedResult([])
            statement.row_type = _row_type(tuple(column[0] for column in description))
        make = statement.row_type._make
        return PreparedResult([make(row) for row in cursor.fetchall()])


def _run_sql(conn: Connection, sql: str) -> None:
    with _dbapi_errors(conn, sql, ()) as cursor:
        cursor.execute(sql)


@contextmanager
def _dbapi_errors(conn: Connection, sql: str, values: tuple[Any, ...]) -> Iterator[Any]:
    """A cursor of the connection; the driver's errors raised as SQLAlchemy's, and the
    connection invalidated when the error says it is dead."""
    pooled = conn.connection
    dbapi = conn.dialect.loaded_dbapi
    cursor = pooled.dbapi_connection.cursor()
    try:
        yield cursor
    except dbapi.Error as exc:
        dead = conn.dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
        if dead:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, values, exc, dbapi.Error, connection_invalidated=dead,
                                  dialect=conn.dialect) from exc
    finally:
        with suppress(dbapi.Error):  # a connection that died took its cursor with it
            cursor.close()


@lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> Any:
    return namedtuple("PreparedRow", names, rename=True)
