"""The Arrow fast path (connectorx) on MariaDB: same data, same promises as the driver path."""

from __future__ import annotations

import _thread
import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from readers import READER, reader_config, reader_user, running_statements, slow_config, slow_query
from shopcases import CASES

import explorer
from explorer.engines.arrow import arrow_unfit
from conftest import MYSQL_SERVER
from explorer.errors import RowCapError

pytestmark = pytest.mark.mysql
connectorx = pytest.importorskip("connectorx")  # the 'fast' extra; the test extra installs it


def server_counter(name: str) -> int:
    engine = sa.create_engine(MYSQL_SERVER)
    with engine.connect() as connection:
        value = connection.exec_driver_sql(f"SHOW GLOBAL STATUS LIKE '{name}'").first()[1]
    engine.dispose()
    return int(value)


@pytest.mark.parametrize("case", sorted(CASES))
def test_arrow_reads_what_the_driver_reads(mysql_shop, case):
    from shopcases import extended

    config = extended(mysql_shop)
    by_driver = explorer.run(config, CASES[case], reader="driver")
    if arrow_unfit(config, by_driver.compiled):  # refused by name, never read differently
        with pytest.raises(explorer.ExecutionError, match="reader: arrow cannot carry these columns exactly"):
            explorer.run(config, CASES[case], reader="arrow")
        assert explorer.run(config, CASES[case]).execution.reader == "driver"
        return
    by_arrow = explorer.run(config, CASES[case], reader="arrow")
    assert by_arrow.execution.reader == "arrow" and by_driver.execution.reader == "driver"
    assert by_arrow.records == by_driver.records
    pd.testing.assert_frame_equal(by_arrow.frame, by_driver.frame)
    for name, frame in by_driver.frames.items():
        pd.testing.assert_frame_equal(by_arrow.frames[name], frame)


def test_auto_takes_arrow_only_without_values(mysql_shop):
    plain = explorer.run(mysql_shop, {"from": "User", "include": [{"orders": {"include": ["products"]}}]})
    assert plain.execution.reader == "arrow"
    assert plain.params == {} and "?" not in plain.sql and "%s" not in plain.sql
    filtered = explorer.run(mysql_shop, {"from": "User", "where": {"name": "Bob"}})
    assert filtered.execution.reader == "driver"  # values stay bound parameters by default
    assert filtered.params and "Bob" not in filtered.sql


def test_values_inlined_on_request_come_back_as_data(mysql_shop):
    hostile = "x'); DROP TABLE users; --"
    result = explorer.run(mysql_shop, {"from": "Product", "attributes": ["id", "name"],
                                       "where": {"name": {"in": [hostile, "Ballpoint pen", "a\\'b"]}}},
                          reader="arrow")
    assert result.execution.reader == "arrow"
    assert result.records == [{"id": 7, "name": hostile}, {"id": 9, "name": "Ballpoint pen"}]


def test_one_statement_per_run(mysql_shop):
    query = {"from": "User", "include": [{"orders": {"include": ["products"]}}, "reviews"]}
    explorer.run(mysql_shop, query, reader="arrow")  # connect once first
    counts = []
    for _ in range(3):  # other sessions only ever add to the global counter: take the least
        before = server_counter("Com_stmt_execute")
        explorer.run(mysql_shop, query, reader="arrow")
        counts.append(server_counter("Com_stmt_execute") - before)
    assert min(counts) == 1


def test_the_session_is_read_only(mysql_shop):
    result = explorer.run(mysql_shop, {"from": "Category"}, reader="arrow")
    url = mysql_shop.backend("products").arrow_url(mysql_shop.databases["products"].url)
    table = mysql_shop.databases["products"].schema
    with pytest.raises(RuntimeError, match="READ ONLY"):
        connectorx.read_sql(url, f"DELETE FROM {table}.categories", return_type="arrow",
                            pre_execution_query=result.execution.extra["setup"])
    assert explorer.run(mysql_shop, {"from": "Category"}).root_count == 5


def test_row_cap(mysql_shop):
    with pytest.raises(RowCapError, match="more than max_rows=3 joined rows"):
        explorer.run(mysql_shop, {"from": "User", "include": ["orders"]}, reader="arrow", max_rows=3)
    assert explorer.run(mysql_shop, {"from": "User"}, reader="arrow", max_rows=7).root_count == 7


def test_timeout(mysql_config_dict):
    slow = explorer.load_config(slow_config(mysql_config_dict))
    started = time.monotonic()
    with pytest.raises(explorer.ExecutionError, match="timeout of 0.5 s"):
        explorer.run(slow, slow_query(), reader="arrow", timeout=0.5)
    assert time.monotonic() - started < 5


def test_ctrl_c_kills_the_statement_on_the_server(mysql_config_dict):
    slow = explorer.load_config(slow_config(mysql_config_dict))
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            explorer.run(slow, slow_query(), reader="arrow", timeout=30)
    finally:
        timer.cancel()
    deadline = time.monotonic() + 3
    while running_statements("mysql", "crossquery:") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_statements("mysql", "crossquery:") == []
    assert explorer.run(slow, {"from": "User"}, reader="arrow").root_count == 7


def test_password_never_shown(mysql_config_dict, monkeypatch):
    password = "Fast-Path-Secret-42"
    with reader_user("mysql", password) as user:
        monkeypatch.setenv("CQ_TEST_READER_PASSWORD", password)
        config = explorer.load_config(reader_config(mysql_config_dict, "mysql"))
        assert explorer.run(config, {"from": "Category"}, reader="arrow").root_count == 5
        monkeypatch.setenv("CQ_TEST_READER_PASSWORD", "wrong-" + password)
        wrong = explorer.load_config(reader_config(mysql_config_dict, "mysql"))
        with pytest.raises(explorer.ExecutionError) as raised:
            explorer.run(wrong, {"from": "Category", "attributes": ["id"]}, reader="arrow")
        assert password not in str(raised.value) and user == READER
