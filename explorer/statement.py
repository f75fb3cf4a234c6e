"""The one statement of a compiled query, with its values: rendered for the engine that runs it.

An engine (see ``explorer.engines``) gives a *target*: its name, the SQLAlchemy
dialect that writes its SQL and how each logical database's tables are named
there (the server's database or schema, ``catalog.schema`` in DuckDB and Spark).
The same compiled statement renders for any target, or for another dialect to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from .compile import Compiled
from .config import Config
from .errors import ExecutionError, QueryError
from .export import export_statement, format_sql

# Dialects to_sql(dialect=...) renders for besides SQLAlchemy's own (name -> registry name).
EXTRA_DIALECTS = {"trino": "trino", "duckdb": "duckdb", "spark": "explorer.spark"}


@dataclass
class Target:
    """Where the statement runs: the engine's name, its dialect and its table names."""

    engine: str  # server | duckdb | spark
    dialect: Any  # a SQLAlchemy Dialect instance
    schemas: dict[str, str]  # logical database -> schema as the engine names it
    runner: Any = field(default=None, repr=False)  # the engine object (explain); None: render only


def databases_of(config: Config, compiled: Compiled) -> list[str]:
    """The logical databases the statement touches, root first."""
    return list(dict.fromkeys(config.models[m].database for m in compiled.models))


def bind_values(compiled: Compiled, params: dict[str, Any] | None, strict: bool = True) -> dict[str, Any]:
    """The values for the query's :name parameters; a missing one is a QueryError."""
    params = params or {}
    needed = compiled.query.param_names
    missing = [name for name in needed if name not in params]
    if missing and strict:
        error = QueryError(f"The query uses {', '.join(':' + m for m in missing)} but no value was given. "
                           f"Pass params={{{', '.join(repr(m) + ': ...' for m in missing)}}} "
                           "(in a notebook, define the variable).")
        error.missing = missing  # the CLI says it its own way (--param name=VALUE)
        raise error
    return {name: params[name] for name in needed if name in params}


def schema_map(config: Config, databases: list[str]) -> dict[str, str]:
    """Logical database -> the server's schema name: the one-server engine's table names."""
    return {name: config.databases[name].schema for name in databases}


def server_target(config: Config, databases: list[str]) -> Target:
    """The target of the one server that holds ``databases`` (no runner: render only)."""
    return Target("server", config.engine(databases[0]).dialect, schema_map(config, databases))


@dataclass
class Rendered:
    """The statement as one engine receives it."""

    sql: str  # with the dialect's placeholders
    shown: dict[str, Any]  # parameter name -> value, as people read them
    driver: Any  # the values exactly as the driver takes them (positional tuple or dict)
    compiled: Any  # SQLAlchemy's compiled statement


def render(config: Config, compiled: Compiled, values: dict[str, Any], dialect, schemas: dict[str, str],
           literal: bool = False) -> Rendered:
    """The statement for ``dialect`` with tables named by ``schemas``.

    With every value given, expanding parameters (IN lists) are rendered as the
    server receives them; ``literal=True`` inlines the values for reading.
    """
    if literal:  # no driver sees this text: keep '%' single for format/pyformat dialects
        dialect = type(dialect)(paramstyle="named")
    statement = compiled.statement.params(values) if values else compiled.statement
    try:
        text = statement.compile(dialect=dialect, schema_translate_map=schemas, render_schema_translate=True,
                                 compile_kwargs={"literal_binds": True} if literal else {})
    except (sa.exc.CompileError, NotImplementedError) as exc:
        raise ExecutionError(f"Could not render the statement for {dialect.name}: {exc}") from None
    if literal:
        return Rendered(str(text), {}, (), text)
    if not set(values) >= set(compiled.query.param_names):  # prepare() before every value is known
        return Rendered(str(text), dict(text.params), (), text)
    state = text.construct_expanded_state()
    shown = {name: state.parameters[name] for name in (state.positiontup or state.parameters)}
    processors = {**text._bind_processors, **state.processors}  # the types' own conversions
    processed = {name: (processors[name](value) if name in processors else value)
                 for name, value in state.parameters.items()}
    driver = tuple(processed[name] for name in state.positiontup) if text.positional else processed
    return Rendered(state.statement, shown, driver, text)


