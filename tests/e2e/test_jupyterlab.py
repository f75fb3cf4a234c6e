"""The example notebooks and the builder in a real JupyterLab, in a real browser.

Each scenario asserts on what the page shows and leaves screenshots in tests/e2e/artifacts/.
"""

from __future__ import annotations

import base64
import re
import urllib.parse

QUICKSTART = "notebooks/01_quickstart.ipynb"
MARIADB = "notebooks/02_mysql_cross_database.ipynb"
BUILDER = "notebooks/03_visual_builder.ipynb"
COUNTS = re.compile(r"(\d+) root rows?\D+(\d+) joined rows?")


def test_quickstart_run_all(open_notebook):
    notebook = open_notebook(QUICKSTART)
    notebook.run_all()
    notebook.assert_clean()

    # the Mermaid diagram drew: an SVG image naming both databases, no error box
    mermaid = notebook.panel.locator(".jp-RenderedMermaid").first
    mermaid.locator("img").wait_for()
    mermaid.scroll_into_view_if_needed()
    assert "jp-mod-warning" not in (mermaid.get_attribute("class") or "")
    image = mermaid.locator("img")
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    svg = _data_url_text(image.get_attribute("src"))
    assert "<svg" in svg and "users_and_orders" in svg and "products" in svg
    notebook.screenshot("quickstart-mermaid", mermaid)

    # the first query: header, its generated SQL visible, the flat frame as a table
    first = notebook.panel.locator(".crossquery-result").first
    first.scroll_into_view_if_needed()
    assert re.search(r"User: 7 root rows", first.locator("p").first.inner_text())
    sql = first.locator(".highlight pre").first
    assert sql.is_visible()
    assert re.search(r"SELECT .*FROM users_and_orders\.users", sql.inner_text(), re.DOTALL)
    table = first.locator("table.dataframe").first
    assert table.is_visible()
    assert table.locator("tbody tr").count() == 7
    assert "Alice" in table.inner_text()
    notebook.screenshot("quickstart-first-query", first)

    # every DataFrame rendered as a table, and the three-level cross-database frame has rows
    assert notebook.panel.locator("table.dataframe").count() >= 10
    products = notebook.code_cells.filter(has_text='paid.frames["orders.products"]')
    assert "Fountain pen" in products.locator("table.dataframe").inner_text()


