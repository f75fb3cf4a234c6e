"""Run a compiled query as ONE statement on the one server that holds its databases.

All databases of a query must share a server (same driver, host, port, user;
or SQLite files, attached to one connection). The statement runs on a
read-only session with a time bound; rows come back as plain tuples.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from .backends import READERS, Backend, backend_for, scrub, server_error
from .compile import Compiled
from .config import Config
from .decode import postgres_decoding
from .diagnose import explain_join_error
from .errors import ExecutionError, QueryError, QueryInterrupted, RowCapError

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_ROWS = 2_000_000
_FETCH_CHUNK = 50_000

log = logging.getLogger("explorer")


@dataclass
class Execution:
    """What came back from the server, before shaping."""

    labels: list[str]
    rows: list[tuple] | None  # None when the rows came as Arrow (see ``arrow``)
    sql: str
    params: dict[str, Any]
    dialect: str
    databases: list[str]
    elapsed: float
    statements: int = 1
    extra: dict = field(default_factory=dict)
    arrow: Any = None  # a pyarrow.Table from the fast path
    reader: str = "driver"
    # Column-wise values, one sequence per label, each value exactly what the server's own
    # DBAPI driver returns for it (the Arrow reader converts to these on access); None: ``rows``.
    columns: Any = None
    decoding: Any = None  # the reading session's context for values read back later (decode.Decoding)

    @property
    def row_count(self) -> int:
        if self.arrow is not None:
            return self.arrow.num_rows
        if self.columns is not None:
            return len(self.columns[0]) if len(self.columns) else 0
        return len(self.rows)


def databases_of(config: Config, compiled: Compiled) -> list[str]:
    """The logical databases the statement touches, root first."""
    models = [n.model for n in compiled.layout]
    models += [inc.association.through for inc in compiled.query.walk() if inc.association.through]
    return list(dict.fromkeys(config.models[m].database for m in models))


def check_one_server(config: Config, databases: list[str]) -> None:
    """Raise when no single server holds every database of the query."""
    servers: dict[tuple, list[str]] = {}
    for name in databases:
        servers.setdefault(config.server_key(name), []).append(name)
    if len(servers) <= 1:
        return
    parts = []
    for names in servers.values():
        db = config.databases[names[0]]
        parts.append(f"{', '.join(names)} on {config.backend(names[0]).describe_server(db.url)}")
    raise ExecutionError(
        "One statement cannot join these databases because they sit on different servers: "
        + "; ".join(parts) + ". Put them on one server (same driver, host, port and user), "
        "or query each group separately."
    )


def bind_values(compiled: Compiled, params: dict[str, Any] | None, strict: bool = True) -> dict[str, Any]:
    """The values for the query's :name parameters; a missing one is a QueryError."""
    params = params or {}
    needed = compiled.query.param_names
    missing = [name for name in needed if name not in params]
    if missing and strict:
        raise QueryError(f"The query uses {', '.join(':' + m for m in missing)} but no value was given. "
                         f"Pass params={{{', '.join(repr(m) + ': ...' for m in missing)}}} "
                         "(in a notebook, define the variable).")
    return {name: params[name] for name in needed if name in params}


def schema_map(config: Config, databases: list[str]) -> dict[str, str]:
    return {name: config.databases[name].schema for name in databases}


def render(config: Config, compiled: Compiled, values: dict[str, Any], dialect=None, literal: bool = False):
    """(sql text, params, compiled) for a dialect; by default the dialect of the server that runs it.

    With every value given, expanding parameters (IN lists) are rendered as the
    server receives them; ``literal=True`` inlines the values for reading.
    """
    sql, params, text, _ = _render(config, compiled, values, dialect, literal)
    return sql, params, text


def _render(config: Config, compiled: Compiled, values: dict[str, Any], dialect=None, literal: bool = False):
    """render() plus the values exactly as the driver takes them (bind processors applied)."""
    databases = databases_of(config, compiled)
    dialect = dialect or config.databases[databases[0]].url.get_dialect()()
    if literal:  # no driver sees this text: keep '%' single for format/pyformat dialects
        dialect = type(dialect)(paramstyle="named")
    statement = compiled.statement.params(values) if values else compiled.statement
    try:
        text = statement.compile(dialect=dialect, schema_translate_map=schema_map(config, databases),
                                 render_schema_translate=True,
                                 compile_kwargs={"literal_binds": True} if literal else {})
    except (sa.exc.CompileError, NotImplementedError) as exc:
        raise ExecutionError(f"Could not render the statement for {dialect.name}: {exc}") from None
    if literal:
        return str(text), {}, text, ()
    if not set(values) >= set(compiled.query.param_names):  # prepare() before every value is known
        return str(text), dict(text.params), text, ()
    state = text.construct_expanded_state()
    shown = {name: state.parameters[name] for name in (state.positiontup or state.parameters)}
    processors = {**text._bind_processors, **state.processors}  # the types' own conversions
    processed = {name: (processors[name](value) if name in processors else value)
                 for name, value in state.parameters.items()}
    driver = tuple(processed[name] for name in state.positiontup) if text.positional else processed
    return state.statement, shown, text, driver


