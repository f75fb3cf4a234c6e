"""PostgreSQL as a server: logical databases are schemas of one database, reached by psycopg."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from .base import Backend, Features, register


class PostgreSQLBackend(Backend):
    """PostgreSQL: logical databases are schemas of one database."""

    name = "postgresql"
    dialect_names = ("postgresql",)
    features = Features(
        qualify='"schema"."table": every logical database is a schema of one database',
        read_only="default_transaction_read_only=on as a connection option, then SET SESSION "
                  "CHARACTERISTICS AS TRANSACTION READ ONLY",
        timeout="SET statement_timeout (sent when it changes)",
        cancel="libpq's cancel request for the session's backend",
        nesting="json_agg(json_build_object(...) ORDER BY ...), values as CAST(... AS TEXT), sent as text",
        paramstyle="%(name)s, bound by psycopg",
    )
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


register(PostgreSQLBackend())
