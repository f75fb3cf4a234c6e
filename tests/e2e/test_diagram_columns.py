"""`%crossquery diagram --columns` in a real JupyterLab: Mermaid draws every column with its type.

The notebook is written into the server's copy of notebooks/, so the repository's stay untouched.
The screenshot goes to tests/e2e/artifacts/diagram-columns.png.
"""

from __future__ import annotations

import base64
import re
import urllib.parse

import nbformat

NOTEBOOK = "notebooks/diagram_columns.ipynb"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
CELLS = [
    ("import tempfile\n\nfrom explorer import demo\n\n"
     "config_path = str(demo.build_sqlite(tempfile.mkdtemp(prefix='crossquery-diagram-')))"),
    "%load_ext explorer\n%crossquery config {config_path}",
    "%crossquery diagram --columns",
]


def test_diagram_with_columns_draws_types_and_keys(jupyterlab, open_notebook):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
                                        metadata={"kernelspec": KERNEL})
    nbformat.write(notebook, jupyterlab.root / NOTEBOOK)
    page = open_notebook(NOTEBOOK)
    page.run_all()
    page.assert_clean()

    mermaid = page.panel.locator(".jp-RenderedMermaid").first
    mermaid.locator("img").wait_for()
    mermaid.scroll_into_view_if_needed()
    assert "jp-mod-warning" not in (mermaid.get_attribute("class") or "")  # no Mermaid syntax error
    image = mermaid.locator("img")
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    page.screenshot("diagram-columns", mermaid)

    svg = _data_url_text(image.get_attribute("src"))
    assert "Syntax error" not in svg
    texts = [text.strip() for text in re.findall(r">([^<>]+)<", svg) if text.strip()]
    # each attribute row reads as its type, its name and its key marks, in the table's column order
    assert _contains(texts, ["Order (users_and_orders.orders)", "integer", "id", "PK", "integer", "user_id",
                             "FK", "varchar(20)", "status", "numeric(10,2)", "total", "datetime", "created_at"])
    assert _contains(texts, ["OrderProduct (users_and_orders.order_products)", "integer", "order_id", "PK,FK",
                             "integer", "product_id", "PK,FK", "integer", "quantity"])
    assert _contains(texts, ["Review (products.reviews)", "integer", "id", "PK", "integer", "product_id", "FK",
                             "integer", "user_id", "FK", "integer", "rating", "varchar(500)", "body"])


def _contains(texts: list[str], run: list[str]) -> bool:
    return any(texts[i:i + len(run)] == run for i in range(len(texts)))

def _data_url_text(url: str) -> str:
    header, _, data = url.partition(",")
    return base64.b64decode(data).decode() if header.endswith(";base64") else urllib.parse.unquote(data)

