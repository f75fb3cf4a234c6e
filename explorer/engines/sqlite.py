"""SQLite files as one server: each file attached read-only to one in-memory connection."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from ..errors import ConfigError
from .base import Backend, Database, Features, mask_url, register


class SQLiteBackend(Backend):
    """SQLite files attached read-only to one in-memory connection under their logical names."""

    name = "sqlite"
    dialect_names = ("sqlite",)
    features = Features(
        qualify='"attached"."table": each file attached to one in-memory connection under its logical name',
        read_only="files attached mode=ro, PRAGMA query_only, an authorizer that allows reads only",
        timeout="a progress handler that stops the statement at its deadline",
        cancel="sqlite3's interrupt()",
        nesting="json_group_array(json_object(...)), reals and blobs tagged, lists sorted by SQLite's rules",
        paramstyle="qmark, bound by sqlite3",
    )
    error_texts: ClassVar[dict[str, str]] = {
        "interrupted": "timeout", "readonly database": "read_only", "not authorized": "read_only",
        "authorization denied": "read_only",
        "no such table": "missing_table", "no such column": "missing_column",
        "unable to open database": "unknown_database", "attempt to write": "read_only",
    }

    explain_prefix = "EXPLAIN QUERY PLAN"

    def server_key(self, url: URL) -> tuple:
        return ("sqlite",)

    def plan_text(self, names: list[str], rows: list[tuple]) -> str:
        """EXPLAIN QUERY PLAN rows (id, parent, notused, detail) as SQLite's shell draws them."""
        depth: dict[int, int] = {0: -1}
        lines = ["QUERY PLAN"]
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("   " * depth[node] + "|--" + str(detail))
        return "\n".join(lines)

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
    return path.resolve()  # a dict config's relative path is relative to the working directory


register(SQLiteBackend())
