"""Server kinds as data: how databases are named, grouped, connected and kept read-only.

A backend answers these questions for the rest of the pipeline:

* which databases share a server (so ONE statement can join them),
* under which schema name a logical database appears in SQL,
* how to open one connection that sees all of them, read-only at the server,
* how to bound a statement's running time, stream its rows and cancel it,
* what a driver error means (unreachable, access denied, timeout, ...).

The compiler and the executor never branch on the dialect: they ask the backend.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, quote_plus

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from .errors import ConfigError, ExecutionError

# Who reads a statement's rows: the DBAPI driver, connectorx into Arrow, or the best available.
READERS = ("auto", "driver", "arrow")


def mask_url(url: URL | str) -> str:
    """The URL as text with its password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True) if url else ""


def scrub(text: str, secrets: list[str | None]) -> str:
    """``text`` with every secret (as is or URL-encoded) and any ``user:password@`` masked."""
    for secret in secrets:
        if secret:
            for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret))):
                text = text.replace(form, "***")
    return re.sub(r"(://[^:/@\s]+:)[^@\s]*@", r"\1***@", text)


@dataclass(frozen=True)
class Database:
    """A logical database of the config and where it lives."""

    name: str
    url: URL
    schema: str  # the name the server knows it by (database, attached name or schema)

    def __repr__(self) -> str:
        return f"Database({self.name!r}, {mask_url(self.url)!r}, schema={self.schema!r})"

    @property
    def where(self) -> str:
        """How messages name it: ``database 'products' (mysql+pymysql://u:***@host/products)``."""
        return f"database {self.name!r} ({mask_url(self.url)})"


# What to do, per kind of server error; execute and config end their messages with these.
HINTS = {
    "unreachable": "check that the server is running and that the host and port in the URL are right",
    "access_denied": "check the user name and password in the URL (or the environment variables "
                     "it reads) and that this user may SELECT from the database",
    "privilege": "the user in the URL may not read this; ask for SELECT on it (GRANT SELECT ...) "
                 "or use an account that may",
    "unknown_database": "check the database name in the URL (or the schema: key), or create it",
    "missing_table": "a table of the query does not exist (any more); check the models' table: "
                     "names, or run the query again to re-read the tables",
    "missing_column": "a column of the query does not exist (any more); fix the model's columns: "
                      "list, or run again after reloading the config",
    "timeout": "the statement ran longer than its timeout; raise timeout: in the query or the "
               "config (or pass timeout=N) if it should run longer",
    "read_only": "crossquery explorer opens every session read-only and never changes data",
    "interrupted": "the statement was cancelled on the server (by an administrator or a KILL); "
                   "run it again",
    "lost": "the connection to the server was lost during the statement; run it again "
            "(the next run reconnects)",
    "driver_missing": "install the driver named in the URL (e.g. pip install psycopg[binary])",
    "type_mismatch": "two values of different types were compared, most often the key columns of an "
                     "association (an integer joined to a text column); make both key columns the same "
                     "type (ALTER TABLE ...) or point the association's keys at columns of the same type",
    "collation": "two text values with incompatible collations were compared, most often the key columns "
                 "of an association; give both key columns the same collation (ALTER TABLE ... COLLATE ...) "
                 "or point the association's keys at columns that share one",
}


