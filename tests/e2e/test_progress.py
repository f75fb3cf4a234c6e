"""A long %%crossquery cell in JupyterLab: progress while it runs, and a Cancel button that
stops the statement on the server, as the kernel's stop button does.

A person starts a query that takes long: after half a second the cell shows how long it has
run and how many rows came so far, with a Cancel button. Clicking it ends the cell with the
same one line as the stop button, and the server's process list no longer has the statement.
A quick query shows no progress at all.
"""

from __future__ import annotations

import re
import time

import nbformat
import sqlalchemy as sa
import yaml

SETUP = """\
import os

from explorer import demo

%load_ext explorer
names = {n: os.environ["CROSSQUERY_NB_PREFIX"] + n for n in ("users_and_orders", "products")}
shop = demo.build_mysql(os.environ["CROSSQUERY_MYSQL_URL"], names)
# every order joined with every order of the same status, nine levels deep: hours of work
shop["models"]["Order"]["associations"]["same_status"] = {
    "has_many": "Order", "foreign_key": "status", "source_key": "status"}
%crossquery config shop
"""
FAST = "%%crossquery\nfrom: User\nattributes: [id, name]\n"
RUNNING = sa.text("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                  "WHERE COMMAND = 'Query' AND ID <> CONNECTION_ID() AND INFO LIKE :statement")
PROGRESS = ".crossquery-progress"
CANCELLED = ("KeyboardInterrupt: the statement was cancelled on the server, "
             "and nothing of it is left running there.")


def slow_cell(depth: int = 9) -> str:
    """A %%crossquery cell: nine levels run for hours, seven for a few seconds (no row matches)."""
    include: object = "same_status"
    for _ in range(depth - 1):
        include = {"same_status": {"include": [include], "attributes": ["id"]}}
    deepest = "$" + ".".join(["same_status"] * depth) + ".id$"
    query = {"from": "Order", "attributes": ["id"], "include": [include],
             "where": {"or": [{"id": -1}, {deepest: -1}]}}
    return "%%crossquery --timeout 3600\n" + yaml.safe_dump(query, sort_keys=False, default_flow_style=None,
                                                            width=100)


def test_progress_shows_while_a_cell_runs_and_the_result_replaces_it(mariadb, open_notebook, jupyterlab):
    page = _notebook(open_notebook, jupyterlab, [SETUP, FAST, slow_cell(depth=7)])
    setup, fast, finishing = (page.code_cells.nth(i) for i in range(3))
    page.run_cell(setup)

    page.run_cell(fast)  # ends within half a second: the result only, never a progress line
    assert fast.locator(PROGRESS).count() == 0
    assert "User: 7 root rows" in fast.locator(".jp-OutputArea").inner_text()
    assert _widget_outputs(page, 1) == 0

    finishing.locator(".jp-InputPrompt").click()
    page.page.keyboard.press("Control+Enter")
    progress = finishing.locator(PROGRESS)
    progress.wait_for()
    assert re.fullmatch(r"crossquery: running \d+\.\d s · 0 rows so far", _progress_text(progress))
    page.wait_idle()
    assert progress.count() == 0  # the result took its place
    assert "Order: 0 root rows" in finishing.locator(".jp-OutputArea").inner_text()
    assert _widget_outputs(page, 2) == 0  # nothing of it left in the saved notebook
    page.screenshot("progress-finished", finishing)
    page.assert_clean()


def test_cancel_stops_a_slow_cell_on_the_server(mariadb, open_notebook, jupyterlab):
    page = _notebook(open_notebook, jupyterlab, [SETUP, slow_cell(), FAST])
    setup, slow, after = (page.code_cells.nth(i) for i in range(3))
    page.run_cell(setup)

    slow.locator(".jp-InputPrompt").click()
    page.page.keyboard.press("Control+Enter")
    progress = slow.locator(PROGRESS)
    progress.wait_for()
    _wait_until(lambda: _running(mariadb) == 1, "the slow statement to reach the server")
    first = _progress_text(progress)
    # the where binds values, so the driver reads it and counts its rows (none before the first)
    assert re.fullmatch(r"crossquery: running \d+\.\d s · 0 rows so far", first), first
    page.page.wait_for_function("([el, before]) => el.innerText.trim().split('\\n')[0] !== before",
                                arg=[progress.element_handle(), first])  # the elapsed time moves on
    page.screenshot("progress-running", slow)

    progress.get_by_role("button", name="Cancel").click()
    slow.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').wait_for()
    page.wait_idle()
    assert slow.locator(".jp-OutputArea").inner_text().strip() == CANCELLED  # as the stop button gives
    assert progress.count() == 0 and _widget_outputs(page, 1) == 0
    assert _running(mariadb) == 0  # stopped on the server, not only in the kernel
    page.screenshot("progress-cancelled", slow)

    page.run_cell(after)  # the session is usable at once
    assert "User: 7 root rows" in after.locator(".jp-OutputArea").inner_text()
    assert page.log_console() == []


def _notebook(open_notebook, jupyterlab, cells: list[str]):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    name = f"progress{len(list(jupyterlab.root.glob('progress*.ipynb')))}.ipynb"
    nbformat.write(notebook, jupyterlab.root / name)
    return open_notebook(name)


def _progress_text(progress) -> str:
    return progress.inner_text().strip().split("\n")[0].strip()


def _widget_outputs(page, index: int) -> int:
    """How many outputs of cell ``index`` in the notebook model are widget views."""
    return page.page.evaluate("""([path, index]) => {
      const panel = [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path);
      return panel.content.model.cells.get(index).outputs.toJSON()
          .filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length;
    }""", [page.notebook, index])


def _running(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(RUNNING, {"statement": "%same_status->same_status%"}).scalar()


def _wait_until(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)
