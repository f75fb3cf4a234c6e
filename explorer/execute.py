"""Pick the engine that runs a query's ONE statement, and run or explain it there.

``engine: server`` runs it on the one server that holds every database of the query;
``duckdb`` in an in-process DuckDB with each database attached read-only; ``spark``
as Spark SQL with each database a JDBC catalog. ``auto`` (the default) takes the
server when one holds them all and DuckDB otherwise (see ``explorer.engines``).
"""

from __future__ import annotations

import importlib
from typing import Any

from .compile import Compiled
from .config import Config
from .engines import ENGINES
from .engines.run import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT, Engine, Execution
from .engines.server import ServerEngine
from .errors import ExecutionError, QueryError
from .statement import Statement, bind_values, databases_of

__all__ = ["DEFAULT_MAX_ROWS", "DEFAULT_TIMEOUT", "Execution", "engine_for", "execute", "prepare_statement", "run_statement"]

# engine name -> (module under explorer.engines, its class, the extra that installs what it needs)
_ENGINE_MODULES = {"duckdb": ("duckdb", "DuckDBEngine", "duckdb"), "spark": ("spark", "SparkEngine", "spark")}
_NEEDS = {"duckdb": "duckdb", "spark": "pyspark"}


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
        "or let an engine built for it join them as one statement: engine: duckdb (what auto picks) "
        "or engine: {spark: {master: ...}}."
    )


def on_one_server(config: Config, databases: list[str]) -> bool:
    return len({config.server_key(name) for name in databases}) <= 1


def engine_name(config: Config, databases: list[str], wanted: str | None = None) -> str:
    """The engine for these databases: ``wanted`` (run(..., engine=)), else the config's, else auto."""
    wanted = wanted or config.engine_choice or "auto"
    if wanted not in ENGINES:
        raise QueryError(f"engine: expected one of {', '.join(ENGINES)}, got {wanted!r}.")
    if wanted == "auto":
        return "server" if on_one_server(config, databases) else "duckdb"
    return wanted


def engine_for(config: Config, databases: list[str], wanted: str | None = None) -> Engine:
    """The engine object that renders, runs and explains the statement over ``databases``."""
    name = engine_name(config, databases, wanted)
    if name == "server":
        check_one_server(config, databases)
        return ServerEngine(config, databases)
    module_name, class_name, extra = _ENGINE_MODULES[name]
    try:
        importlib.import_module(_NEEDS[name])
    except ImportError:
        why = "" if wanted else (" (engine: auto takes DuckDB because no single server holds "
                                 f"{', '.join(databases)})")
        raise ExecutionError(f"engine: {name} needs the {extra} extra{why}: "
                             f"pip install 'crossquery-explorer[{extra}]'.") from None
    module = importlib.import_module(f"explorer.engines.{module_name}")
    return getattr(module, class_name)(config, databases)


def prepare_statement(config: Config, compiled: Compiled, values: dict[str, Any],
                      engine: str | None = None) -> Statement:
    """The statement rendered for the engine that would run it (nothing runs)."""
    runner = engine_for(config, databases_of(config, compiled), engine)
    return Statement(config, compiled, values, runner.target())


def execute(config: Config, compiled: Compiled, params: dict[str, Any] | None = None,
            timeout: float | None = None, max_rows: int | None = None, reader: str | None = None,
            engine: str | None = None) -> Execution:
    """Run the compiled query as exactly one statement on its engine and fetch its rows."""
    statement = prepare_statement(config, compiled, bind_values(compiled, params), engine)
    return run_statement(statement, timeout=timeout, max_rows=max_rows, reader=reader)


def run_statement(statement: Statement, timeout: float | None = None, max_rows: int | None = None,
                  reader: str | None = None) -> Execution:
    """Run a prepared statement (every value given) on the engine it was rendered for.

    The session is read-only; the statement stops after ``timeout`` seconds (default 60)
    and after ``max_rows`` joined rows; Ctrl-C cancels it where it runs and leaves the
    session usable. One that runs past half a second shows its progress, with a Cancel
    button in a notebook (``explorer.progress``).
    """
    config, compiled = statement.config, statement.compiled
    for name, value in (("timeout", timeout), ("max_rows", max_rows)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise QueryError(f"{name}: expected a positive number, got {value!r} (leave it out for the "
                             f"default: {DEFAULT_TIMEOUT:g} s, {DEFAULT_MAX_ROWS:,} rows).")
    bind_values(compiled, statement.values)  # a missing value is a QueryError before anything runs
    config.check_columns([n.model for n in compiled.layout])
    timeout = timeout or compiled.query.timeout or config.timeout or DEFAULT_TIMEOUT
    max_rows = max_rows or compiled.query.max_rows or config.max_rows or DEFAULT_MAX_ROWS
    return statement.target.runner.run(statement, timeout, max_rows, reader)
