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
