"""The example notebooks, executed headless top to bottom: any error output fails the test."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, _unavailable
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(name: str, cwd: Path) -> list[dict]:
    """Run a notebook in a fresh kernel; return its outputs, failing on errors or stderr."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    bad = [o for o in outputs if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")]
    assert not bad, f"{name}: error output: {bad}"
    return outputs


def texts(outputs: list[dict], kind: str) -> str:
    parts = [o.text for o in outputs if o.output_type == "stream"] if kind == "stream" else \
        [o.data.get(kind, "") for o in outputs if "data" in o]
    return "\n".join(parts)


def test_quickstart(tmp_path):
    outputs = execute("01_quickstart.ipynb", tmp_path)
    assert "```mermaid\nerDiagram" in texts(outputs, "text/markdown")
    html = texts(outputs, "text/html")
    assert html.count('class="crossquery-result"') >= 4 and "crossquery-statement" in html
    shown = texts(outputs, "stream")
    assert '"name": "Fountain pen"' in shown and '"name": "Stationery"' in shown  # three levels deep
    assert "include.ordrs: User has no association 'ordrs'" in shown
    assert "-- crossquery explorer: ONE statement" in shown
    plain = texts(outputs, "text/plain")
    assert "('Eve', [])" in plain and "['Alice', 'Alan']" in plain


def test_visual_builder(tmp_path):
    outputs = execute("03_visual_builder.ipynb", tmp_path)
    assert sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs) == 3
    shown = texts(outputs, "stream")
    assert "%%crossquery -c " in shown and "dialect: postgresql; values inlined" in shown
    assert "'same result'" in texts(outputs, "text/plain")


@pytest.mark.mysql
def test_mysql_cross_database(tmp_path, monkeypatch):
    prefix = f"cqnbtest{os.getpid()}_"
    engine = sa.create_engine(MYSQL_SERVER)
    try:
        engine.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    monkeypatch.setenv("CROSSQUERY_MYSQL_URL", MYSQL_SERVER)
    monkeypatch.setenv("CROSSQUERY_NB_PREFIX", prefix)
    try:
        outputs = execute("02_mysql_cross_database.ipynb", tmp_path)
    finally:
        with engine.begin() as connection:
            for name in ("users_and_orders", "products"):
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{prefix}{name}`")
        engine.dispose()
    shown = texts(outputs, "stream")
    assert f"FROM {prefix}users_and_orders.users AS `User`" in shown
    assert f"JOIN {prefix}products.products AS `orders->products`" in shown
    plain = texts(outputs, "text/plain")
    assert "(1, ['users_and_orders', 'products'], 5, 11)" in plain
    assert "[('Alice', 3, 2), ('Bob', 1, 2)]" in plain
    assert "LIKE '%pen%'" in shown and "root:" not in shown.replace("root@", "")
    assert f"dropped: {prefix}users_and_orders, {prefix}products" in shown  # it cleans up after itself
    with engine.connect() as connection:
        left = [name for (name,) in connection.execute(sa.text("SHOW DATABASES LIKE :names"),
                                                        {"names": prefix + "%"})]
    assert left == []