class Statement:
    """A compiled query with its parameter values: the SQL, ready to read, render or run."""

    def __init__(self, config: Config, compiled: Compiled, values: dict[str, Any]):
        self.config = config
        self.compiled = compiled
        self.values = values

    @property
    def query(self):
        return self.compiled.query

    @cached_property
    def _rendered(self):
        return render(self.config, self.compiled, self.values)

    @property
    def sql(self) -> str:
        """The statement as the server receives it, with placeholders."""
        return self._rendered[0]

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._rendered[1])

    @property
    def dialect(self) -> str:
        return self._rendered[2].dialect.name

    @property
    def databases(self) -> list[str]:
        return databases_of(self.config, self.compiled)

    def to_sql(self, dialect: str | None = None, literal: bool = False) -> str:
        """The statement formatted for reading, for another dialect or with values inlined.

        >>> print(result.to_sql(dialect="postgresql", literal=True))  # doctest: +SKIP
        """
        if dialect is None and not literal:
            return format_sql(self.sql)
        target = load_dialect(dialect or self.dialect)
        return format_sql(render(self.config, self.compiled, self.values, target, literal)[0])

    def export(self, path, dialect: str | None = None, literal: bool = False):
        """Write the statement as a commented .sql snippet file."""
        from .export import export_statement

        return export_statement(self, path, dialect=dialect, literal=literal)

    def __repr__(self) -> str:
        return f"<Statement {self.query.model} on {', '.join(self.databases)}>\n{self.to_sql()}"


def load_dialect(name: str):
    try:
        return sa.dialects.registry.load(name)()
    except sa.exc.NoSuchModuleError:
        raise QueryError(f"Unknown SQL dialect {name!r}. Try mysql, mariadb, sqlite or postgresql.") from None


def format_sql(text: str) -> str:
    """Reindent a statement for reading (keywords upper-case, one join per line)."""
    import sqlparse

    return sqlparse.format(text, reindent=True, keyword_case="upper", indent_width=2).strip()


def execute(config: Config, compiled: Compiled, params: dict[str, Any] | None = None,
            timeout: float | None = None, max_rows: int | None = None, reader: str | None = None) -> Execution:
    """Run the compiled query as exactly one statement and fetch its rows.

    The session is read-only at the server; the statement stops after ``timeout``
    seconds (default 60) and after ``max_rows`` joined rows; Ctrl-C cancels it on
    the server and leaves the session usable.
    """
    values = bind_values(compiled, params)
    databases = databases_of(config, compiled)
    check_one_server(config, databases)
    config.check_columns([n.model for n in compiled.layout])
    backend = config.backend(databases[0])
    engine = config.engine(databases[0])
    where = config.server_databases(databases[0])[0]
    sql, shown_params, _, driver_params = _render(config, compiled, values, engine.dialect)
    timeout = timeout or compiled.query.timeout or config.timeout or DEFAULT_TIMEOUT
    max_rows = max_rows or compiled.query.max_rows or config.max_rows or DEFAULT_MAX_ROWS
    if choose_reader(backend, reader or config.reader, shown_params,
                     unfit=lambda: _arrow_unfit(config, compiled), url=where.url) == "arrow":
        from .fast import execute_arrow

        return execute_arrow(config, compiled, values, databases, timeout, max_rows)
    log.debug("running on %s (timeout %g s, max_rows %d): %s %r", where.where, timeout, max_rows,
              sql, shown_params)
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            run = _Run(backend, connection, sql, driver_params, timeout, max_rows)
            run.json_types = _json_types(config, compiled)
            rows, labels = _interruptible(run)
            labels = labels or list(compiled.statement.selected_columns.keys())
    except sa.exc.DBAPIError as exc:
        raise statement_error(config, compiled, where, exc, "run the query on", sql, timeout) from None
    elapsed = time.perf_counter() - started
    log.debug("%d rows in %.3f s", len(rows), elapsed)
    return Execution(labels, rows, sql, shown_params, engine.dialect.name, databases, elapsed,
                     extra={"sent": run.sent, "setup": run.setup}, decoding=run.decoding)