class Backend:
    """Base class: one subclass per server kind."""

    name: ClassVar[str]
    dialect_names: ClassVar[tuple[str, ...]]
    supports_arrow: ClassVar[bool] = False  # the connectorx fast path (see explorer.fast)
    # driver error code (errno or SQLSTATE) -> kind of failure (a key of HINTS)
    error_codes: ClassVar[dict[Any, str]] = {}
    # lower-case message fragments -> kind, for errors whose code the table above lacks
    error_texts: ClassVar[dict[str, str]] = {}
    # ... and fragments that decide only when the error carries no code at all (failed connections)
    uncoded_texts: ClassVar[dict[str, str]] = {}
    # column name -> collation of a table's columns (:schema, :table), for explaining a failed join
    collations_sql: ClassVar[str | None] = None

    def default_schema(self, logical: str, url: URL) -> str:
        return logical

    def arrow_url(self, url: URL) -> str | None:
        """The connectorx connection string for the Arrow fast path; None where it is not offered."""
        return None

    def server_key(self, url: URL) -> tuple:
        """Databases with equal keys can be joined by one statement."""
        return (self.name, url.host or "localhost", url.port, url.username)

    def describe_server(self, url: URL) -> str:
        return f"{url.drivername}://{url.username or ''}@{url.host or 'localhost'}:{url.port or ''}"

    def engine_url(self, databases: list[Database]) -> URL:
        return databases[0].url

    def engine_options(self, url: URL) -> dict[str, Any]:
        """Extra create_engine() arguments (connect options that make sessions safe)."""
        return {}

    def make_engine(self, databases: list[Database]) -> Engine:
        url = self.engine_url(databases)
        try:
            # The dialect's own paramstyle, so prepare() shows exactly the text that runs.
            engine = sa.create_engine(url, pool_pre_ping=True, paramstyle=url.get_dialect().default_paramstyle,
                                      **self.engine_options(url))
        except (ImportError, sa.exc.NoSuchModuleError) as exc:
            raise ConfigError(f"Cannot open {databases[0].where}: the driver {url.drivername!r} is not "
                              f"available ({exc}); {HINTS['driver_missing']}.") from None
        event.listen(engine, "connect", self._on_connect)
        return engine

    def _on_connect(self, dbapi_connection, connection_record) -> None:
        cursor = dbapi_connection.cursor()
        for statement in self.session_setup():
            cursor.execute(statement)
        cursor.close()

    def session_setup(self) -> list[str]:
        """Statements run once per new connection (read-only mode and the like)."""
        return []

    # -- one statement, bounded

    def bounded(self, connection: sa.Connection, sql: str, seconds: float) -> tuple[list[str], str]:
        """(statements to run first, the statement to send) so that ``sql`` stops after ``seconds``."""
        return [], sql

    def start_timeout(self, dbapi_connection, seconds: float):
        """Hook for backends that bound time client-side; returns a callable that stops it."""
        return lambda: None

    def cursor(self, dbapi_connection):
        """A cursor that streams rows (so the row cap protects memory)."""
        return dbapi_connection.cursor()

    def chunks(self, cursor, sql: str, params, size: int) -> Iterator[list[tuple]]:
        """Run ``sql`` on ``cursor`` and yield its rows in lists of at most ``size``."""
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(size):
            yield chunk

    def forget_rows(self, cursor) -> None:
        """Tell the driver not to read the rest of a streamed result: the session is being closed."""

    def cancel(self, engine: Engine, dbapi_connection) -> None:
        """Stop the statement running on ``dbapi_connection`` (called from another thread)."""

    def connection_id(self, dbapi_connection) -> Any:
        """The server's id for this session (for KILL / pg_cancel_backend)."""
        return None

    # -- errors

    def error_kind(self, orig: BaseException) -> str | None:
        """The kind of a driver error (a key of HINTS), or None when it is something else.

        A known code wins over the message's words: PostgreSQL's ``operator does not
        exist`` (42883) is a type mismatch, not a missing database.
        """
        code = self.error_code(orig)
        kind = self.error_codes.get(code)
        if kind:
            return kind
        text = str(orig).lower()
        texts = self.error_texts if code is not None else {**self.error_texts, **self.uncoded_texts}
        return next((kind for fragment, kind in texts.items() if fragment in text), None)

    def collations(self, connection: sa.Connection, schema: str, table: str) -> dict[str, str]:
        """Column name -> collation, for the text columns of a table (empty where not known)."""
        if self.collations_sql is None:
            return {}
        rows = connection.execute(sa.text(self.collations_sql), {"schema": schema, "table": table})
        return {name: collation for name, collation in rows if collation}

    def error_code(self, orig: BaseException) -> Any:
        return None


