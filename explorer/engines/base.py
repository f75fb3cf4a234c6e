"""Server kinds as data (one module per kind: mysql, postgresql, sqlite): how databases are named, grouped, connected and kept read-only.

A backend answers these questions for the rest of the pipeline:

* which databases share a server (so ONE statement can join them),
* under which schema name a logical database appears in SQL,
* how to open one connection that sees all of them, read-only at the server,
* how to bound a statement's running time, stream its rows and cancel it,
* what a driver error means (unreachable, access denied, timeout, ...).

The compiler and the executor never branch on the dialect: they ask the backend.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote, quote_plus

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from ..errors import ConfigError, ExecutionError

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
    catalog: str | None = None  # the Trino catalog that serves it (crossquery sql --dialect trino)

    def __repr__(self) -> str:
        return f"Database({self.name!r}, {mask_url(self.url)!r}, schema={self.schema!r})"

    @property
    def where(self) -> str:
        """How messages name it: ``database 'products' (mysql+pymysql://u:***@host/products)``."""
        return f"database {self.name!r} ({mask_url(self.url)})"


@dataclass(frozen=True)
class Features:
    """What an engine supports, as data (shown in the README and by ``crossquery check``)."""

    qualify: str  # how a table is named in the statement
    read_only: str  # how the session is kept from writing
    timeout: str  # how a statement is bounded in time
    cancel: str  # how Ctrl-C stops it where it runs
    nesting: str  # the functions the JSON strategy nests with
    paramstyle: str  # how values reach it
    readers: tuple[str, ...] = ("driver",)


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
    features: ClassVar[Features]  # what the one-server engine does on this kind of server
    supports_arrow: ClassVar[bool] = False  # the connectorx fast path (see explorer.fast)
    # driver error code (errno or SQLSTATE) -> kind of failure (a key of HINTS)
    error_codes: ClassVar[dict[Any, str]] = {}
    # lower-case message fragments -> kind, for errors whose code the table above lacks
    error_texts: ClassVar[dict[str, str]] = {}
    # ... and fragments that decide only when the error carries no code at all (failed connections)
    uncoded_texts: ClassVar[dict[str, str]] = {}
    # column name -> collation of a table's columns (:schema, :table), for explaining a failed join
    collations_sql: ClassVar[str | None] = None

    explain_prefix: ClassVar[str] = "EXPLAIN"  # what asks the server for its plan

    def default_schema(self, logical: str, url: URL) -> str:
        return logical

    def plan_text(self, names: list[str], rows: list[tuple]) -> str:
        """The server's EXPLAIN rows as text: its own lines, or a table of its columns."""
        if len(names) == 1:
            return "\n".join(str(row[0]) for row in rows)
        cells = [names] + [["NULL" if v is None else str(v) for v in row] for row in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(names))]
        lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
        return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])

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

    def deferred(self, cursor) -> dict[int, Any]:
        """Column index -> the driver's converter, for the columns ``chunks`` left as the server's
        text: ``decode.read_each`` applies it after the read, as the driver would have."""
        return {}

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


# Server kinds by dialect name (the part of a URL's driver name before '+'); each kind's
# module registers itself on import (explorer.engines imports them all).
_BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    for dialect in backend.dialect_names:
        _BACKENDS[dialect] = backend
    return backend


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
