"""Server kinds as data: how databases are named, grouped, connected and kept read-only.

A backend answers four questions for the rest of the pipeline:

* which databases share a server (so ONE statement can join them),
* under which schema name a logical database appears in SQL,
* how to open one connection that sees all of them, read-only,
* how to bound a statement's running time.

The compiler never branches on the dialect: it asks the backend.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from .errors import ConfigError


def mask_url(url: URL | str) -> str:
    """The URL as text with its password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True) if url else ""


@dataclass(frozen=True)
class Database:
    """A logical database of the config and where it lives."""

    name: str
    url: URL
    schema: str  # the name the server knows it by (database, attached name or schema)

    def __repr__(self) -> str:
        return f"Database({self.name!r}, {mask_url(self.url)!r}, schema={self.schema!r})"


class Backend:
    """Base class: one subclass per server kind."""

    name: ClassVar[str]
    dialect_names: ClassVar[tuple[str, ...]]
    supports_json_aggregation: ClassVar[bool] = True

    def default_schema(self, logical: str, url: URL) -> str:
        return logical

    def server_key(self, url: URL) -> tuple:
        """Databases with equal keys can be joined by one statement."""
        return (self.name, url.host or "localhost", url.port, url.username)

    def describe_server(self, url: URL) -> str:
        return f"{url.drivername}://{url.username or ''}@{url.host or 'localhost'}:{url.port or ''}"

    def engine_url(self, databases: list[Database]) -> URL:
        return databases[0].url

    def make_engine(self, databases: list[Database]) -> Engine:
        engine = sa.create_engine(self.engine_url(databases), pool_pre_ping=True)
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

    def timeout_statements(self, seconds: float) -> list[str]:
        """Statements that bound the next statement's running time on this session."""
        return []

    def start_timeout(self, dbapi_connection, seconds: float):
        """Hook for backends that bound time client-side; returns a callable that stops it."""
        return lambda: None


class MySQLBackend(Backend):
    """MySQL and MariaDB over PyMySQL: logical databases are server databases."""

    name = "mysql"
    dialect_names = ("mysql", "mariadb")

    def default_schema(self, logical: str, url: URL) -> str:
        return url.database or logical

    def engine_url(self, databases: list[Database]) -> URL:
        url = databases[0].url
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url

    def session_setup(self) -> list[str]:
        return ["SET SESSION TRANSACTION READ ONLY"]

    def timeout_statements(self, seconds: float) -> list[str]:
        # MariaDB reads max_statement_time in seconds; MySQL has max_execution_time in ms.
        return [f"SET SESSION max_statement_time = {float(seconds):.3f}"]


class PostgreSQLBackend(Backend):
    """PostgreSQL: logical databases are schemas of one database."""

    name = "postgresql"
    dialect_names = ("postgresql",)

    def server_key(self, url: URL) -> tuple:
        return (*super().server_key(url), url.database)

    def describe_server(self, url: URL) -> str:
        return f"{super().describe_server(url)}/{url.database}"

    def session_setup(self) -> list[str]:
        return ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"]

    def timeout_statements(self, seconds: float) -> list[str]:
        return [f"SET statement_timeout = {int(seconds * 1000)}"]


class SQLiteBackend(Backend):
    """SQLite files attached to one in-memory connection under their logical names."""

    name = "sqlite"
    dialect_names = ("sqlite",)

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
            return connection

        return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.SingletonThreadPool)

    def start_timeout(self, dbapi_connection, seconds: float):
        deadline = time.monotonic() + seconds
        dbapi_connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        return lambda: dbapi_connection.set_progress_handler(None, 0)


def _quote_sqlite(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sqlite_path(db: Database) -> Path:
    path = db.url.database
    if not path or path == ":memory:":
        raise ConfigError(f"databases.{db.name}.url: a SQLite database must be a file path, got {mask_url(db.url)!r}.")
    return Path(path)


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
