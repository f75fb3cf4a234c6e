"""One error tree for the whole pipeline: each stage raises its own subclass."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ExplorerError(Exception):
    """Root of every error the toolkit raises on purpose."""


class ConfigError(ExplorerError):
    """The association config is malformed or does not match the databases."""


class QueryError(ExplorerError):
    """The include query names something the config does not have."""


class ExecutionError(ExplorerError):
    """The server could not be reached or refused the statement."""

    def __init__(self, message: str, sql: str | None = None):
        super().__init__(message)
        self.sql = sql


class RowCapError(ExecutionError):
    """More joined rows came back than ``max_rows`` allows; the statement was stopped."""


class QueryInterrupted(KeyboardInterrupt):
    """Ctrl-C, or the notebook's stop button, during a statement; the server was told to stop it.

    Still a KeyboardInterrupt, so Run All stops at this cell; IPython shows the one line
    from ``_render_traceback_`` instead of a traceback through the executor's threads.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' Did you mean: a, b?' for close matches, or the list of choices when none is close."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    close = close or [c for c in choices if c.lower() == name.lower()]  # 'ID' for 'id'
    if close:
        return " Did you mean: " + ", ".join(close) + "?"
    if choices and len(choices) <= 12:
        return " Known: " + ", ".join(choices) + "."
    return ""


def yaml_problem(exc, text: str) -> str:
    """A YAML error as people read it: ``line L, column C: <problem>`` with the offending line and
    a caret under the fault; an unquoted ``:name`` inside ``{...}`` or ``[...]`` says how to write it."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if mark is None:
        return problem
    lines = text.splitlines() or [""]
    # A bracket never closed is found on a later line (or at the end): point at where it opened.
    at_end = start is not None and problem.startswith("expected ',' or ") and start.line != mark.line
    if at_end:
        mark = start
    line_text = lines[min(mark.line, len(lines) - 1)]
    where = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    if at_end:
        where = f"line {mark.line + 1}, column {mark.column + 1}: this {{ or [ is never closed ({problem})"
    elif context:
        where += f" ({context})"
    hint = ""
    rest = line_text[mark.column:]
    if rest.startswith(":") and rest[1:2].isidentifier():
        name = rest[1:].split("}")[0].split(",")[0].split("]")[0].strip()
        hint = (f"\nA parameter inside {{...}} or [...] must be quoted: write '{name and ':' + name}' "
                "(or put the key on a line of its own: `key: :name`).")
    return f"{where}\n    {line_text}\n    {' ' * mark.column}^{hint}"
