"""Bounded work: a timeout per statement, a row cap, and Ctrl-C that cancels on the server.

The slow statement is a legitimate include tree (orders joined to the orders of the
same status, nine levels deep) that keeps each server busy for many seconds; every
test stops it within about a second.
"""

from __future__ import annotations

import _thread
import signal
import threading
import time
from types import SimpleNamespace

import pytest
from readers import KINDS, SLOW_MARKER, running_statements, shop_dict, slow_config, slow_query

import explorer
from explorer.engines.mysql import MySQLBackend
from explorer.errors import RowCapError
from explorer.execute import DEFAULT_TIMEOUT


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def slow(request, kind) -> explorer.Config:
    """The shop on ``kind`` with the self-association that makes slow statements."""
    return explorer.load_config(slow_config(shop_dict(request, kind)))


def assert_server_idle(kind: str) -> None:
    if kind == "sqlite":
        return
    deadline = time.monotonic() + 2
    while running_statements(kind, SLOW_MARKER) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_statements(kind, SLOW_MARKER) == []


def assert_usable(config: explorer.Config) -> None:
    result = explorer.run(config, {"from": "User", "attributes": ["id"], "include": ["orders"]})
    assert result.root_count == 7


# -- timeout


@pytest.mark.parametrize("where", ["run", "query", "config"])
def test_slow_statement_stops_at_the_timeout(slow, kind, where):
    query, timeout = slow_query(), None
    if where == "run":
        timeout = 0.5
    elif where == "query":
        query["timeout"] = 0.5
    else:
        slow.timeout = 0.5
    started = time.monotonic()
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(slow, query, timeout=timeout)
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert "was stopped after its timeout of 0.5 s" in message
    assert "raise timeout: in the query or the config" in message
    assert "database 'users_and_orders'" in message
    assert caught.value.sql and "\n" not in message
    assert_server_idle(kind)
    assert_usable(slow)


def test_default_timeout_is_sent_with_the_one_statement(shop):
    result = explorer.run(shop, {"from": "User", "include": ["orders"]}, reader="driver")
    extra = result.execution.extra
    assert DEFAULT_TIMEOUT == 60
    if result.dialect in ("mysql", "mariadb"):
        # MariaDB: the bound travels inside the statement itself; no session state.
        assert extra["sent"] == f"SET STATEMENT max_statement_time=60.000 FOR {result.sql}"
        assert extra["setup"] == []
        fast = explorer.run(shop, {"from": "User", "include": ["orders"]}, reader="arrow").execution
        assert fast.extra["sent"].endswith(f"SET STATEMENT max_statement_time=60.000 FOR {fast.sql}")
    elif result.dialect == "postgresql":
        assert extra["sent"] == result.sql
        again = explorer.run(shop, {"from": "User", "include": ["orders"]}).execution.extra
        assert again["setup"] == []  # the session keeps statement_timeout; sent only on change
        changed = explorer.run(shop, {"from": "User"}, timeout=5).execution.extra
        assert changed["setup"] == ["SET statement_timeout = 5000"]
        explorer.run(shop, {"from": "User"})  # back to the default for later tests
    else:
        assert extra == {"sent": result.sql, "setup": []}  # SQLite: a progress handler


def test_mysql_uses_the_max_execution_time_hint():
    connection = SimpleNamespace(dialect=SimpleNamespace(is_mariadb=False))
    setup, sent = MySQLBackend().bounded(connection, "SELECT a FROM t", 0.25)
    assert (setup, sent) == ([], "SELECT /*+ MAX_EXECUTION_TIME(250) */ a FROM t")
    connection.dialect.is_mariadb = True
    assert MySQLBackend().bounded(connection, "SELECT a FROM t", 2)[1] == \
        "SET STATEMENT max_statement_time=2.000 FOR SELECT a FROM t"


# -- row cap


@pytest.mark.parametrize("where", ["run", "query", "config"])
def test_row_cap_stops_with_a_message_that_says_how_to_lift_it(shop, where):
    query = {"from": "Order", "include": ["products"]}
    capped = {**query, "max_rows": 3} if where == "query" else query
    shop.max_rows = 3 if where == "config" else None
    try:
        with pytest.raises(explorer.ExecutionError) as caught:
            explorer.run(shop, capped, max_rows=3 if where == "run" else None)
    finally:
        shop.max_rows = None
    message = str(caught.value)
    assert isinstance(caught.value, RowCapError)
    assert message.startswith("The query returned more than max_rows=3 joined rows")
    assert "raise max_rows (max_rows: in the query or the config, run(..., max_rows=N)" in message
    assert len(explorer.run(shop, query).frame) == 15  # the session is usable again


def test_row_cap_stops_a_big_result_and_the_server(slow, kind):
    # ~120,000 joined rows (orders of the same status, six levels): streamed, stopped at the cap.
    with pytest.raises(explorer.ExecutionError, match="more than max_rows=1,000 joined rows"):
        explorer.run(slow, slow_query(depth=6, filtered=False), max_rows=1000, timeout=30)
    assert_server_idle(kind)
    assert_usable(slow)


# -- Ctrl-C


def _interrupt_with_thread_api() -> None:
    _thread.interrupt_main()


def _interrupt_with_a_real_signal() -> None:
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


@pytest.mark.parametrize("interrupt", [_interrupt_with_thread_api, _interrupt_with_a_real_signal],
                         ids=["interrupt_main", "SIGINT"])
def test_ctrl_c_cancels_on_the_server_and_keeps_the_session(slow, kind, interrupt):
    timer = threading.Timer(0.5, interrupt)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as interrupted:
            explorer.run(slow, slow_query(), timeout=30)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3
    # IPython shows one line, not a traceback through the executor's threads
    assert interrupted.value._render_traceback_() == [
        "KeyboardInterrupt: the statement was cancelled on the server, and nothing of it is left running there."]
    assert_server_idle(kind)
    assert_usable(slow)


def test_timeout_also_bounds_runs_outside_the_main_thread(slow, kind):
    outcome = {}

    def work():
        try:
            explorer.run(slow, slow_query(), timeout=0.5)
        except explorer.ExecutionError as exc:
            outcome["error"] = str(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert "timeout of 0.5 s" in outcome["error"]
    assert_server_idle(kind)
