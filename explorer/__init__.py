"""crossquery explorer: nested cross-database include queries as ONE SQL statement.

>>> import explorer
>>> result = explorer.run("shop.yaml", {"from": "User", "include": ["orders"]})  # doctest: +SKIP
>>> result.frame, result.frames, result.records                                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .check import Finding, check_config, has_errors
from .compile import compile_query
from .config import Config, load_config
from .diagram import diagram  # a function; importing it first keeps the submodule from shadowing it
from .errors import ConfigError, ExecutionError, ExplorerError, QueryError
from .execute import execute, prepare_statement, run_statement  # noqa: F401 - explorer.execute(...) as before
from .introspect import Draft, draft_config
from .shape import Result
from .statement import Statement, bind_values
from .tree import Query, parse_query

__all__ = [
    "Config",
    "Finding",
    "ConfigError",
    "ExecutionError",
    "ExplorerError",
    "Query",
    "QueryError",
    "Result",
    "Statement",
    "builder",
    "check",
    "check_config",
    "compile_query",
    "diagram",
    "has_errors",
    "init",
    "load_config",
    "load_ipython_extension",
    "parse_query",
    "prepare",
    "run",
]
__version__ = "0.1.0"


def prepare(config: Any, query: Any, params: dict[str, Any] | None = None, *,
            engine: str | None = None) -> Statement:
    """Compile a query to its one statement without running it.

    >>> print(explorer.prepare("shop.yaml", "from: User\\ninclude: [orders]").sql)  # doctest: +SKIP
    """
    config = load_config(config)
    compiled = compile_query(config, parse_query(config, query))
    return prepare_statement(config, compiled, bind_values(compiled, params, strict=False), engine)


def run(config: Any, query: Any, params: dict[str, Any] | None = None, *,
        timeout: float | None = None, max_rows: int | None = None, reader: str | None = None,
        engine: str | None = None) -> Result:
    """Run a nested include query as ONE statement and return its Result.

    ``config`` is a path, a dict or a loaded Config; ``query`` a dict, a YAML
    string or a YAML file path; ``params`` the values of ``:name`` placeholders;
    ``reader`` ``auto`` (default), ``driver`` or ``arrow`` (see explorer.engines.arrow);
    ``engine`` ``auto`` (default), ``server``, ``duckdb`` or ``spark`` (see explorer.execute).
    """
    config = load_config(config)
    compiled = compile_query(config, parse_query(config, query))
    values = bind_values(compiled, params)
    statement = prepare_statement(config, compiled, values, engine)
    execution = run_statement(statement, timeout=timeout, max_rows=max_rows, reader=reader)
    return Result(config, compiled, execution, values, statement.target)


def check(config: Any) -> list[Finding]:
    """Check a config against the live databases: one Finding per problem (see explorer.check).

    >>> for finding in explorer.check("shop.yaml"): print(finding)  # doctest: +SKIP
    """
    return check_config(config)


def init(urls: Any) -> Draft:
    """Draft a config from live schemas: ``init(["mysql+pymysql://me@db/sales", "sqlite:///x.db"])``.

    ``.yaml`` is the file to review (passwords as ``${VAR}``), ``.data`` the config dict,
    ``.notes`` what was inferred or skipped (see explorer.introspect).
    """
    return draft_config([urls] if isinstance(urls, str) else list(urls))


def load_ipython_extension(ipython) -> None:
    """``%load_ext explorer``: register the %crossquery magics."""
    from .magic import load_ipython_extension as load

    load(ipython)


def builder(config: Any, query: Any = None):
    """The ipywidgets include builder with a live SQL preview (see explorer.widget)."""
    from .widget import builder as make

    return make(load_config(config), query=query)
