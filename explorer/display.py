"""Rich notebook display of a Result (and of a compiled Statement for ``--sql``).

Plain HTML only: a header line, the SQL highlighted by Pygments (inline styles,
so it renders without a stylesheet), then ``<details>`` sections that act as
tabs: the flat frame, one frame per model path, and the nested records as
indented JSON. Large results show their first rows and say how many there are.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
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


SQL_PRE = "white-space:pre-wrap;word-break:normal;overflow-wrap:normal;overflow-x:auto;line-height:125%"
NO_BREAK = "white-space:nowrap"


def sql_html(sql: str) -> str:
    """SQL highlighted by Pygments (inline styles) that wraps at blanks only.

    JupyterLab styles every ``<pre>`` with ``word-break: break-all``; this one's own style says
    otherwise, and each run of non-blank text sits in a no-wrap span, since a browser also breaks
    after the ``-`` of ``"orders->products"`` (or of MySQL's backquoted ``orders->products``).
    """
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import SqlLexer

    formatter = HtmlFormatter(noclasses=True, nobackground=True, style="default", nowrap=True)
    parts = []
    for blank, tokens in _runs(SqlLexer().get_tokens(sql)):
        if blank:
            parts.append(html.escape(blank))
        else:
            out = io.StringIO()
            formatter.format(tokens, out)
            parts.append(f'<span style="{NO_BREAK}">{out.getvalue().rstrip()}</span>')  # format ends a line
    return f'<div class="highlight"><pre style="{SQL_PRE}">{"".join(parts)}</pre></div>'


def _runs(tokens) -> Iterator[tuple[str, list[tuple[Any, str]]]]:
    """(blank, []) for each stretch of whitespace and ("", tokens) for each run of text between."""
    run: list[tuple[Any, str]] = []
    for ttype, value in tokens:
        for piece in re.split(r"(\s+)", value):
            if not piece:
                continue
            if piece.isspace():
                if run:
                    yield "", run
                run = []
                yield piece, []
            else:
                run.append((ttype, piece))
    if run:
        yield "", run


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
