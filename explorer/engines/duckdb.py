"""The DuckDB engine: the ONE statement in an in-process DuckDB, each database attached read-only.

DuckDB joins databases that sit on different servers: every logical database is
attached under its own catalog (``cq_<name>``) with DuckDB's scanners (MySQL/MariaDB,
PostgreSQL, SQLite files), loaded by file path from the ``duckdb-extension-*`` wheels
(nothing is installed from the network or written to the home directory). Tables are
named ``catalog.schema.table``; the statement is rendered by duckdb_engine's dialect, and
the JSON strategy nests with DuckDB's own structs and lists (``list({...} ORDER BY ...)``).

Safety: every database is attached ``READ_ONLY`` (the remote sessions are read-only too);
credentials go through in-memory secrets (a password in an ATTACH string would show in
``duckdb_databases()``); after attaching, the session sets ``enable_external_access=false``
and ``lock_configuration=true``, so no file can be read or written and MariaDB/PostgreSQL
cannot be attached again. DuckDB's SQLite scanner ignores those settings (it would attach a
file read-write), so the session runs nothing but one SELECT (``Session.execute``). A timeout
or Ctrl-C interrupts DuckDB and cancels the remote scans on their servers (KILL QUERY on
MariaDB, ``pg_cancel_backend`` by ``application_name`` on PostgreSQL, whose scans also carry
``statement_timeout``); that session is then dropped and the next run opens a new one.

Exact values: each column comes back as its own database's driver gives it (PyMySQL,
psycopg, sqlite3 read by the declared type), converted from DuckDB's value where that is
exact (MariaDB ``TIME`` read as text and parsed by PyMySQL's converter, PostgreSQL arrays
as text parsed by psycopg's loader, intervals from their months/days/microseconds, ...).
PostgreSQL values travel as text, so a ``numeric`` NaN is an error instead of DuckDB's 0.
A column DuckDB cannot carry exactly (``DECIMAL`` wider than 38 digits, ``numeric``
without a precision, ``timetz``, SQLite ``DATE``/``DATETIME``/``BLOB``, ...) is refused
before the statement runs, naming it; a value it would change (a zero date in a NOT NULL
MariaDB column, which the scanner reads as NULL) is an error naming the column.

Semantics: comparisons, ``LIKE`` and ordering are DuckDB's, everywhere: binary,
case-sensitive, by code point. MariaDB compares by its collation (usually case- and
accent-insensitive), so no filter, order or aggregate is pushed down to MariaDB: it
receives column lists only, and DuckDB filters. PostgreSQL receives the filters DuckDB
pushes down, which it sends with ``COLLATE "C"``, so they mean the same there.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import json
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles

from ..compile_json import json_array_agg, json_exact, json_key, json_nested, json_object, json_text
from ..decode import Decoding, exact_reader
from ..errors import ExecutionError, QueryError, RowCapError
from ..kinds import CHUNK, kind_of, postgres_type_name
from ..statement import Statement, Target
from .base import READERS, Database, Features, scrub
from .run import (Engine, Execution, interruptible, offending_columns, quietly, row_cap_error,
                  unfit_columns)

DUCKDB_VERSION = "1.5.5"  # the only version the PyPI extension wheels load
SCANNERS = {"mysql": ("mysql_scanner", "mysql"), "postgresql": ("postgres_scanner", "postgres"),
            "sqlite": ("sqlite_scanner", "sqlite")}
_BATCH = 50_000

# Scanner settings, before anything is attached: values as the drivers read them, and
# MariaDB never deciding a comparison (its collation would make it case-insensitive).
_SETTINGS = (
    "SET mysql_tinyint1_as_boolean = false",   # PyMySQL gives TINYINT(1) as int
    "SET mysql_bit1_as_boolean = false",       # ... and BIT(1) as bytes
    "SET mysql_time_as_time = false",          # TIME as text: -838:59:59 .. 838:59:59
    "SET mysql_experimental_filter_pushdown = false",
    "SET mysql_order_pushdown_enabled = false",
    "SET mysql_aggregate_pushdown_enabled = false",
    "SET pg_array_as_varchar = true",          # arrays as PostgreSQL's text, read by psycopg
    "SET pg_use_text_protocol = true",         # binary numeric NaN would read as 0: as text it is an error
)


class DuckDBEngine(Engine):
    """Runs the statement in an in-process DuckDB with every database attached read-only."""

    name = "duckdb"
    features = Features(
        qualify="catalog.schema.table: each database attached as catalog cq_<name> (MySQL/MariaDB "
                "database, PostgreSQL schema, SQLite main)",
        read_only="ATTACH ... (READ_ONLY) with read-only remote sessions, then "
                  "enable_external_access=false and lock_configuration=true; the session runs one SELECT only",
        timeout="a watchdog that interrupts DuckDB and cancels the remote scans (KILL QUERY on "
                "MariaDB, pg_cancel_backend on PostgreSQL); statement_timeout on PostgreSQL scans",
        cancel="DuckDB interrupt() plus KILL QUERY (MariaDB) and pg_cancel_backend by "
               "application_name (PostgreSQL); the session is then replaced",
        nesting="list({'key': value, ...} ORDER BY ...): native structs and lists",
        paramstyle="numeric_dollar ($1, $2, ...), duckdb_engine's own",
        readers=("driver",),
    )

    def __init__(self, config, databases: list[str]):
        super().__init__(config, databases)
        for name in databases:
            kind = config.backend(name).name
            if kind not in SCANNERS:
                raise ExecutionError(f"engine: duckdb cannot attach {config.databases[name].where}: "
                                     f"DuckDB has no scanner for {kind}.")

    def target(self) -> Target:
        return Target("duckdb", duckdb_dialect(), {name: self._schema(name) for name in self.databases},
                      runner=self)

    def _schema(self, name: str) -> str:
        schema = "main" if self.config.backend(name).name == "sqlite" else self.config.databases[name].schema
        return f"{catalog_name(name)}.{schema}"

    def run(self, statement: Statement, timeout: float, max_rows: int, reader: str | None) -> Execution:
        check_reader(reader or self.config.reader)
        check_session_options(self.config, self.databases)
        plan = ReadPlan.of(self.config, statement.compiled)  # refuses what DuckDB cannot carry
        refuse_zero_dates(self.config, plan.maybe_zero, timeout)
        rendered = statement.rendered
        started = time.perf_counter()
        run = _Run(session_pool(self.config, self.databases), rendered.sql, list(rendered.driver), timeout,
                   max_rows, plan.suspects)
        try:
            labels, columns = interruptible(run)  # opening a session is interruptible too
        finally:
            run.release()
        elapsed = time.perf_counter() - started
        columns = plan.convert(labels, columns, statement.compiled.strategy)
        return Execution(labels, None, rendered.sql, dict(rendered.shown), "duckdb", list(self.databases),
                         elapsed, engine="duckdb", columns=columns, decoding=Decoding(plan.zone))

    def explain(self, statement: Statement) -> str:
        """DuckDB's EXPLAIN of the statement (its remote scans included), secrets masked."""
        rendered = statement.rendered
        pool = session_pool(self.config, self.databases)
        session = pool.acquire()
        healthy = False
        try:
            rows = session.execute(rendered.sql, list(rendered.driver), explain=True).fetchall()
            healthy = True
        except _duckdb().Error as exc:
            raise session.error(exc, "explain the query") from None
        finally:
            pool.release(session, healthy)
        return scrub("\n".join(str(row[-1]) for row in rows), self.config.secrets)


