"""Exported SQL snippets: the one statement as a commented ``.sql`` file.

The header says what the file is and how it was made (the include query as
YAML, the config's databases without credentials, the dialect and the bound
parameters), so a snippet pasted into a ticket or a SQL console explains itself.

>>> explorer.prepare("shop.yaml", "from: User").export("users.sql")  # doctest: +SKIP
PosixPath('users.sql')
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml

from .engines.base import mask_url


def format_sql(text: str) -> str:
    """Reindent a statement for reading (keywords upper-case, one join per line)."""
    import sqlparse

    return sqlparse.format(text, reindent=True, keyword_case="upper", indent_width=2).strip()


def export_statement(statement, path: str | Path, dialect: str | None = None,
                     literal: bool = False) -> Path:
    """Write ``statement`` (a Statement or Result) as a commented .sql file; return its path.

    ``dialect`` renders for another SQL dialect; ``literal=True`` inlines the
    bound values (SQLAlchemy's literal rendering quotes them) so the file runs
    as is in a SQL console.
    """
    path = Path(path).expanduser()
    text = snippet_text(statement, dialect=dialect, literal=literal)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def snippet_text(statement, dialect: str | None = None, literal: bool = False) -> str:
    """The snippet file's content: header comment, then the formatted statement and ';'."""
    body = statement_sql(statement, dialect=dialect, literal=literal)
    header = header_lines(statement, dialect or statement.dialect, literal)
    return "\n".join(header) + "\n\n" + body.rstrip().rstrip(";") + ";\n"


def statement_sql(statement, dialect: str | None = None, literal: bool = False) -> str:
    """The formatted statement, for another dialect and/or with values inlined.

    Literal rendering goes through a dialect with the ``named`` paramstyle:
    the drivers' ``format``/``pyformat`` styles make SQLAlchemy double every
    ``%`` in inlined strings (``'A%%'``), which a SQL console would take literally.
    """
    if not literal:
        return statement.to_sql(dialect=dialect)
    return format_sql(statement.render_for(dialect, literal=True))


def query_yaml(statement) -> str:
    """The include query as YAML, as the user wrote it (or as the builder made it)."""
    return to_yaml(dict(statement.query.source or {"from": statement.query.model}))


def to_yaml(query: dict) -> str:
    """A query as readable YAML: block style at the top, short lists and mappings inline."""
    try:
        json.dumps(query)
    except TypeError:  # dates, decimals from a Python dict query
        query = json.loads(json.dumps(query, default=str))
    lines = []
    for key, value in query.items():
        flow = not isinstance(value, (dict, list)) or not any(isinstance(v, (dict, list)) for v in
                                                             (value.values() if isinstance(value, dict) else value))
        text = yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, width=100,
                              default_flow_style=True if flow else None)
        lines.append(text.removeprefix("{").removesuffix("}\n") + "\n" if flow else text)
    return "".join(lines)


def header_lines(statement, dialect: str, literal: bool) -> list[str]:
    """The ``--`` comment lines at the top of a snippet."""
    lines = [
        "-- crossquery explorer: ONE statement for a nested include query.",
        f"-- Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}; dialect: {dialect}"
        + ("; values inlined" if literal else "; placeholders, values below"),
        "--",
        "-- Query:",
        *_commented(query_yaml(statement)),
        "--",
        "-- Databases (logical name: where it lives):",
        *(f"--   {name}: {mask_url(statement.config.databases[name].url)}"
          for name in statement.databases),
    ]
    if statement.params:
        lines += ["--", "-- Parameters:", *_commented(_params_text(statement.params))]
    return lines


def _params_text(params: dict[str, Any]) -> str:
    return "\n".join(f"{name} = {value!r}" for name, value in params.items())


def _commented(text: str) -> list[str]:
    return [f"--   {line}" for line in text.rstrip("\n").splitlines()]