def test_builder_as_a_person(open_notebook, jupyterlab):
    notebook = open_notebook(BUILDER)
    notebook.run_all()
    notebook.assert_clean()

    # a person scrolls back up and clicks elsewhere first: the builder's cell is not active
    notebook.code_cells.first.locator(".jp-InputPrompt").click()
    cell = notebook.code_cells.filter(has_text="%crossquery builder").last
    builder = cell.locator(".jp-OutputArea-output").first
    builder.scroll_into_view_if_needed()
    preview = builder.locator(".widget-html", has=notebook.page.locator(".highlight")).first

    # pick the root model (another one first, so the pick visibly changes the SQL)
    builder.locator("select").first.select_option("Product")
    _wait_text(preview, "FROM products.products")
    builder.locator("select").first.select_option("User")
    _wait_text(preview, "FROM users_and_orders.users")
    assert "products.products" not in preview.inner_text()

    # tick a has_many, then the cross-database association under it
    builder.get_by_role("checkbox", name="orders → Order", exact=True).check()
    _wait_text(preview, "users_and_orders.orders")
    builder.get_by_role("checkbox", name="products → Product ⇄ products", exact=True).check()
    _wait_text(preview, "products.products")
    sql = preview.inner_text()
    assert "users_and_orders.order_products" in sql and "LEFT OUTER JOIN" in sql

    # a where row on orders, typed key by key: the value stays a bound parameter
    builder.get_by_role("button", name="+ condition").nth(1).click()  # the root's, then orders'
    placeholder = "value, [a, b] or :variable"
    value = builder.get_by_placeholder(placeholder)
    row = builder.locator(".widget-hbox", has=notebook.page.get_by_placeholder(placeholder)).last
    row.locator("select").first.select_option("status")
    value.press_sequentially("paid")
    _wait_text(preview, "orders.status = ?")
    assert "paid" not in preview.inner_text()
    assert "\nJOIN users_and_orders.orders" in preview.inner_text()  # a where makes it required
    notebook.screenshot("builder-preview", builder)

    # Run: the status line and the result tables appear under the builder
    builder.get_by_role("button", name="Run", exact=True).click()
    status = builder.locator(".widget-label", has_text="Ran:")
    status.wait_for()
    root_rows, joined_rows = COUNTS.search(status.inner_text()).groups()
    assert (root_rows, joined_rows) == ("5", "11")  # the demo: 5 users with paid orders, 11 rows
    result = builder.locator(".widget-output .crossquery-result")
    result.locator("table.dataframe").first.wait_for()
    assert result.locator("table.dataframe").first.locator("tbody tr").count() == int(joined_rows)
    assert f"{root_rows} root rows" in result.locator("p").first.inner_text()
    notebook.screenshot("builder-run", builder)

    # the other exports: the YAML to copy, and a .sql snippet beside the notebook
    builder.get_by_role("button", name="Show YAML", exact=True).click()
    yaml_box = builder.locator("textarea")
    yaml_box.wait_for()
    assert "from: User" in yaml_box.input_value() and "status: paid" in yaml_box.input_value()
    builder.get_by_role("button", name="Write .sql", exact=True).click()
    builder.locator(".widget-label", has_text="Wrote").wait_for()
    snippet = (jupyterlab.root / "notebooks" / "query.sql").read_text()
    assert "ONE statement" in snippet and "orders.status = ?" in snippet and "'paid'" in snippet

    # Insert cell: a new %%crossquery cell appears right below the builder's cell
    cells_before = notebook.code_cells.count()
    builder.get_by_role("button", name="Insert cell", exact=True).click()
    answer = builder.locator(".widget-label").filter(has_text=re.compile("Inserted|cannot insert"))
    assert answer.inner_text() == "Inserted a %%crossquery cell below.", notebook.problems()
    notebook.page.wait_for_function("([panel, n]) => panel.querySelectorAll('.jp-CodeCell').length > n",
                                    arg=[notebook.panel.element_handle(), cells_before])
    new_cell = cell.locator("xpath=following-sibling::div[contains(@class, 'jp-CodeCell')][1]")
    source = new_cell.locator(".jp-InputArea-editor").inner_text()
    assert source.startswith("%%crossquery")
    assert "from: User" in source and "orders:" in source and "products" in source
    assert "status: paid" in source
    assert notebook.log_console() == []  # the click raised nothing into the log console

    # run the new cell: the same row counts
    notebook.run_cell(new_cell)
    header = new_cell.locator(".crossquery-result p").first
    header.wait_for()
    assert COUNTS.search(header.inner_text()).groups() == (root_rows, joined_rows)
    notebook.assert_clean()
    notebook.screenshot("builder-inserted-cell", new_cell)


def test_mariadb_notebook_run_all(mariadb, open_notebook):
    notebook = open_notebook(MARIADB)
    notebook.run_all()
    notebook.assert_clean()
    assert notebook.panel.locator(".jp-RenderedMermaid img").count() == 1
    shown = notebook.panel.inner_text()
    assert re.search(r"JOIN cqe2e\d+_products\.products AS `orders->products`", shown)
    assert "(1, ['users_and_orders', 'products'], 5, 11)" in shown
    assert "[('Alice', 3, 2), ('Bob', 1, 2)]" in shown
    notebook.screenshot("mariadb-notebook")


def _wait_text(locator, text: str, timeout_ms: int = 30_000) -> None:
    """Wait until the element's text contains ``text`` (the preview updates after a round trip)."""
    locator.page.wait_for_function("([element, text]) => element.innerText.includes(text)",
                                   arg=[locator.element_handle(), text], timeout=timeout_ms)


def _data_url_text(url: str) -> str:
    header, _, data = url.partition(",")
    return base64.b64decode(data).decode() if header.endswith(";base64") else urllib.parse.unquote(data)