def refuse_zero_dates(config, columns: dict[tuple[str, str], list[tuple[str, str]]], timeout: float) -> None:
    """Ask MariaDB whether a nullable date column of the query holds a zero or partial date.

    DuckDB's MySQL scanner reads '0000-00-00' (and '2020-00-10') as NULL, where PyMySQL gives
    the text: a NULL the query cannot tell from a real one. A hit refuses the query, naming the column.
    """
    for (database, model), items in columns.items():
        tests = {column: _zero_date for column, _ in items}
        found = offending_columns(config, database, model, tests, timeout)
        if found:
            raise ExecutionError(
                f"engine: duckdb cannot carry {', '.join(w for c, w in items if c in found)} exactly: the "
                "table holds a zero or partial date ('0000-00-00', '2020-00-10'), which DuckDB's MySQL "
                "scanner reads as NULL, where PyMySQL gives its text; run the query on one server "
                "(engine: server), or filter those rows out.")


def _zero_date(column):
    return sa.or_(sa.func.year(column) == 0, sa.func.month(column) == 0, sa.func.dayofmonth(column) == 0)


def check_reader(reader: str | None) -> None:
    reader = reader or "auto"
    if reader not in READERS:
        raise QueryError(f"reader: expected one of {', '.join(READERS)}, got {reader!r}.")
    if reader == "arrow":
        raise ExecutionError("reader: arrow belongs to the server engine (connectorx on one MySQL/MariaDB "
                             "server); engine: duckdb reads its own results, use reader: auto or driver.")


def check_session_options(config, databases: list[str]) -> None:
    """MariaDB's scans cannot take a URL's session options (``init_command=SET time_zone=...``
    changes TIMESTAMP values, a charset changes text): such a URL is refused, never ignored."""
    for name in databases:
        url = config.databases[name].url
        if config.backend(name).name == "mysql" and config.backend(name).arrow_url(url) is None:
            raise ExecutionError(f"engine: duckdb cannot apply the options of the URL of "
                                 f"{config.databases[name].where} ({', '.join(url.query)}) to DuckDB's "
                                 "MySQL sessions, so values could read differently; remove them, or put "
                                 "the databases on one server (engine: server).")


def catalog_name(logical: str) -> str:
    """The DuckDB catalog of a logical database: ``cq_`` and the name, as an identifier."""
    return "cq_" + re.sub(r"\W", "_", logical)


def _duckdb():
    import duckdb

    return duckdb


_DIALECT = None