class MySQLBackend(Backend):
    """MySQL and MariaDB over PyMySQL: logical databases are server databases."""

    name = "mysql"
    dialect_names = ("mysql", "mariadb")
    error_codes: ClassVar[dict[Any, str]] = {
        2003: "unreachable", 2005: "unreachable", 1045: "access_denied", 1044: "access_denied",
        1142: "privilege", 1143: "privilege", 1049: "unknown_database",
        1146: "missing_table", 1054: "missing_column", 1792: "read_only", 1836: "read_only",
        1290: "read_only", 1969: "timeout", 3024: "timeout", 1317: "interrupted",
        2013: "lost", 2006: "lost", 1927: "lost",
        1267: "collation", 1270: "collation", 1271: "collation",  # "Illegal mix of collations"
    }
    collations_sql = ("SELECT column_name, collation_name FROM information_schema.columns "
                      "WHERE table_schema = :schema AND table_name = :table")

    def default_schema(self, logical: str, url: URL) -> str:
        return url.database or logical

    def engine_url(self, databases: list[Database]) -> URL:
        url = databases[0].url
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url

    def session_setup(self) -> list[str]:
        # Every transaction of the session, implicit or explicit, is read-only. MariaDB caps
        # JSON_ARRAYAGG (the JSON strategy) at group_concat_max_len, 1 MB by default: lift it.
        return ["SET SESSION TRANSACTION READ ONLY", "SET SESSION group_concat_max_len = 4294967295"]

    def bounded(self, connection: sa.Connection, sql: str, seconds: float) -> tuple[list[str], str]:
        if getattr(connection.dialect, "is_mariadb", False):
            # MariaDB: a per-statement setting, so the session keeps no state between runs.
            return [], f"SET STATEMENT max_statement_time={seconds:.3f} FOR {sql}"
        # MySQL: an optimizer hint right after SELECT, in milliseconds.
        hint = f"SELECT /*+ MAX_EXECUTION_TIME({max(1, round(seconds * 1000))}) */"
        return [], re.sub(r"^\s*SELECT\b", hint, sql, count=1, flags=re.IGNORECASE)

    def cursor(self, dbapi_connection):
        import pymysql.cursors

        return dbapi_connection.cursor(pymysql.cursors.SSCursor)

    def forget_rows(self, cursor) -> None:
        # Otherwise PyMySQL drains the unread rows on close, or fails to from a closed socket.
        result = getattr(cursor, "_result", None)
        if result is not None:
            result.unbuffered_active = False

    def cancel(self, engine: Engine, dbapi_connection) -> None:
        # KILL QUERY ends the statement but keeps the session; it needs a second connection.
        killer = engine.dialect.loaded_dbapi.connect(**engine.dialect.create_connect_args(engine.url)[1])
        try:
            with killer.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(self.connection_id(dbapi_connection))}")
        finally:
            killer.close()

    def connection_id(self, dbapi_connection) -> Any:
        return dbapi_connection.thread_id()

    supports_arrow = True

    def arrow_url(self, url: URL) -> str | None:
        # connectorx takes no session options: a URL that sets any (init_command, a charset
        # other than the driver path's utf8mb4, ...) would read differently, so none is offered.
        if any(key != "charset" or value not in ("utf8mb4", "utf8") for key, value in url.query.items()):
            return None
        return url.set(drivername="mysql", query={}).render_as_string(hide_password=False)

    def cancel_marked(self, engine: Engine, marker: str) -> None:
        """KILL QUERY the statement whose text carries ``marker`` (a session this process does not hold)."""
        killer = engine.dialect.loaded_dbapi.connect(**engine.dialect.create_connect_args(engine.url)[1])
        try:
            with killer.cursor() as cursor:
                cursor.execute("SELECT id FROM information_schema.processlist "
                               "WHERE info LIKE %s AND id <> CONNECTION_ID()", (f"%{marker}%",))
                for (thread,) in cursor.fetchall():
                    cursor.execute(f"KILL QUERY {int(thread)}")
        finally:
            killer.close()

    def error_code(self, orig: BaseException) -> Any:
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], int):
            return args[0]
        found = re.search(r"ERROR (\d{4})", str(orig))  # connectorx: "MySqlError { ERROR 1969 (70100): ..."
        return int(found.group(1)) if found else None