class Statement:
    """A compiled query with its parameter values: the SQL, ready to read, render, explain or run."""

    def __init__(self, config: Config, compiled: Compiled, values: dict[str, Any], target: Target | None = None):
        self.config = config
        self.compiled = compiled
        self.values = values
        self._target = target

    @property
    def query(self):
        return self.compiled.query

    @cached_property
    def target(self) -> Target:
        return self._target or server_target(self.config, self.databases)

    @property
    def engine(self) -> str:
        """The engine that runs the statement: ``server``, ``duckdb`` or ``spark``."""
        return self.target.engine

    @cached_property
    def rendered(self) -> Rendered:
        return render(self.config, self.compiled, self.values, self.target.dialect, self.target.schemas)

    @property
    def sql(self) -> str:
        """The statement as the engine receives it, with placeholders."""
        return self.rendered.sql

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.rendered.shown)

    @property
    def dialect(self) -> str:
        return self.target.dialect.name

    @property
    def databases(self) -> list[str]:
        return databases_of(self.config, self.compiled)

    def render_for(self, dialect: str | None = None, literal: bool = False) -> str:
        """The statement's text for ``dialect`` (default: the engine's), values inlined or not."""
        if dialect is None or dialect == self.dialect:
            target_dialect, schemas = self.target.dialect, self.target.schemas
        else:
            target_dialect, schemas = load_dialect(dialect), self.schemas_for(dialect)
        if dialect == "trino" and self.compiled.strategy == "json":
            raise QueryError("dialect trino: the JSON strategy has no Trino rendering here (it is "
                             "not tested against a Trino server); add strategy: join to the query.")
        return render(self.config, self.compiled, self.values, target_dialect, schemas, literal).sql

    def schemas_for(self, dialect: str) -> dict[str, str]:
        """Table names for another dialect: Trino's ``catalog.schema`` when the config gives a
        catalog, the servers' own schema names otherwise."""
        schemas = schema_map(self.config, self.databases)
        if dialect == "trino":
            return {name: trino_schema(self.config, name) for name in schemas}
        return schemas

    def to_sql(self, dialect: str | None = None, literal: bool = False) -> str:
        """The statement formatted for reading, for another dialect or with values inlined.

        >>> print(result.to_sql(dialect="postgresql", literal=True))  # doctest: +SKIP
        """
        if dialect is None and not literal:
            return format_sql(self.sql)
        return format_sql(self.render_for(dialect, literal))

    def explain(self) -> str:
        """The engine's own plan for the statement (EXPLAIN on the server, DuckDB's EXPLAIN with its
        remote scans, Spark's explain()), as text."""
        if self.target.runner is None:
            raise ExecutionError("explain(): this statement was rendered without an engine to ask; "
                                 "use explorer.prepare(...) or a Result.")
        return self.target.runner.explain(self)

    def export(self, path, dialect: str | None = None, literal: bool = False):
        """Write the statement as a commented .sql snippet file."""
        return export_statement(self, path, dialect=dialect, literal=literal)

    def __repr__(self) -> str:
        return f"<Statement {self.query.model} on {', '.join(self.databases)} ({self.engine})>\n{self.to_sql()}"


def trino_schema(config: Config, name: str) -> str:
    """``catalog.schema`` for database ``name`` on Trino (``databases.<name>.catalog``), pre-quoted
    as two identifiers: the trino dialect would quote ``"catalog.schema"`` as one."""
    db = config.databases[name]
    catalog = getattr(db, "catalog", None)
    if not catalog:
        raise QueryError(f"dialect trino: databases.{name}.catalog is not set; give each database the "
                         "Trino catalog that serves it (databases: {name: {catalog: ...}}).")
    return qualified(catalog, db.schema, quote='"')


def qualified(*parts: str, quote: str) -> sa.sql.quoted_name:
    """``"catalog"."schema"`` as one schema name that SQLAlchemy writes as it is: each part
    quoted (the quote character doubled inside), so no dialect quotes the dotted name as one."""
    text = ".".join(quote + part.replace(quote, quote * 2) + quote for part in parts)
    return sa.sql.quoted_name(text, quote=False)


def load_dialect(name: str):
    try:
        return sa.dialects.registry.load(EXTRA_DIALECTS.get(name, name))()
    except sa.exc.NoSuchModuleError:
        raise QueryError(f"Unknown SQL dialect {name!r}. Try mysql, mariadb, sqlite, postgresql, duckdb "
                         "or trino.") from None