def duckdb_dialect():
    global _DIALECT
    if _DIALECT is None:
        dialect_class = sa.dialects.registry.load("duckdb")
        _DIALECT = dialect_class(paramstyle="numeric_dollar")  # DuckDB's own, not pyformat
    return _DIALECT


# ---------------------------------------------------------------------------
# Sessions: one DuckDB connection per config and databases, never used by two threads at once


def extension_path(scanner: str) -> Path:
    """The extension file inside its PyPI package (``duckdb-extension-<name>``)."""
    package = f"duckdb_extension_{scanner}"
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ExecutionError(f"engine: duckdb needs the package {package.replace('_', '-')}=={DUCKDB_VERSION} "
                             "(pip install 'crossquery-explorer[duckdb]').")
    path = Path(spec.origin).parent / "extensions" / f"v{DUCKDB_VERSION}" / f"{scanner}.duckdb_extension"
    if not path.exists():
        raise ExecutionError(f"engine: duckdb: {path} is missing; install {package.replace('_', '-')}"
                             f"=={DUCKDB_VERSION} for duckdb=={DUCKDB_VERSION}.")
    return path


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


@dataclass
class Attached:
    """One logical database as attached in a session."""

    name: str
    kind: str  # mysql | postgresql | sqlite
    database: Database
    catalog: str
    application_name: str = ""
    server: Any = None  # the config's SQLAlchemy engine for it: where its scans are cancelled


class Session:
    """A DuckDB connection with every database of the key attached read-only and locked."""

    def __init__(self, config, databases: list[str], statement_timeout: float):
        duckdb = _duckdb()
        if duckdb.__version__ != DUCKDB_VERSION:
            raise ExecutionError(f"engine: duckdb needs duckdb=={DUCKDB_VERSION} (the scanner extensions "
                                 f"are built for it); this is duckdb {duckdb.__version__}.")
        self.secrets = config.secrets
        self.statement_timeout = statement_timeout
        self.attached = [self._describe(config, name) for name in databases]
        options = {"allow_persistent_secrets": False, "autoinstall_known_extensions": False,
                   "autoload_known_extensions": False}
        for key in ("threads", "memory_limit"):
            if config.engine_options.get(key) is not None:
                options[key] = config.engine_options[key]
        self.connection = duckdb.connect(":memory:", config=options)
        try:
            self._open()
        except duckdb.Error as exc:
            quietly(self.connection.close)
            raise self.error(exc, "attach the databases") from None
        except BaseException:
            quietly(self.connection.close)
            raise

    @staticmethod
    def _describe(config, name: str) -> Attached:
        kind = config.backend(name).name
        marker = f"crossquery-duckdb-{uuid.uuid4().hex[:12]}"
        server = config.engine(name) if kind != "sqlite" else None
        return Attached(name, kind, config.databases[name], catalog_name(name), marker, server)

    def _open(self) -> None:
        execute = self.connection.execute
        for scanner in dict.fromkeys(SCANNERS[a.kind][0] for a in self.attached):
            execute(f"LOAD {_literal(extension_path(scanner))}")
        prefixes = tuple({"mysql": "mysql_", "postgresql": "pg_"}.get(a.kind, "-") for a in self.attached)
        for setting in _SETTINGS:
            if setting.split()[1].startswith(prefixes):  # a scanner's settings exist once it is loaded
                execute(setting)
        for attached in self.attached:
            for statement in self._attach(attached):
                execute(statement)
        execute("SET enable_external_access = false")
        execute("SET lock_configuration = true")

    def _attach(self, attached: Attached) -> list[str]:
        url, catalog = attached.database.url, attached.catalog
        if attached.kind == "sqlite":
            return [f"ATTACH {_literal(url.database)} AS {catalog} (TYPE sqlite, READ_ONLY)"]
        secret = f"{catalog}_secret"
        parts = [f"HOST {_literal(url.host or '127.0.0.1')}", f"USER {_literal(url.username or '')}",
                 f"PASSWORD {_literal(url.password or '')}"]
        if url.port:
            parts.append(f"PORT {int(url.port)}")
        if attached.kind == "mysql":
            parts.append(f"DATABASE {_literal(attached.database.schema)}")
            attach = f"ATTACH '' AS {catalog} (TYPE mysql, SECRET {secret}, READ_ONLY)"
        else:
            parts.append(f"DATABASE {_literal(url.database or 'postgres')}")
            dsn = _postgres_dsn(url, attached.application_name, self._postgres_options(url))
            attach = f"ATTACH {_literal(dsn)} AS {catalog} (TYPE postgres, SECRET {secret}, READ_ONLY)"
        kind = SCANNERS[attached.kind][1]
        return [f"CREATE TEMPORARY SECRET {secret} (TYPE {kind}, {', '.join(parts)})", attach]

    def _postgres_options(self, url) -> str:
        """Session settings of the PostgreSQL scans: the URL's own, then a time bound, read-only,
        and the text forms DuckDB parses (values travel as text: see pg_use_text_protocol)."""
        bound = max(1, int(self.statement_timeout * 1000))
        own = url.query.get("options", "")
        return " ".join([*([own] if isinstance(own, str) and own else []), *(f"-c {setting}" for setting in (
            f"statement_timeout={bound}", "default_transaction_read_only=on", "DateStyle=ISO",
            "IntervalStyle=postgres", "extra_float_digits=1"))])

    def error(self, exc: BaseException, doing: str, timeout: float | None = None,
              suspects: str = "") -> ExecutionError:
        """One sentence naming the database(s) involved (and the columns a value error may come
        from), secrets masked."""
        message = " ".join(str(exc).split()).rstrip(".")
        message = re.sub(r"^[A-Za-z ]*Error: ", "", message)
        message = re.sub(r" LINE \d+:.*$", "", message)
        involved = [a for a in self.attached if a.catalog in message] or self.attached
        where = ", ".join(a.database.where for a in involved)
        if timeout is not None:
            text = (f"The query in DuckDB over {where} was stopped after its timeout of {timeout:g} s; "
                    "raise timeout: in the query or the config (or pass timeout=N) if it should run "
                    "longer, or add a filter or a limit.")
        else:
            text = f"Could not {doing} in DuckDB over {where} ({message}){suspects}."
        return ExecutionError(scrub(text, self.secrets))

    def execute(self, sql: str, params: list | None = None, explain: bool = False):
        """Run ``sql`` if it is ONE SELECT: the only statement this session ever runs (DuckDB's
        SQLite scanner attaches files even with external access disabled, so the session itself
        refuses every other kind of statement)."""
        statements = self.connection.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != _duckdb().StatementType.SELECT:
            kinds = ", ".join(str(statement.type.name) for statement in statements)
            raise ExecutionError(f"engine: duckdb runs one SELECT statement only, and this is {kinds}; "
                                 "crossquery explorer opens every session read-only and never changes data.")
        return self.connection.execute(("EXPLAIN " if explain else "") + sql, params or [])

    def cancel_remote(self) -> None:
        """Stop this session's scans on their servers (DuckDB's interrupt does not reach them)."""
        for attached in self.attached:
            if attached.kind == "mysql":
                quietly(lambda a=attached: _kill_mysql_scans(a))
            elif attached.kind == "postgresql":
                quietly(lambda a=attached: _cancel_postgres_scans(a))

    def close(self) -> None:
        quietly(self.connection.close)


