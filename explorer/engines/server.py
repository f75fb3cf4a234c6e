"""The server engine: the ONE statement on the one server that holds every database of the query.

All databases of a query must share a server (same driver, host, port, user;
or SQLite files, attached to one connection). The statement runs on a
read-only session with a time bound; rows come back as plain tuples, or as
Arrow columns through connectorx (``arrow``) where that is exact.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa

from ..compile import Compiled
from ..config import Config
from ..decode import postgres_decoding
from ..diagnose import statement_error
from ..errors import ExecutionError, QueryError, RowCapError
from ..statement import Statement, Target, schema_map
from .arrow import arrow_unfit, execute_arrow, has_connectorx
from .base import READERS, Backend, scrub
from .run import Engine, Execution, Features, fetch_capped, interruptible, quietly

_FETCH_CHUNK = 10_000  # rows per fetch: also how often the progress display sees the count move

log = logging.getLogger("explorer")


class ServerEngine(Engine):
    """Runs the statement where the databases live (MySQL/MariaDB, PostgreSQL, SQLite files)."""

    name = "server"
    def __init__(self, config: Config, databases: list[str]):
        super().__init__(config, databases)
        self.backend: Backend = config.backend(databases[0])
        self.where = config.server_databases(databases[0])[0]

    @property
    def features(self) -> Features:
        """What the server kind of these databases does (see its module: mysql, postgresql, sqlite)."""
        return self.backend.features

    def target(self) -> Target:
        return Target("server", self.config.engine(self.databases[0]).dialect,
                      schema_map(self.config, self.databases), runner=self)

    def run(self, statement: Statement, timeout: float, max_rows: int, reader: str | None) -> Execution:
        return run_on_server(self, statement, timeout, max_rows, reader)

    def explain(self, statement: Statement) -> str:
        """The server's EXPLAIN of the statement, run with its bound values on a read-only session."""
        config, compiled = self.config, statement.compiled
        engine = config.engine(self.databases[0])
        rendered = statement.rendered
        sql = self.backend.explain_prefix + " " + rendered.sql
        try:
            with engine.connect() as connection:
                cursor = connection.connection.dbapi_connection.cursor()
                try:
                    cursor.execute(sql, rendered.driver)
                    names = [d[0] for d in cursor.description or ()]
                    rows = cursor.fetchall()
                finally:
                    quietly(cursor.close)
        except sa.exc.DBAPIError as exc:
            raise statement_error(config, compiled, self.where, exc, "explain the query on", sql, 0) from None
        except self._driver_error(engine) as exc:
            raise statement_error(config, compiled, self.where, exc, "explain the query on", sql, 0) from None
        return self.backend.plan_text(names, rows)

    @staticmethod
    def _driver_error(engine) -> type[BaseException]:
        return engine.dialect.loaded_dbapi.Error


def run_on_server(engine: ServerEngine, statement: Statement, timeout: float, max_rows: int,
                  reader: str | None) -> Execution:
    """Run the statement as exactly one statement on the server and fetch its rows.

    The session is read-only at the server; the statement stops after ``timeout``
    seconds and after ``max_rows`` joined rows; Ctrl-C cancels it on the server and
    leaves the session usable.
    """
    config, compiled, values = engine.config, statement.compiled, statement.values
    databases, backend, where = engine.databases, engine.backend, engine.where
    sa_engine = config.engine(databases[0])
    rendered = statement.rendered
    sql, shown_params, driver_params = rendered.sql, rendered.shown, rendered.driver
    if choose_reader(backend, reader or config.reader, shown_params,
                     unfit=lambda: arrow_unfit(config, compiled), url=where.url) == "arrow":
        return execute_arrow(config, compiled, values, databases, timeout, max_rows)
    log.debug("running on %s (timeout %g s, max_rows %d): %s %r", where.where, timeout, max_rows,
              sql, shown_params)
    started = time.perf_counter()
    try:
        with sa_engine.connect() as connection:
            run = _Run(backend, connection, sql, driver_params, timeout, max_rows)
            run.json_types = _json_types(config, compiled)
            rows, labels = interruptible(run)
            labels = labels or list(compiled.statement.selected_columns.keys())
    except sa.exc.DBAPIError as exc:
        raise statement_error(config, compiled, where, exc, "run the query on", sql, timeout) from None
    elapsed = time.perf_counter() - started
    log.debug("%d rows in %.3f s", len(rows), elapsed)
    return Execution(labels, rows, sql, shown_params, sa_engine.dialect.name, databases, elapsed,
                     extra={"sent": run.sent, "setup": run.setup}, decoding=run.decoding,
                     deferred=run.deferred)