class PostgreSQLBackend(Backend):
    """PostgreSQL: logical databases are schemas of one database."""

    name = "postgresql"
    dialect_names = ("postgresql",)
    error_codes: ClassVar[dict[Any, str]] = {
        "28P01": "access_denied", "28000": "access_denied", "42501": "privilege",
        "3D000": "unknown_database", "3F000": "unknown_database", "42P01": "missing_table",
        "42703": "missing_column", "25006": "read_only", "57P01": "lost", "57P02": "lost",
        "08006": "lost", "08003": "lost", "42883": "type_mismatch", "42P22": "collation",
        "42P21": "collation",
    }
    error_texts: ClassVar[dict[str, str]] = {
        "canceling statement due to statement timeout": "timeout",
        "canceling statement due to user request": "interrupted",
        "connection refused": "unreachable", "could not translate host name": "unreachable",
        "failed to resolve host": "unreachable", 'role "': "access_denied",
        "no route to host": "unreachable", "timeout expired": "unreachable",
        "password authentication failed": "access_denied", "server closed the connection": "lost",
        "terminating connection": "lost", "consuming input failed": "lost",
    }
    uncoded_texts: ClassVar[dict[str, str]] = {"does not exist": "unknown_database"}  # FATAL: database "x" ...
    collations_sql = ("SELECT a.attname, c.collname FROM pg_catalog.pg_attribute a "
                      "JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation "
                      "WHERE a.attrelid = to_regclass(quote_ident(:schema) || '.' || quote_ident(:table)) "
                      "AND a.attnum > 0 AND NOT a.attisdropped")
    _TIMEOUT_KEY = "crossquery_statement_timeout"

    def server_key(self, url: URL) -> tuple:
        return (*super().server_key(url), url.database)

    def describe_server(self, url: URL) -> str:
        return f"{super().describe_server(url)}/{url.database}"

    def engine_options(self, url: URL) -> dict[str, Any]:
        # Read-only as a connection option: set before any statement, and RESET returns to it.
        # Autocommit: each statement is its own (read-only) transaction, so session settings
        # persist and no BEGIN/ROLLBACK travel with each query. libpq waits forever to
        # connect unless told otherwise.
        options = " ".join(filter(None, [url.query.get("options"), "-c default_transaction_read_only=on"]))
        connect_args: dict[str, Any] = {"options": options}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = 10
        if "application_name" not in url.query:
            connect_args["application_name"] = "crossquery explorer"
        return {"isolation_level": "AUTOCOMMIT", "connect_args": connect_args}

    def session_setup(self) -> list[str]:
        return ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"]

    def bounded(self, connection: sa.Connection, sql: str, seconds: float) -> tuple[list[str], str]:
        # A session setting (autocommit keeps it), sent only when this connection's value changes.
        milliseconds = max(1, round(seconds * 1000))
        info = connection.connection.info
        if info.get(self._TIMEOUT_KEY) == milliseconds:
            return [], sql
        info[self._TIMEOUT_KEY] = milliseconds  # the executor drops the connection if the SET fails
        return [f"SET statement_timeout = {milliseconds}"], sql

    def chunks(self, cursor, sql: str, params, size: int) -> Iterator[list[tuple]]:
        import psycopg

        try:
            rows = cursor.stream(sql, params, size=size)
            first = next(rows, None)
        except psycopg.NotSupportedError:  # libpq < 17 streams row by row only
            rows = cursor.stream(sql, params)
            first = next(rows, None)
        if first is None:
            return
        yield [first, *itertools.islice(rows, size - 1)]
        while chunk := list(itertools.islice(rows, size)):
            yield chunk

    def cancel(self, engine: Engine, dbapi_connection) -> None:
        getattr(dbapi_connection, "cancel_safe", dbapi_connection.cancel)()

    def connection_id(self, dbapi_connection) -> Any:
        return dbapi_connection.info.backend_pid

    def error_code(self, orig: BaseException) -> Any:
        return getattr(orig, "sqlstate", None)


class SQLiteBackend(Backend):
    """SQLite files attached read-only to one in-memory connection under their logical names."""

    name = "sqlite"
    dialect_names = ("sqlite",)
    error_texts: ClassVar[dict[str, str]] = {
        "interrupted": "timeout", "readonly database": "read_only", "not authorized": "read_only",
        "authorization denied": "read_only",
        "no such table": "missing_table", "no such column": "missing_column",
        "unable to open database": "unknown_database", "attempt to write": "read_only",
    }

    def server_key(self, url: URL) -> tuple:
        return ("sqlite",)

    def describe_server(self, url: URL) -> str:
        return "sqlite (files attached to one connection)"

    def make_engine(self, databases: list[Database]) -> Engine:
        files = {db.schema: sqlite_path(db) for db in databases}

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(
                "file:crossquery?mode=memory&cache=private", uri=True, check_same_thread=False
            )
            for schema, path in files.items():
                connection.execute("ATTACH DATABASE ? AS " + _quote_sqlite(schema), (path.as_uri() + "?mode=ro",))
            connection.execute("PRAGMA query_only = ON")
            connection.set_authorizer(_sqlite_read_only)
            return connection

        # A small queue of connections, each used by one thread at a time.
        return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.QueuePool,
                                pool_size=5, max_overflow=10)

    def start_timeout(self, dbapi_connection, seconds: float):
        deadline = time.monotonic() + seconds
        dbapi_connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        return lambda: dbapi_connection.set_progress_handler(None, 0)

    def cancel(self, engine: Engine, dbapi_connection) -> None:
        dbapi_connection.interrupt()