# libpq connection settings a URL may carry (sslmode=..., ...): passed on to the scanner.
_LIBPQ_KEYS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "connect_timeout",
               "target_session_attrs", "gssencmode", "channel_binding", "keepalives", "keepalives_idle")


def _postgres_dsn(url, application_name: str, options: str) -> str:
    """The scanner's libpq settings; host, user, password and database travel in the secret."""
    pairs = {key: url.query[key] for key in _LIBPQ_KEYS if isinstance(url.query.get(key), str)}
    pairs.update(application_name=application_name, options=options)
    return " ".join(f"{key}={_libpq_value(value)}" for key, value in pairs.items())


def _libpq_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _kill_mysql_scans(attached: Attached) -> None:
    """KILL QUERY the scanner's statements: its user's sessions reading this database's tables.

    The scanner's sessions carry no name of their own, so they are found by user and by the
    text they run (``SELECT ... FROM `db`.`table```, column lists only: nothing is pushed down),
    as prepared statements (command ``Execute``).
    """
    url = attached.database.url
    pattern = "%FROM `" + attached.database.schema.replace("`", "``") + "`.%"
    with attached.server.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id FROM information_schema.processlist WHERE user = %s AND command IN ('Query', 'Execute') "
            "AND id <> CONNECTION_ID() AND info LIKE %s", (url.username or "", pattern)).all()
        for (session_id,) in rows:
            quietly(lambda s=session_id: connection.exec_driver_sql(f"KILL QUERY {int(s)}"))


def _cancel_postgres_scans(attached: Attached) -> None:
    with attached.server.connect() as connection:
        connection.exec_driver_sql(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = %(name)s "
            "AND pid <> pg_backend_pid()", {"name": attached.application_name})


class SessionPool:
    """Idle sessions for one config and set of databases: a thread takes one for its run."""

    def __init__(self, config, databases: list[str]):
        self.config = weakref.ref(config)  # the pools live as long as the config, not longer
        self.databases = databases
        self.idle: list[Session] = []
        self.lock = threading.Lock()

    def acquire(self, timeout: float | None = None) -> Session:
        """An idle session whose remote statement_timeout suits ``timeout`` (None: any), or a new one."""
        bound = _timeout_bucket(timeout if timeout is not None else 60)
        with self.lock:
            for index, session in enumerate(self.idle):
                if timeout is None or session.statement_timeout == bound:
                    return self.idle.pop(index)
        return Session(self.config(), self.databases, bound)

    def release(self, session: Session, healthy: bool) -> None:
        if not healthy:
            session.close()  # cancelled or failed: its remote sessions may be in any state
            return
        with self.lock:
            self.idle.append(session)
            while len(self.idle) > 4:
                self.idle.pop(0).close()


