"""What every engine shares: the engine interface, the Execution it returns, Ctrl-C, the row cap.

An engine runs the ONE statement of a query somewhere: on the one server that holds
its databases (``server``), in an in-process DuckDB (``duckdb``), as Spark SQL
(``spark``). Each declares what it supports as data (``Features``), renders the
statement with its own SQLAlchemy dialect and table names (a ``Target``), runs it
read-only, bounded in time and rows and cancellable, and explains it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa

from ..decode import read_each, transpose
from ..errors import ExecutionError, QueryInterrupted, RowCapError
from ..pausegc import gc_paused
from ..progress import Watch
from .base import Features, server_error

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_ROWS = 2_000_000

log = logging.getLogger("explorer")


class Engine:
    """An engine for one query's databases: renders, runs and explains the one statement.

    ``target()`` gives the dialect and table names; ``run(statement, timeout, max_rows,
    reader)`` returns an Execution whose values are exactly what each database's own
    driver returns (so shaping is the same whoever ran it); ``explain(statement)`` the
    engine's plan as text.
    """

    name: ClassVar[str]
    features: ClassVar[Features]

    def __init__(self, config, databases: list[str]):
        self.config = config
        self.databases = databases

    def target(self):
        raise NotImplementedError

    def run(self, statement, timeout: float, max_rows: int, reader: str | None) -> Execution:
        raise NotImplementedError

    def explain(self, statement) -> str:
        raise NotImplementedError


@dataclass
class Execution:
    """What came back from the server, before shaping."""

    labels: list[str]
    rows: list[tuple] | None  # None when the rows came as Arrow (see ``arrow``), or once made columns
    sql: str
    params: dict[str, Any]
    dialect: str
    databases: list[str]
    elapsed: float
    statements: int = 1
    extra: dict = field(default_factory=dict)
    engine: str = "server"  # who ran it: server | duckdb | spark
    arrow: Any = None  # a pyarrow.Table from the fast path
    reader: str = "driver"
    # Column-wise values, one sequence per label, each value exactly what the server's own
    # DBAPI driver returns for it (the Arrow reader converts to these on access); None: ``rows``.
    columns: Any = None
    decoding: Any = None  # the reading session's context for values read back later (decode.Decoding)
    # Column index -> the driver's own converter, for columns it handed over as the server's text
    # (``rows`` hold that text); applied once per distinct text when the columns are read.
    deferred: dict = field(default_factory=dict)

    def driver_columns(self) -> list:
        """One sequence per label, each value exactly what the driver gives for it: ``columns``, or
        made of ``rows`` once, with the ``deferred`` columns' text parsed (once per distinct text).
        The rows are let go then: the columns hold every value, and each column's text goes as
        soon as it is parsed (peak memory)."""
        if self.columns is None:
            self.columns = transpose(self.rows, len(self.labels))
            self.rows = None
            for index, convert in self.deferred.items():
                self.columns[index] = read_each(convert, self.columns[index])
        return self.columns

    @property
    def row_count(self) -> int:
        if self.arrow is not None:
            return self.arrow.num_rows
        if self.columns is not None:
            return len(self.columns[0]) if len(self.columns) else 0
        return len(self.rows)


def interruptible(run):
    """Run in a worker thread so that Ctrl-C in the main thread can cancel it on the server.

    KeyboardInterrupt only reaches the main thread, and a driver blocked in a socket
    read never sees it; the main thread waits here instead, cancels the statement
    (KILL QUERY, pg cancel, sqlite3 interrupt), waits for the session to be idle
    again, and re-raises. While it waits it shows the run's progress (``explorer.progress``),
    whose Cancel button takes the same path as Ctrl-C. Other threads run the statement directly.
    """
    if threading.current_thread() is not threading.main_thread():
        return run()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="crossquery-statement", daemon=True).start()
    watch = Watch(run)
    try:
        wait_watched(run, done, watch)
    finally:
        watch.close()
    if "error" in outcome:
        raise outcome.pop("error")
    return outcome["value"]


def wait_watched(run, done: threading.Event, watch: Watch) -> None:
    """Wait for the run to end, showing its progress; on Ctrl-C (or Cancel) stop it on the server."""
    try:
        while not done.wait(0.05):
            watch.tick()
    except KeyboardInterrupt:
        if done.is_set():
            raise
        watch.cancelling()
        run.cancel()
        if wait_idle(run, done):
            raise QueryInterrupted("the statement was cancelled on the server, and nothing of it "
                                   "is left running there.") from None
        raise QueryInterrupted("the server did not stop the statement within 10 s, so its session "
                               "was closed; check the server's process list.") from None


def wait_idle(run, done: threading.Event, seconds: float = 10.0) -> bool:
    """Wait for the cancelled statement to end; drop the session if it does not (or on a 2nd Ctrl-C).

    True when the statement ended within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    try:
        while not done.wait(0.05):
            if time.monotonic() > deadline:
                run.abandon()
                return False
    except KeyboardInterrupt:
        run.abandon()
        raise
    return True


def quietly(action) -> None:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the session may already be closed
        log.debug("cleanup after the statement failed: %s", exc)


def fetch_capped(chunks, max_rows: int, counter=None) -> list[tuple]:
    """Every row of ``chunks``, stopping past ``max_rows``; ``counter.received`` follows the count
    (the progress display reads it from the waiting thread)."""
    rows: list[tuple] = []
    with gc_paused():  # a tuple per row, all kept: collections would free nothing (see pausegc)
        for chunk in chunks:
            rows.extend(chunk)
            if counter is not None:
                counter.received = len(rows)
            if len(rows) > max_rows:
                raise row_cap_error(max_rows)
    return rows


def row_cap_error(max_rows: int) -> RowCapError:
    return RowCapError(
        f"The query returned more than max_rows={max_rows:,} joined rows, so it was stopped "
        "to protect memory; add a limit or a filter, or raise max_rows (max_rows: in the "
        "query or the config, run(..., max_rows=N), or crossquery run --max-rows N)."
    )


def unfit_columns(engine: str, refusals: list[str], advice: str) -> ExecutionError:
    """The one error for every column an engine refuses before running: each named, with why."""
    return ExecutionError(f"engine: {engine} cannot carry these columns exactly, so the query was not run: "
                          + "; ".join(refusals) + f". {advice}")


def offending_columns(config, database: str, model: str, tests: dict, timeout: float) -> set[str]:
    """Ask the table's own server which of ``tests`` (column -> a SQLAlchemy condition on that
    column) some row meets: one bounded read on its read-only session, ``LIMIT 1``.

    For values a federating engine's scanner would change without a sign (a MariaDB zero date
    read as NULL, text in a SQLite INTEGER column read as 0): the engine refuses the query
    when the data holds one, rather than return a changed value.
    """
    table = config.table(model)
    conditions = {column: test(table.c[column]) for column, test in tests.items()}
    probe = sa.select(*[sa.case((condition, 1), else_=0).label(column) for column, condition in conditions.items()])
    probe = probe.select_from(table).where(sa.or_(*conditions.values())).limit(1)
    db = config.databases[database]
    try:
        with config.engine(database).connect() as connection:
            connection = connection.execution_options(schema_translate_map={database: db.schema})
            setup, _ = config.backend(database).bounded(connection, "SELECT 1", timeout)
            for statement in setup:
                connection.exec_driver_sql(statement)
            row = connection.execute(probe).first()
    except sa.exc.DBAPIError as exc:
        raise server_error(db, exc, f"check the values of {model} on", config.secrets) from None
    return set() if row is None else {column for column in tests if row._mapping[column]}

