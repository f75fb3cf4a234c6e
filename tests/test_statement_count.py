"""Exactly ONE query statement reaches the server per run, whatever the include tree.

* SQLite: ``set_trace_callback`` on the pooled sqlite3 connection sees every
  statement the engine runs.
* MariaDB: the server's own ``Com_select`` counter, read from a separate
  connection before and after the run.
* PostgreSQL: libpq's protocol trace of the pooled connection: every message the
  server receives, and the server's ``CommandComplete`` answer for each statement.

A ``SET`` for the statement timeout (and the transaction's ``BEGIN``/``ROLLBACK``)
may accompany the query; only one statement may read data.
"""

from __future__ import annotations

import contextlib
import re
import tempfile

import psycopg
import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER
from shopcases import CASES, extended
from sqlalchemy import event

import explorer

QUERIES = {name: CASES[name] for name in (
    "has_many", "spec_example", "siblings", "self_association", "belongs_to_many", "composite_keys",
    "required_below_optional", "nested_filter", "limit_has_many", "limit_nested_filter",
    "junction_attributes", "top_n_per_parent")}
NOT_QUERIES = re.compile(r"^\s*(SET|BEGIN|COMMIT|ROLLBACK|START TRANSACTION|RESET|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


def engine_of(config: explorer.Config) -> sa.Engine:
    return config.engine(next(iter(config.databases)))


@contextlib.contextmanager
def on_checkout(engine: sa.Engine, start, stop):
    """Call ``start(dbapi_connection)`` on every connection the run checks out, ``stop`` after."""
    seen = []

    def checkout(dbapi_connection, record, proxy):
        seen.append(dbapi_connection)
        start(dbapi_connection)

    event.listen(engine, "checkout", checkout)
    try:
        yield
    finally:
        event.remove(engine, "checkout", checkout)
        for connection in seen:
            stop(connection)


@pytest.mark.parametrize("case", sorted(QUERIES))
def test_sqlite_runs_one_statement(sqlite_shop, case):
    config = extended(sqlite_shop)
    explorer.prepare(config, QUERIES[case])  # reflection happens once per config, before
    statements: list[str] = []
    with on_checkout(engine_of(config), lambda c: c.set_trace_callback(statements.append),
                     lambda c: c.set_trace_callback(None)):
        result = explorer.run(config, QUERIES[case])
    queries = [s for s in statements if not NOT_QUERIES.match(s)]
    assert len(queries) == 1, statements
    assert queries[0].lstrip().upper().startswith("SELECT")
    assert result.records is not None


def com_select(connection) -> int:
    return int(connection.exec_driver_sql("SHOW GLOBAL STATUS LIKE 'Com_select'").one()[1])


@pytest.mark.mysql
@pytest.mark.parametrize("case", sorted(QUERIES))
def test_mariadb_runs_one_statement(mysql_shop, case):
    """The driver path (PyMySQL); tests/test_fast.py counts the Arrow path's statements."""
    config = extended(mysql_shop)
    config.reader = "driver"
    explorer.run(config, QUERIES[case])  # connect and reflect first
    watcher = sa.create_engine(MYSQL_SERVER, poolclass=sa.pool.NullPool)
    deltas = []
    with watcher.connect() as connection:
        for _ in range(5):  # other sessions on the server can only add to the counter
            before = com_select(connection)
            explorer.run(config, QUERIES[case])
            deltas.append(com_select(connection) - before)
            if deltas[-1] == 1:
                break
    watcher.dispose()
    assert min(deltas) == 1, deltas


@pytest.mark.mysql
def test_mariadb_counter_sees_every_statement(mysql_shop):
    """The counter is a sound witness: three runs show three SELECTs."""
    config = extended(mysql_shop)
    config.reader = "driver"
    explorer.run(config, QUERIES["has_many"])
    watcher = sa.create_engine(MYSQL_SERVER, poolclass=sa.pool.NullPool)
    deltas = []
    with watcher.connect() as connection:
        for _ in range(5):
            before = com_select(connection)
            for _ in range(3):
                explorer.run(config, QUERIES["has_many"])
            deltas.append(com_select(connection) - before)
    watcher.dispose()
    assert min(deltas) == 3, deltas


def traced_postgresql(config: explorer.Config, query) -> list[tuple[str, str, str]]:
    """(direction F/B, message type, rest) for every protocol message of one run."""
    with tempfile.NamedTemporaryFile("w+", suffix=".trace") as trace:
        def start(connection):
            connection.pgconn.trace(trace.fileno())
            connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

        with on_checkout(engine_of(config), start, lambda c: c.pgconn.untrace()):
            explorer.run(config, query)
        trace.seek(0)
        parts = [line.split("\t", 3) for line in trace.read().splitlines()]
    return [(p[0], p[2], p[3].strip() if len(p) > 3 else "") for p in parts if len(p) >= 3]


@pytest.mark.postgresql
@pytest.mark.parametrize("case", sorted(QUERIES))
def test_postgresql_runs_one_statement(postgresql_shop, case):
    config = extended(postgresql_shop)
    explorer.run(config, QUERIES[case])  # connect and reflect first
    messages = traced_postgresql(config, QUERIES[case])
    # The server answers every statement it ran with CommandComplete and its tag.
    tags = [rest.strip('"').split()[0] for direction, kind, rest in messages
            if direction == "B" and kind == "CommandComplete"]
    assert tags.count("SELECT") == 1, tags
    assert all(NOT_QUERIES.match(tag) for tag in tags if tag != "SELECT"), tags
    # And the client sent one data statement: Execute (extended protocol) or a non-control Query.
    sent = [(kind, rest) for direction, kind, rest in messages if direction == "F"
            and (kind == "Execute" or kind == "Query" and not NOT_QUERIES.match(rest.strip('"')) and
                 rest.strip('"').strip(" ;"))]  # SQLAlchemy's pre-ping sends the empty query ";"
    assert len(sent) == 1, messages