def _timeout_bucket(timeout: float) -> float:
    # PostgreSQL's statement_timeout is fixed when attached: a little above the run's own bound,
    # which the watchdog enforces; sessions are reused for runs with the same bound.
    return float(int(timeout) + 1)


# config -> its pools: sessions live as long as the loaded config (whose reflected tables match
# the catalogs DuckDB read when attaching), and are closed with it.
_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def session_pool(config, databases: list[str]) -> SessionPool:
    """The pool of this config for these databases."""
    key = (tuple(sorted(databases)), tuple(sorted((k, str(v)) for k, v in config.engine_options.items())))
    with _POOLS_LOCK:
        if config not in _POOLS:
            _POOLS[config] = {}
            weakref.finalize(config, _close_pools, _POOLS[config])  # no reference to the config itself
        pools = _POOLS[config]
        if key not in pools:
            pools[key] = SessionPool(config, databases)
        return pools[key]


def _close_pools(pools: dict) -> None:
    for pool in pools.values():
        with pool.lock:
            while pool.idle:
                pool.idle.pop().close()


# ---------------------------------------------------------------------------
# One statement: bounded in time and rows, cancellable


class _Run:
    """The statement on a session of the pool, streamed in Arrow batches; a watchdog enforces
    the timeout. The session is taken inside the run, so that Ctrl-C while it is being opened
    (LOAD, ATTACH) is handled like Ctrl-C during the statement."""

    def __init__(self, pool: SessionPool, sql: str, params: list, timeout: float, max_rows: int,
                 suspects: Callable[[str], str] = lambda message: ""):
        self.pool, self.sql, self.params, self.suspects = pool, sql, params, suspects
        self.timeout, self.max_rows = timeout, max_rows
        self.session: Session | None = None
        self.cancelled = self.timed_out = self.finished = False
        self.done = threading.Event()
        self._canceller: threading.Thread | None = None

    def __call__(self) -> tuple[list[str], list[list]]:
        try:
            self.session = self.pool.acquire(self.timeout)
            if self.cancelled:
                raise ExecutionError("The statement was cancelled before it started.")
            result = self._stream()
            self.finished = True
            return result
        finally:
            self.done.set()

    def release(self) -> None:
        """Back to the pool, or closed: a cancelled or failed session may be in any state."""
        if self.session is not None:
            self.pool.release(self.session, self.finished and not self.cancelled)

    def _stream(self) -> tuple[list[str], list[list]]:
        duckdb = _duckdb()
        watchdog = threading.Timer(self.timeout, self._time_out)
        watchdog.daemon = True
        watchdog.start()
        try:
            cursor = self.session.execute(self.sql, self.params)
            labels = [d[0] for d in cursor.description or ()]
            batches = cursor.to_arrow_reader(_BATCH)
            columns: list[list] = [[] for _ in labels]
            count = 0
            for batch in batches:
                count += batch.num_rows
                if count > self.max_rows:
                    self.cancel()
                    raise row_cap_error(self.max_rows)
                for index, column in enumerate(batch.columns):
                    columns[index].extend(_python_values(column, labels[index]))
            return labels, columns
        except (RowCapError, ExecutionError):
            self.cancelled = True
            raise
        except duckdb.Error as exc:
            self.cancelled = True  # a failed session is not reused
            if self.timed_out:
                raise self.session.error(exc, "run the query", timeout=self.timeout) from None
            raise self.session.error(exc, "run the query", suspects=self.suspects(str(exc))) from None
        finally:
            watchdog.cancel()

    def _time_out(self) -> None:
        self.timed_out = True
        self.cancel()

    def cancel(self) -> None:
        """Interrupt DuckDB and the remote scans (from the main thread or the watchdog), again
        every 0.2 s until the run ends: a cancel that comes while the session opens, or just
        before the statement reaches the servers, must still stop it."""
        self.cancelled = True
        if self._canceller is None:
            self._canceller = threading.Thread(target=self._cancel_until_done, daemon=True,
                                               name="crossquery-duckdb-cancel")
            self._canceller.start()
        self.done.wait(0.2)  # the first round, before the caller waits for the run

    def _cancel_until_done(self) -> None:
        deadline = time.monotonic() + 15
        while not self.done.is_set() and time.monotonic() < deadline:
            session = self.session
            if session is not None:
                quietly(session.connection.interrupt)
                session.cancel_remote()
            self.done.wait(0.2)

    def abandon(self) -> None:
        self.cancelled = True


def _python_values(column, label: str) -> list:
    """An Arrow column as Python values; one Python cannot hold (PostgreSQL's infinity dates, a
    year past 9999) is an error naming the column, as psycopg's DataError would be."""
    try:
        return column.to_pylist()
    except (ValueError, OverflowError, ArithmeticError) as exc:
        raise ExecutionError(f"column {label!r}: a value cannot be read as a Python value ({exc}); "
                             "an infinite date or timestamp, or a year past 9999, can cause this.") from None


# ---------------------------------------------------------------------------
# Exact values: DuckDB's value -> the driver's, per column


Convert = Callable[[Any], Any]