def statement_error(config: Config, compiled: Compiled | None, where, exc: BaseException, doing: str,
                    sql: str, timeout: float) -> ExecutionError:
    """The server's refusal of the statement as one sentence; a key type or collation mismatch
    names the association that joins the two columns (see diagnose)."""
    kind = backend_for(where.url).error_kind(getattr(exc, "orig", None) or exc)
    detail = explain_join_error(config, compiled, kind) if compiled is not None else None
    return server_error(where, exc, doing, config.secrets, sql=sql, timeout=timeout, detail=detail)


class _Run:
    """One statement on one checked-out connection: bounded, streamed, cancellable."""

    def __init__(self, backend: Backend, connection: sa.Connection, sql: str, params, timeout: float,
                 max_rows: int):
        self.backend, self.connection = backend, connection
        self.sql, self.params, self.timeout, self.max_rows = sql, params, timeout, max_rows
        self.setup, self.sent = backend.bounded(connection, sql, timeout)
        self.decoding = None
        self.json_types: list = []  # the JSON strategy's column types, whose loaders are made here

    @property
    def dbapi(self):
        return self.connection.connection.dbapi_connection

    def __call__(self) -> tuple[list[tuple], list[str]]:
        dbapi, error = self.dbapi, self.connection.dialect.loaded_dbapi.Error
        cursor = self.backend.cursor(dbapi)
        stop_timer = self.backend.start_timeout(dbapi, self.timeout)
        try:
            self._prepare(cursor)
            rows = _fetch(self.backend.chunks(cursor, self.sent, self.params, _FETCH_CHUNK), self.max_rows)
            if hasattr(dbapi, "adapters"):  # psycopg reads text by the session's settings (see decode)
                self.decoding = postgres_decoding(dbapi, self.json_types)
            return rows, [d[0] for d in cursor.description or ()]  # no description: empty stream
        except RowCapError:
            _quietly(stop_timer)
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
            _quietly(stop_timer)
            _quietly(cursor.close)

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
    available = backend.supports_arrow and _has_connectorx()
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
    return [config.column_type(node.model, column) for node in compiled.layout[1:] for column in node.columns]


def _arrow_unfit(config: Config, compiled: Compiled) -> list[str]:
    from .fast import arrow_unfit  # fast builds on this module

    return arrow_unfit(config, compiled)


def _has_connectorx() -> bool:
    import importlib.util

    return importlib.util.find_spec("connectorx") is not None


def _interruptible(run: _Run):
    """Run in a worker thread so that Ctrl-C in the main thread can cancel it on the server.

    KeyboardInterrupt only reaches the main thread, and a driver blocked in a socket
    read never sees it; the main thread waits here instead, cancels the statement
    (KILL QUERY, pg cancel, sqlite3 interrupt), waits for the session to be idle
    again, and re-raises. Other threads run the statement directly.
    """
    if threading.current_thread() is not threading.main_thread():
        return run()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="crossquery-statement", daemon=True).start()
    try:
        while not done.wait(0.05):
            pass
    except KeyboardInterrupt:
        if done.is_set():
            raise
        run.cancel()
        if _wait_idle(run, done):
            raise QueryInterrupted("the statement was cancelled on the server, and nothing of it "
                                   "is left running there.") from None
        raise QueryInterrupted("the server did not stop the statement within 10 s, so its session "
                               "was closed; check the server's process list.") from None
    if "error" in outcome:
        raise outcome.pop("error")
    return outcome["value"]


def _wait_idle(run: _Run, done: threading.Event, seconds: float = 10.0) -> bool:
    """Wait for the cancelled statement to end; drop the session if it does not (or on a 2nd Ctrl-C).

    True when the statement ended within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    try:
        while not done.wait(0.05):
            if time.monotonic() > deadline:
                run.abandon()
                return False
    except KeyboardInterrupt:
        run.abandon()
        raise
    return True


def _quietly(action) -> None:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the session may already be closed
        log.debug("cleanup after the statement failed: %s", exc)


def _fetch(chunks, max_rows: int) -> list[tuple]:
    rows: list[tuple] = []
    for chunk in chunks:
        rows.extend(chunk)
        if len(rows) > max_rows:
            raise row_cap_error(max_rows)
    return rows


def row_cap_error(max_rows: int) -> RowCapError:
    return RowCapError(
        f"The query returned more than max_rows={max_rows:,} joined rows, so it was stopped "
        "to protect memory; add a limit or a filter, or raise max_rows (max_rows: in the "
        "query or the config, run(..., max_rows=N), or crossquery run --max-rows N)."
    )
