"""Run a compiled query as ONE statement on the one server that holds its databases.

All databases of a query must share a server (same driver, host, port, user;
or SQLite files, attached to one connection). The statement runs on a
read-only session with a time bound; rows come back as plain tuples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from .backends import mask_url
from .compile import Compiled
from .config import Config, _driver_message
from .errors import ExecutionError, QueryError

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_ROWS = 2_000_000
_FETCH_CHUNK = 50_000


@dataclass
class Execution:
    """What came back from the server, before shaping."""

    labels: list[str]
    rows: list[tuple]
    sql: str
    params: dict[str, Any]
    dialect: str
    databases: list[str]
    elapsed: float
    statements: int = 1
    extra: dict = field(default_factory=dict)


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
    """(sql text, params) for a dialect; by default the dialect of the server that runs it."""
    databases = databases_of(config, compiled)
    if dialect is None:
        dialect = config.databases[databases[0]].url.get_dialect()()
    statement = compiled.statement.params(values) if values else compiled.statement
    complete = set(values) >= set(compiled.query.param_names)
    kwargs = {"literal_binds": True} if literal else {"render_postcompile": complete}
    try:
        text = statement.compile(dialect=dialect, schema_translate_map=schema_map(config, databases),
                                 render_schema_translate=True,
                                 compile_kwargs=kwargs)
    except (sa.exc.CompileError, NotImplementedError) as exc:
        raise ExecutionError(f"Could not render the statement for {dialect.name}: {exc}") from None
    if text.positional:
        params = {name: text.params[name] for name in text.positiontup}
    else:
        params = dict(text.params)
    return str(text), ({} if literal else params), text


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
            timeout: float | None = None, max_rows: int | None = None) -> Execution:
    """Run the compiled query as exactly one statement and fetch its rows."""
    values = bind_values(compiled, params)
    databases = databases_of(config, compiled)
    check_one_server(config, databases)
    backend = config.backend(databases[0])
    engine = config.engine(databases[0])
    sql, shown_params, text = render(config, compiled, values, engine.dialect)
    driver_params = tuple(shown_params.values()) if text.positional else shown_params
    timeout = timeout or compiled.query.timeout or config.timeout or DEFAULT_TIMEOUT
    max_rows = max_rows or compiled.query.max_rows or config.max_rows or DEFAULT_MAX_ROWS
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            rows, labels = _run(backend, connection, sql, driver_params, timeout, max_rows)
    except sa.exc.DBAPIError as exc:
        raise _execution_error(config, databases, exc, sql, timeout) from None
    return Execution(labels, rows, sql, shown_params, engine.dialect.name, databases,
                     time.perf_counter() - started)


def _run(backend, connection, sql, params, timeout, max_rows):
    dbapi = connection.connection.dbapi_connection
    cursor = dbapi.cursor()
    stop_timer = backend.start_timeout(dbapi, timeout)
    try:
        for statement in backend.timeout_statements(timeout):
            cursor.execute(statement)
        connection.dialect.do_execute(cursor, sql, params, None)
        labels = [d[0] for d in cursor.description]
        rows = _fetch(cursor, max_rows)
    except connection.dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, params, exc, connection.dialect.loaded_dbapi.Error) from exc
    finally:
        stop_timer()
        cursor.close()
    return rows, labels


def _fetch(cursor, max_rows: int) -> list[tuple]:
    rows: list[tuple] = []
    while True:
        chunk = cursor.fetchmany(_FETCH_CHUNK)
        if not chunk:
            return rows
        rows.extend(chunk)
        if len(rows) > max_rows:
            raise ExecutionError(
                f"The query returned more than max_rows={max_rows:,} joined rows, so it was stopped "
                "to protect memory. Add a limit or a filter, or raise max_rows (in the query, "
                "the config, or run(..., max_rows=N))."
            )


def _execution_error(config: Config, databases: list[str], exc: sa.exc.DBAPIError, sql: str, timeout: float):
    db = config.databases[databases[0]]
    message = _driver_message(exc)
    lowered = message.lower()
    if "interrupted" in lowered or "max_statement_time" in lowered or "statement timeout" in lowered \
            or "canceling statement" in lowered or "max_execution_time" in lowered:
        hint = f" The statement ran longer than the timeout of {timeout:g} s; raise timeout: in the query or config."
    elif "read-only" in lowered or "read only" in lowered or "readonly" in lowered:
        hint = " The toolkit opens every session read-only."
    else:
        hint = ""
    where = ", ".join(databases)
    return ExecutionError(
        f"The server refused the query on {where} ({mask_url(db.url)}): {message}.{hint}", sql=sql
    )