@dataclass
class ReadPlan:
    """Per statement label: how DuckDB's value becomes the driver's (None: as it is)."""

    converters: dict[str, Convert | None]
    sqlite_readers: dict[str, tuple[Any, str]]  # label -> (exact_reader, where): sqlite3's values by type
    layout: Any
    zone: Any = None  # a PostgreSQL session's zone, for tz-aware columns of only NULLs (frames)
    kinds: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (kind, where)
    # NOT NULL MariaDB dates: a NULL from DuckDB there is a zero date ('0000-00-00') it dropped
    never_null: dict[str, str] = field(default_factory=dict)  # label -> its node's first key label
    # Nullable MariaDB dates: a zero date would come back as NULL; the server is asked first
    maybe_zero: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, config, compiled) -> ReadPlan:
        """The plan for a compiled query; columns DuckDB cannot carry exactly are refused here."""
        plan, refusals = cls({}, {}, compiled.layout), []
        for node in compiled.layout:
            database = config.models[node.model].database
            kind = config.backend(database).name
            aggregates = {a.name: a for a in compiled.query.aggregates_at(node.path)} if not node.junction else {}
            for column, label in zip(node.columns, node.labels):
                where = f"column {label!r} ({node.model}.{column})"
                try:
                    if column in node.aggregates:
                        plan._add_aggregate(config, compiled, node, aggregates[column], label)
                    else:
                        plan._add(config, node, column, label, where, kind, database)
                except Refused as refused:
                    refusals.append(f"{where}: {refused}")
        if refusals:
            raise unfit_columns("duckdb", refusals, "Leave them out of attributes:, or put their databases "
                                "on one server (engine: server).")
        return plan

    def _add(self, config, node, column: str, label: str, where: str, kind: str, database: str) -> None:
        sql_type = config.column_type(node.model, column)
        self.kinds[label] = (kind_of(sql_type), where)
        self.converters[label] = converter(kind, sql_type)
        if kind == "sqlite" and (reader := exact_reader(sql_type, "sqlite")) is not None:
            self.sqlite_readers[label] = (reader, where)
        if kind == "postgresql" and kind_of(sql_type) == "datetime" and getattr(sql_type, "timezone", False):
            zone = postgres_zone(config, database)
            self.zone = self.zone or zone
            self.converters[label] = _in_zone(zone)
        if kind == "mysql" and kind_of(sql_type) in ("date", "datetime"):
            # The config's reflected table knows NOT NULL (a columns: list does not: asked below).
            if node.key_labels and not config.table(node.model).c[column].nullable:
                self.never_null[label] = node.key_labels[0]
            else:
                self.maybe_zero.setdefault((database, node.model), []).append((column, where))

    def _add_aggregate(self, config, compiled, node, aggregate, label: str) -> None:
        """An aggregate's value: read as its function gives it (see explorer.aggregates); min and
        max of a column are values of that column, of its own database."""
        where = f"aggregate {label!r} ({aggregate.function} of {node.model}.{aggregate.path})"
        sql_type = compiled.column_type(config, node, aggregate.name)
        self.kinds[label] = (kind_of(sql_type), where)
        database = config.models[aggregate.model].database
        kind = config.backend(database).name
        if aggregate.function not in ("min", "max"):
            self.converters[label] = converter(kind, sql_type) if kind_of(sql_type) == "decimal" else None
            return
        self.converters[label] = converter(kind, sql_type)
        if kind == "sqlite" and (reader := exact_reader(sql_type, "sqlite")) is not None:
            self.sqlite_readers[label] = (reader, where)
        if kind == "mysql" and kind_of(sql_type) in ("date", "datetime"):  # zero dates: ask the server first
            self.maybe_zero.setdefault((database, aggregate.model), []).append((aggregate.column, where))

    def suspects(self, message: str) -> str:
        """For DuckDB's "Could not convert string ... to TYPE" (or "Date out of range"): the
        columns of that kind, one of which holds the value."""
        found = re.search(r"Could not convert string .* to (\w+)|(\w+) out of range", message)
        kind = _CONVERSION_KINDS.get((found.group(1) or found.group(2)).upper()) if found else None
        wheres = [where for label, (own, where) in self.kinds.items() if own == kind]
        return f"; the value is one of {', '.join(wheres)}" if wheres else ""

    def convert(self, labels: list[str], columns: list[list], strategy: str) -> list[list]:
        """The statement's columns with every value as its database's driver gives it."""
        by_label = dict(zip(labels, columns))
        root = self.layout[0]
        for label in root.labels if strategy == "json" else labels:
            keys = by_label.get(self.never_null.get(label, ""))
            by_label[label] = self._column(label, by_label[label], keys)
        if strategy == "json":
            children = {node.path: [n for n in self.layout[1:] if n.parent == node.path] for node in self.layout}
            for node in children[()]:
                by_label[node.records_key] = [self._items(value, node, children)
                                              for value in by_label[node.records_key]]
        return [by_label[label] for label in labels]

    def _column(self, label: str, values: list, keys: list | None = None) -> list:
        """One column's values converted; ``keys``: its row's key, where a NULL cannot be one."""
        if keys is not None:
            self._check_never_null(label, values, keys)
        convert = self.converters.get(label)
        if convert is not None:
            values = [None if v is None else _safely(convert, v, label) for v in values]
        if label in self.sqlite_readers:
            reader, where = self.sqlite_readers[label]
            values = reader(values, where)
        return values

    def _check_never_null(self, label: str, values: list, keys: list) -> None:
        if any(value is None and key is not None for value, key in zip(values, keys)):
            raise ExecutionError(f"{self.kinds[label][1]}: a NOT NULL date came as NULL, so MariaDB holds a zero "
                                 "date ('0000-00-00') there, which DuckDB's MySQL scanner reads as NULL and "
                                 "PyMySQL as text; use engine: server for this query.")

    def _items(self, items, node, children) -> list | None:
        """A nested list of structs with every column read as its driver gives it."""
        if items is None:
            return None
        # the junction row is one struct inside its target's struct, not a list
        flat = items_flat([items] if node.junction else items)
        for column, label in zip(node.columns, node.labels):
            present = [True] * len(flat) if label in self.never_null else None
            values = self._column(label, [item[column] for item in flat], present)
            for item, value in zip(flat, values):
                item[column] = value
        for child in children[node.path]:
            for item in flat:
                item[child.records_key] = self._items(item[child.records_key], child, children)
        return items