_SQLITE_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                   sqlite3.SQLITE_RECURSIVE, sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT}
# PRAGMAs that take an argument yet only read (reflection uses them).
_SQLITE_READ_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                        "foreign_key_list"}


def _sqlite_read_only(action: int, arg1, arg2, database, trigger) -> int:
    """SQLite authorizer: reads only. No write, ATTACH/DETACH or PRAGMA change, even on purpose."""
    if action in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg2 is None or (arg1 or "").lower() in _SQLITE_READ_PRAGMAS):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _quote_sqlite(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sqlite_path(db: Database) -> Path:
    path = db.url.database
    if not path or path == ":memory:":
        raise ConfigError(f"databases.{db.name}.url: a SQLite database must be a file path, got {mask_url(db.url)!r}.")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"databases.{db.name}.url: the SQLite file {str(path)!r} does not exist; "
                          "check the path (relative paths start at the config file's folder).")
    return path


_BACKENDS: dict[str, Backend] = {}
for _backend in (MySQLBackend(), PostgreSQLBackend(), SQLiteBackend()):
    for _dialect in _backend.dialect_names:
        _BACKENDS[_dialect] = _backend


def backend_for(url: URL) -> Backend:
    """The backend of a URL's dialect (the part before '+' in the driver name)."""
    return _BACKENDS[url.get_backend_name()]


def known_dialects() -> list[str]:
    return sorted(_BACKENDS)


_ENGINES: dict[tuple, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(backend: Backend, databases: list[Database]) -> Engine:
    """One pooled engine per server and set of attached files, shared by every run."""
    key = (backend.name, tuple((db.schema, db.url.render_as_string(hide_password=False)) for db in databases)
           if backend.name == "sqlite" else backend.engine_url(databases).render_as_string(hide_password=False))
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = backend.make_engine(databases)
        return _ENGINES[key]


# ---------------------------------------------------------------------------
# Driver errors as one sentence


def driver_message(orig: BaseException) -> str:
    """The driver's own words, on one line, without a trailing period."""
    args = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        text = f"{args[1]} (error {args[0]})"
    else:
        text = str(orig).split("\nLINE ")[0].strip() or type(orig).__name__  # PostgreSQL's caret lines
    return " ".join(text.split()).rstrip(".")


def server_error(db: Database, exc: BaseException, doing: str, secrets: list[str | None],
                 sql: str | None = None, timeout: float | None = None,
                 detail: str | None = None) -> ExecutionError:
    """One sentence for a failed server call: what failed, where (URL masked), and what to do.

    ``doing`` completes "Could not ...", e.g. "run the query on" or "read the columns of User from";
    ``detail``, when given, replaces the generic hint with sentences of its own (see
    ``explorer.diagnose.explain_join_error``).
    """
    orig = getattr(exc, "orig", None) or exc
    backend = backend_for(db.url)
    kind = backend.error_kind(orig)
    message = driver_message(orig)
    if kind in ("unreachable", "access_denied", "unknown_database"):
        text = f"Could not connect to {db.where} ({message}); {HINTS[kind]}."
    elif kind == "timeout" and timeout is not None:
        text = (f"The query on {db.where} was stopped after its timeout of {timeout:g} s "
                f"({message}); raise timeout: in the query or the config (or pass timeout=N) if it "
                "should run longer, or add a filter or a limit.")
    elif detail:
        text = f"Could not {doing} {db.where} ({message}). {detail.rstrip('.')}."
    else:
        hint = f"; {HINTS[kind]}" if kind else ""
        text = f"Could not {doing} {db.where} ({message}){hint}."
    error = ExecutionError(scrub(text, secrets), sql=sql)
    error.kind = kind
    return error
