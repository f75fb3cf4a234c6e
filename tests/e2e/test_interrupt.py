"""JupyterLab's Interrupt button during a long MariaDB query: the server stops it too.

A person who starts a query that will not finish presses the stop button (■). The kernel
gets SIGINT; the query must also stop on the server (no statement left burning there),
and the next cell must work at once.
"""

from __future__ import annotations

import time

import nbformat
import sqlalchemy as sa

SETUP = """\
import os

import explorer
from explorer import demo

names = {n: os.environ["CROSSQUERY_NB_PREFIX"] + n for n in ("users_and_orders", "products")}
shop = demo.build_mysql(os.environ["CROSSQUERY_MYSQL_URL"], names)
# every order joined with every order of the same status, nine levels deep: hours of work
shop["models"]["Order"]["associations"]["same_status"] = {
    "has_many": "Order", "foreign_key": "status", "source_key": "status"}
include = "same_status"
for _ in range(8):
    include = {"same_status": {"include": [include], "attributes": ["id"]}}
deepest = "$" + ".".join(["same_status"] * 9) + ".id$"
slow = {"from": "Order", "attributes": ["id"], "include": [include],
        "where": {"or": [{"id": -1}, {deepest: -1}]}}
"""
SLOW = "explorer.run(shop, slow, timeout=3600)"
AFTER = 'explorer.run(shop, {"from": "User", "attributes": ["id"]}).root_count'
RUNNING = sa.text("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                  "WHERE COMMAND = 'Query' AND ID <> CONNECTION_ID() AND INFO LIKE :statement")


def test_interrupt_button_stops_the_query_on_the_server(mariadb, open_notebook, jupyterlab):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in (SETUP, SLOW, AFTER)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyterlab.root / "interrupt.ipynb")

    page = open_notebook("interrupt.ipynb")
    setup, slow, after = (page.code_cells.nth(i) for i in range(3))
    page.run_cell(setup)
    slow.locator(".jp-InputPrompt").click()
    page.page.keyboard.press("Control+Enter")
    _wait_until(lambda: _running(mariadb) == 1, "the slow query to reach the server")
    page.page.locator('jp-button[data-command="notebook:interrupt-kernel"]').click()
    slow.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').wait_for()
    page.wait_idle()
    shown = slow.locator(".jp-OutputArea").inner_text().strip()
    assert shown == ("KeyboardInterrupt: the statement was cancelled on the server, "
                     "and nothing of it is left running there.")  # one line, no traceback
    assert _running(mariadb) == 0  # stopped on the server, not only in the kernel
    page.screenshot("interrupt", slow)

    page.run_cell(after)
    assert after.locator(".jp-OutputArea").inner_text().strip().endswith("7")
    assert page.log_console() == []


def _running(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(RUNNING, {"statement": "%same_status->same_status%"}).scalar()


def _wait_until(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)