def items_flat(items: list) -> list[dict]:
    """The structs of a list, their chunks (``~chunk0`` ...) merged into the item itself."""
    flat = [item for item in items if item is not None]
    for item in flat:
        if CHUNK + "0" in item:
            merged = _unchunked(item)
            item.clear()
            item.update(merged)
    return flat


def _unchunked(item: dict) -> dict:
    if CHUNK + "0" not in item:
        return item
    merged: dict = {}
    for part in item.values():
        merged.update(_unchunked(part))
    return merged


def _safely(convert: Convert, value, label: str):
    try:
        return convert(value)
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        raise ExecutionError(f"column {label!r}: the value {value!r} cannot be read as its database's "
                             f"driver reads it ({type(exc).__name__}: {exc}).") from None


# DuckDB's type in a conversion error -> the kind of the columns that may hold the value.
_CONVERSION_KINDS = {"INTERVAL": "duration", "DECIMAL": "decimal", "DATE": "date", "TIMESTAMP": "datetime",
                     "TIME": "time", "UUID": "other", "BOOLEAN": "bool", "DOUBLE": "float", "FLOAT": "float"}


class Refused(Exception):
    """DuckDB cannot carry a column exactly; the message says why."""


def converter(kind: str, sql_type) -> Convert | None:
    """From DuckDB's Python value to the driver's, for a column of ``sql_type`` on ``kind``."""
    return {"mysql": _mysql, "postgresql": _postgres, "sqlite": _sqlite}[kind](sql_type)


def _mysql(sql_type) -> Convert | None:
    from pymysql import converters

    kind = kind_of(sql_type)
    if kind in ("int", "uint64", "bytes", "string", "datetime", "date", "json"):
        return None
    if kind == "decimal":
        if (getattr(sql_type, "precision", None) or 10) > 38:
            raise Refused(f"DuckDB reads DECIMAL({sql_type.precision},{sql_type.scale}) as DOUBLE "
                          "(it holds at most 38 digits)")
        return None
    if kind == "float":
        if isinstance(sql_type, mysql.DOUBLE | mysql.REAL) or not isinstance(sql_type, mysql.FLOAT):
            return None
        if getattr(sql_type, "scale", None) is not None:
            raise Refused("a FLOAT(M,D) is written by MariaDB with D decimals, which DuckDB does not keep")
        # MariaDB writes a FLOAT with 6 significant digits, the text PyMySQL parses; a decimal of
        # 6 digits round-trips through a float32, so printing DuckDB's float32 that way gives it back.
        return lambda value: float(f"{value:.6g}")
    if kind == "time":
        return converters.convert_timedelta  # the scanner gives TIME as MariaDB's text
    if kind == "bool":
        return None
    raise Refused(f"DuckDB's MySQL scanner has no exact reading of {sql_type}")


