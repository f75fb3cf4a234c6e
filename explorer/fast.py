"""The Arrow fast path: the same ONE statement read by connectorx (Rust) straight into Arrow.

PyMySQL decodes every value in Python, which dominates large results (about 6x
slower than the C client for 1M rows, see shared/MEASURED.md). connectorx reads
the same statement into Arrow columns. It keeps the driver path's promises:

* one statement: with ``return_type="arrow"`` connectorx sends no count query;
* read-only: the session is set read-only before the statement runs;
* timeout: the same bounded statement as the driver path (``SET STATEMENT ... FOR``);
* row cap: ``sql_select_limit`` stops the server after max_rows + 1 rows;
* Ctrl-C: the statement carries a marker comment, and KILL QUERY finds it by it;
* secrets: connectorx errors are scrubbed of the password.

connectorx has no parameter API, so values are inlined as SQL literals by
SQLAlchemy with the server's own escaping rules. ``reader: auto`` therefore
takes this path only for statements without values; ``reader: arrow`` asks
for it always.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from .backends import server_error
from .compile import Compiled
from .config import Config
from .errors import ExecutionError
from .execute import Execution, _interruptible, render, row_cap_error


class _ArrowRun:
    """One connectorx read, shaped like the driver path's run so Ctrl-C handling is shared."""

    def __init__(self, url: str, sql: str, setup: list[str], cancel):
        self.url, self.sql, self.setup, self._cancel = url, sql, setup, cancel

    def __call__(self):
        import connectorx

        return connectorx.read_sql(self.url, self.sql, return_type="arrow", pre_execution_query=self.setup)

    def cancel(self) -> None:
        self._cancel()

    def abandon(self) -> None:
        pass  # connectorx's session is its own; the KILL QUERY above ends its statement


def execute_arrow(config: Config, compiled: Compiled, values: dict[str, Any], databases: list[str],
                  timeout: float, max_rows: int) -> Execution:
    backend, engine = config.backend(databases[0]), config.engine(databases[0])
    database = config.databases[databases[0]]
    try:
        with engine.connect() as connection:  # the driver's session tells MariaDB from MySQL
            sql = render(config, compiled, values, connection.dialect, literal=True)[0]
            setup, sent = backend.bounded(connection, sql, timeout)
    except sa.exc.DBAPIError as exc:
        raise server_error(database, exc, "connect to", config.secrets) from None
    marker = f"crossquery:{uuid.uuid4().hex}"
    sent = f"/* {marker} */ {sent}"
    session = [*backend.session_setup(), *setup, f"SET SESSION sql_select_limit = {max_rows + 1}"]
    run = _ArrowRun(backend.arrow_url(database.url), sent, session,
                    cancel=lambda: backend.cancel_marked(engine, marker))
    started = time.perf_counter()
    try:
        table = _interruptible(run)
    except (KeyboardInterrupt, ExecutionError):
        raise
    except Exception as exc:  # noqa: BLE001 - connectorx raises plain RuntimeErrors
        raise server_error(database, exc, "run the query (Arrow reader) on", config.secrets, sql=sql,
                           timeout=timeout) from None
    if table.num_rows > max_rows:
        raise row_cap_error(max_rows)
    labels = [label for node in compiled.layout for label in node.labels] \
        if compiled.strategy == "join" else table.column_names
    rows = None
    if compiled.strategy == "json":  # JSON columns are decoded row by row anyway
        rows = list(zip(*(column.to_pylist() for column in table.columns)))
        table = None
    return Execution(labels, rows, sql, {}, engine.dialect.name, databases, time.perf_counter() - started,
                     extra={"sent": sent, "setup": session}, arrow=table, reader="arrow")
