"""MySQL and MariaDB as a server: logical databases are server databases, reached by PyMySQL."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import sqlalchemy as sa
from pymysql import converters
from pymysql.constants import FIELD_TYPE
from sqlalchemy.engine import URL, Engine

from ..decode import pymysql_converter
from .base import Backend, Database, Features, register


# Field types whose text PyMySQL parses in Python, value by value (a regular expression and a
# constructor each). Their values repeat (a flat join repeats its parents' columns), so the
# text is parsed once per distinct text instead.
_DEFERRED = frozenset({
    FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL, FIELD_TYPE.DATE, FIELD_TYPE.TIME, FIELD_TYPE.DATETIME,
    FIELD_TYPE.TIMESTAMP, FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.LONG, FIELD_TYPE.LONGLONG,
    FIELD_TYPE.INT24, FIELD_TYPE.YEAR,
})


class MySQLBackend(Backend):
    """MySQL and MariaDB over PyMySQL: logical databases are server databases."""

    name = "mysql"
    dialect_names = ("mysql", "mariadb")
    features = Features(
        qualify="`database`.`table`: every logical database is a database of the server",
        read_only="SET SESSION TRANSACTION READ ONLY on every new session",
        timeout="MariaDB: SET STATEMENT max_statement_time=N FOR ...; MySQL: /*+ MAX_EXECUTION_TIME(ms) */",
        cancel="KILL QUERY <thread id> from a second connection; the session stays usable",
        nesting="JSON_ARRAY(COUNT(*), JSON_ARRAYAGG(JSON_OBJECT(...) ORDER BY ...)), values as CAST(... AS CHAR)",
        paramstyle="pyformat, escaped by PyMySQL on the client",
        readers=("driver", "arrow"),
    )
    error_codes: ClassVar[dict[Any, str]] = {
        2003: "unreachable", 2005: "unreachable", 1045: "access_denied", 1044: "access_denied",
        1698: "access_denied",  # "Access denied for user" by an auth plugin (unix_socket, unknown user)
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

    def chunks(self, cursor, sql: str, params, size: int):
        # The text of these types is left as text while the rows are read, and parsed after,
        # once per distinct text, by the connection's own converter (see ``deferred``).
        connection = cursor.connection
        decoders = connection.decoders
        connection.decoders = {kind: convert for kind, convert in decoders.items() if kind not in _DEFERRED}
        try:
            cursor.execute(sql, params)  # PyMySQL takes each column's converter here
        finally:
            connection.decoders = decoders
        while chunk := cursor.fetchmany(size):
            yield chunk

    def deferred(self, cursor) -> dict[int, Any]:
        decoders = cursor.connection.decoders
        return {index: pymysql_converter(decoders[kind]) for index, (_, kind, *_) in enumerate(cursor.description or ())
                if kind in _DEFERRED and decoders.get(kind) not in (None, converters.through)}

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


register(MySQLBackend())
