"""Rich notebook display of a Result (and of a compiled Statement for ``--sql``).

Plain HTML only: a header line, the SQL highlighted by Pygments (inline styles,
so it renders without a stylesheet), then ``<details>`` sections that act as
tabs: the flat frame, one frame per model path, and the nested records as
indented JSON. Large results show their first rows and say how many there are.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from .errors import ExplorerError
from .export import statement_sql
from .textout import readable_frame, records_json

PREVIEW_ROWS = 50
PREVIEW_RECORDS = 20
_STYLE = "font-family:var(--jp-ui-font-family,sans-serif);margin:4px 0"


def result_html(result, rows: int = PREVIEW_ROWS) -> str:
    """The HTML a notebook shows for a Result: header, highlighted SQL, data sections.

    >>> html = result_html(explorer.run("shop.yaml", "from: User"))  # doctest: +SKIP
    """
    sections = [section(f"Flat frame ({_count(len(result.frame), 'joined row')})",
                        frame_html(result.frame, rows), open_=True)]
    for name, frame in result.frames.items():
        sections.append(section(f"{name} ({_count(len(frame), 'row')})", frame_html(frame, rows)))
    sections.append(section(f"Nested records ({_count(len(result.records), 'root record')})",
                            records_html(result.records)))
    return "\n".join(['<div class="crossquery-result">', header_html(result),
                      section("SQL", sql_html(result.to_sql()) + params_html(result.params), open_=True),
                      *sections, "</div>"])


def statement_html(statement, dialect: str | None = None, literal: bool = False) -> str:
    """The HTML for a compiled, unrun Statement (``%%crossquery --sql``): databases, SQL, params.

    ``dialect`` renders the SQL for another dialect; ``literal`` inlines the values.
    """
    shown = dialect or statement.dialect
    line = (f"<b>{html.escape(statement.query.model)}</b>: one {html.escape(shown)} "
            f"statement on {html.escape(', '.join(statement.databases))} (not run)")
    sql = statement_sql(statement, dialect=dialect, literal=literal)
    params = {} if literal else statement.params
    return "\n".join(['<div class="crossquery-statement">', f'<p style="{_STYLE}">{line}</p>',
                      sql_html(sql), params_html(params), "</div>"])


def header_html(result) -> str:
    """One line: root rows, joined rows, statements, elapsed ms, databases."""
    sent = _count(result.row_count, "joined row") if result.strategy == "join" else \
        _count(result.row_count, "row") + " sent (includes as JSON)"
    parts = [_count(result.root_count, "root row"), sent,
             _count(result.statements, "statement"), f"{result.elapsed * 1000:.0f} ms",
             "databases: " + ", ".join(result.databases)]
    if result.engine != "server":  # across servers: say which engine joined them
        parts.append(f"engine: {result.engine}")
    model = html.escape(result.query.model)
    return f'<p style="{_STYLE}"><b>{model}</b>: ' + html.escape(" · ".join(parts)) + "</p>"


def sql_html(sql: str) -> str:
    """SQL highlighted by Pygments with inline styles."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import SqlLexer

    formatter = HtmlFormatter(noclasses=True, nobackground=True, style="default")
    return highlight(sql, SqlLexer(), formatter)


def plan_html(statement, plan: str) -> str:
    """The engine's plan, highlighted (its operators, tables and filters read like SQL), under the
    statement it explains."""
    title = f"Plan of the {statement.engine} engine"
    return (f'<p style="{_STYLE}"><b>{html.escape(title)}</b></p>' + sql_html(plan)
            + section("Statement", sql_html(statement.to_sql())))


def yaml_html(text: str) -> str:
    """YAML highlighted by Pygments with inline styles (a drafted config)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import YamlLexer

    return highlight(text, YamlLexer(), HtmlFormatter(noclasses=True, nobackground=True, style="default"))


def params_html(params: dict[str, Any]) -> str:
    if not params:
        return ""
    items = ", ".join(f"<code>{html.escape(name)}</code> = {html.escape(repr(value))}"
                      for name, value in params.items())
    return f'<p style="{_STYLE}">Parameters: {items}</p>'


def frame_html(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A DataFrame as an HTML table, cut to its first ``rows`` rows with a note saying so."""
    shown = frame.head(rows)
    table = readable_frame(shown).to_html(index=False, na_rep="<NA>", border=0, classes="dataframe")
    if len(frame) > rows:
        table += f'<p style="{_STYLE}"><i>First {rows} of {len(frame):,} rows shown.</i></p>'
    return table


def records_html(records: list[dict], limit: int = PREVIEW_RECORDS) -> str:
    """The nested records as indented JSON, cut to the first ``limit`` roots."""
    try:
        text = html.escape(records_json(records[:limit]))
    except ExplorerError as exc:  # a value with no JSON form: say so, keep the rest of the display
        return f'<p style="{_STYLE}"><i>{html.escape(str(exc))}</i></p>'

    note = ""
    if len(records) > limit:
        note = f'<p style="{_STYLE}"><i>First {limit} of {len(records):,} records shown.</i></p>'
    return f'<pre style="max-height:30em;overflow:auto">{text}</pre>{note}'


def section(title: str, body: str, open_: bool = False) -> str:
    flag = " open" if open_ else ""
    return (f'<details{flag} style="margin:4px 0"><summary style="cursor:pointer">'
            f"<b>{html.escape(title)}</b></summary>\n{body}\n</details>")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