def _postgres(sql_type) -> Convert | None:
    from sqlalchemy.dialects import postgresql

    kind = kind_of(sql_type)
    if isinstance(sql_type, sa.CHAR) and getattr(sql_type, "length", None):
        width = sql_type.length
        return lambda value: value.ljust(width)  # DuckDB strips char(n)'s padding; psycopg keeps it
    if kind in ("int", "bool", "string", "bytes", "date", "time"):
        if isinstance(sql_type, sa.Time) and getattr(sql_type, "timezone", False):
            raise Refused("DuckDB reads time with time zone without its offset")
        return None
    if kind == "datetime":
        return None  # tz-aware columns get the session's zone (ReadPlan.of)
    if kind == "decimal":
        precision = getattr(sql_type, "precision", None)
        if precision is None or precision > 38:
            raise Refused("DuckDB reads a numeric without a precision, or one wider than 38 digits, as DOUBLE")
        return None  # read as text (pg_use_text_protocol): a NaN is an error, never 0
    if kind == "float":
        precision = getattr(sql_type, "precision", None)
        if isinstance(sql_type, sa.REAL) or (precision and precision <= 24):
            return _shortest_float32  # PostgreSQL writes a real in its shortest exact digits
        return None
    if kind == "duration":
        return _postgres_interval
    if kind == "json":
        return _json_text
    if isinstance(sql_type, postgresql.INET):
        return _postgres_inet
    if isinstance(sql_type, postgresql.CIDR):
        return ipaddress.ip_network
    if isinstance(sql_type, sa.Uuid):
        return _uuid
    if kind == "array":
        name = postgres_type_name(sql_type)
        if name is None:
            raise Refused(f"psycopg has no loader here for {sql_type}")
        return _psycopg_text(name)
    raise Refused(f"DuckDB's PostgreSQL scanner has no exact reading of {sql_type}")


def _sqlite(sql_type) -> Convert | None:
    kind = kind_of(sql_type)
    if kind in ("int", "float", "string", "bool"):
        return None  # a value of another storage class is an error in the scanner, never changed
    if kind == "bytes":
        raise Refused("a BLOB column keeps text and numbers as stored (sqlite3 gives str, int), which "
                      "DuckDB's SQLite scanner turns into bytes")
    if kind == "decimal":
        precision = getattr(sql_type, "precision", None)
        if getattr(sql_type, "scale", None) is None or precision is None or precision > 15:
            raise Refused("DuckDB's SQLite scanner reads NUMERIC as DOUBLE, which keeps neither an integer's "
                          "storage class nor more than 15 digits")
        return None  # the double holds every value of at most 15 digits; exact_reader adds the scale
    if kind == "datetime":
        raise Refused("DuckDB's SQLite scanner drops a UTC offset stored in the text")
    if kind == "date":
        raise Refused("DuckDB's SQLite scanner reads '2024-02-29 10:00' as a date and a number as days "
                      "since 1970, where sqlite3's values are refused")
    raise Refused(f"DuckDB's SQLite scanner has no exact reading of {sql_type}")


def _shortest_float32(value: float) -> float:
    import numpy as np

    return float(str(np.float32(value)))  # numpy prints a float32 in its shortest exact digits


def _postgres_interval(value) -> dt.timedelta:
    """psycopg's reading of PostgreSQL's interval text: a year is 365 days, a month 30."""
    months, days, nanoseconds = value.months, value.days, value.nanoseconds
    years = int(months / 12)  # PostgreSQL writes -14 months as '-1 years -2 mons'
    months -= 12 * years
    return dt.timedelta(days=365 * years + 30 * months + days, microseconds=nanoseconds // 1000)


def _json_text(value):
    return json.loads(value)  # psycopg's default JSON loader


def _postgres_inet(value: str):
    # PostgreSQL leaves out a host's full netmask (/32, /128), which DuckDB always writes.
    interface = ipaddress.ip_interface(value)
    if interface.network.prefixlen == interface.max_prefixlen:
        return interface.ip
    return interface


def _uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _psycopg_text(name: str) -> Convert:
    import psycopg
    from psycopg.adapt import Transformer

    from ..decode import _loader

    loader = _loader(Transformer(), psycopg.adapters, name)
    return lambda text: loader.load(text.encode())


def _in_zone(zone) -> Convert:
    def convert(value: dt.datetime) -> dt.datetime:
        return value.astimezone(zone)

    return convert


_ZONES: dict[str, Any] = {}


def postgres_zone(config, database: str):
    """The time zone psycopg gives timestamptz values in, for this database's sessions."""
    key = config.databases[database].url.render_as_string(hide_password=False)
    if key not in _ZONES:
        with config.engine(database).connect() as connection:
            _ZONES[key] = connection.connection.dbapi_connection.info.timezone
    return _ZONES[key]



# ---------------------------------------------------------------------------
# The JSON strategy in DuckDB: native structs and lists (no JSON text at all)


@compiles(json_object, "duckdb")
def _struct(element, compiler, **kw):
    arguments = list(element.clauses)
    pairs = [f"{compiler.process(key, **kw)}: {compiler.process(value, **kw)}"
             for key, value in zip(arguments[::2], arguments[1::2])]
    return "{" + ", ".join(pairs) + "}"


@compiles(json_array_agg, "duckdb")
def _list(element, compiler, **kw):
    value, *order = list(element.clauses)
    order_sql = ", ".join(compiler.process(item, **kw) for item in order)
    return f"list({compiler.process(value, **kw)}{f' ORDER BY {order_sql}' if order_sql else ''})"


@compiles(json_nested, "duckdb")
@compiles(json_text, "duckdb")
@compiles(json_exact, "duckdb")
def _as_is(element, compiler, **kw):
    return compiler.process(next(iter(element.clauses)), **kw)


@compiles(json_key, "duckdb")
def _key(element, compiler, **kw):
    return compiler.render_literal_value(element.name, sa.String())