class _Run:
    """One statement on one checked-out connection: bounded, streamed, cancellable."""

    def __init__(self, backend: Backend, connection: sa.Connection, sql: str, params, timeout: float,
                 max_rows: int):
        self.backend, self.connection = backend, connection
        self.sql, self.params, self.timeout, self.max_rows = sql, params, timeout, max_rows
        self.setup, self.sent = backend.bounded(connection, sql, timeout)
        self.decoding = None
        self.deferred: dict = {}  # column index -> the driver's converter, applied after the read
        self.json_types: list = []  # the JSON strategy's column types, whose loaders are made here
        self.received = 0  # rows fetched so far, read by the progress display (explorer.progress)

    @property
    def dbapi(self):
        return self.connection.connection.dbapi_connection

    def __call__(self) -> tuple[list[tuple], list[str]]:
        dbapi, error = self.dbapi, self.connection.dialect.loaded_dbapi.Error
        cursor = self.backend.cursor(dbapi)
        stop_timer = self.backend.start_timeout(dbapi, self.timeout)
        try:
            self._prepare(cursor)
            rows = fetch_capped(self.backend.chunks(cursor, self.sent, self.params, _FETCH_CHUNK), self.max_rows,
                                self)
            self.deferred = self.backend.deferred(cursor)
            if hasattr(dbapi, "adapters"):  # psycopg reads text by the session's settings (see decode)
                self.decoding = postgres_decoding(dbapi, self.json_types)
            return rows, [d[0] for d in cursor.description or ()]  # no description: empty stream
        except RowCapError:
            quietly(stop_timer)
            self.backend.forget_rows(cursor)
            self.connection.invalidate()  # closing the session is the cheapest way to stop the server
            raise
        except error as exc:
            if self.connection.dialect.is_disconnect(exc, dbapi, cursor):
                self.connection.invalidate()  # never hand a dead session back to the pool
            raise sa.exc.DBAPIError.instance(self.sent, self.params, exc, error) from exc
        except (ValueError, NotImplementedError, OverflowError) as exc:  # a value the driver cannot read
            self.backend.forget_rows(cursor)
            self.connection.invalidate()
            raise ExecutionError(f"The driver could not read a value of the result ({type(exc).__name__}: "
                                 f"{exc}); the session's settings (DateStyle, IntervalStyle, ...) or a value "
                                 "outside Python's range (a year past 9999, infinity) can cause this.") from None
        finally:
            quietly(stop_timer)
            quietly(cursor.close)

    def _prepare(self, cursor) -> None:
        try:
            for statement in self.setup:
                cursor.execute(statement)
        except BaseException:
            self.connection.invalidate()  # a session whose settings are unknown is never reused
            raise

    def abandon(self) -> None:
        """Never reuse this session: its statement may still be running."""
        self.connection.invalidate()

    def cancel(self) -> None:
        """Stop the running statement on the server (called from the main thread)."""
        try:
            self.backend.cancel(self.connection.engine, self.dbapi)
        except Exception as exc:  # noqa: BLE001 - cancelling is best effort; the session is dropped below
            log.warning("could not cancel the statement: %s", scrub(str(exc), []))


def choose_reader(backend: Backend, wanted: str | None, values: dict[str, Any], unfit=list,
                  url=None) -> str:
    """``driver`` (PyMySQL, psycopg, sqlite3) or ``arrow`` (connectorx) for this statement.

    ``auto`` takes Arrow only where it keeps every promise of the driver path: bound
    parameters (connectorx has no parameter API, so a statement with values goes through
    the driver unless ``reader: arrow`` asks to inline them as SQL literals) and exact
    values (``unfit()`` lists the columns connectorx cannot carry exactly; an explicit
    ``reader: arrow`` refuses those in ``execute_arrow``).
    """
    wanted = wanted or "auto"
    if wanted not in READERS:
        raise QueryError(f"reader: expected one of {', '.join(READERS)}, got {wanted!r}.")
    available = backend.supports_arrow and has_connectorx()
    if wanted == "arrow" and not available:
        raise ExecutionError("reader: arrow needs connectorx (pip install 'crossquery-explorer[fast]') "
                             f"and a MySQL/MariaDB server; this is {backend.name}.")
    if available and url is not None and backend.arrow_url(url) is None:
        if wanted == "arrow":
            raise ExecutionError(f"reader: arrow cannot apply the options of the URL ({', '.join(url.query)}) "
                                 "to connectorx's session, so values could read differently; use "
                                 "reader: driver (or auto).")
        available = False
    if wanted == "arrow" or (wanted == "auto" and available and not values and not unfit()):
        return "arrow"
    return "driver"


def _json_types(config: Config, compiled: Compiled) -> list:
    if compiled.strategy != "json":
        return []
    return [compiled.column_type(config, node, column) for node in compiled.layout[1:] for column in node.columns]
