"""The builder's layout and its aggregate controls in a real JupyterLab, in a real browser.

What a person saw: the order toggle read "asc | d...", the association checkboxes ran together
("orders → Order [] paid_orders → Order"), the SQL preview wrapped inside identifiers. Each is
measured in the page (scrollWidth against clientWidth, bounding boxes, where the preview's lines
wrap) and left as a screenshot in tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import nbformat
import pytest

from explorer import demo

COUNTS = re.compile(r"(\d+) root rows?\D+(\d+) joined rows?")

# Each toggle button whose label does not fit (the browser cuts it with an ellipsis).
CUT_TOGGLES_JS = """(root) => [...root.querySelectorAll('.widget-toggle-button')]
    .filter(b => b.scrollWidth > b.clientWidth)
    .map(b => `${b.textContent.trim()}: ${b.scrollWidth}px of text in ${b.clientWidth}px`)"""

# Association checkboxes (their label has an arrow): a label cut short, and two on one line
# that touch or overlap (less than 6px apart).
CHECKBOX_PROBLEMS_JS = """(root) => {
  const boxes = [...root.querySelectorAll('.widget-checkbox')].filter(e => e.textContent.includes('→'))
      .map(e => ({text: e.textContent.replace(/\\u200b/g, '').trim(), rect: e.getBoundingClientRect(),
                  cut: e.scrollWidth > e.clientWidth}));
  const problems = boxes.filter(b => b.cut).map(b => `${b.text}: label cut`);
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    const oneLine = a.rect.top < b.rect.bottom && b.rect.top < a.rect.bottom;
    const gap = Math.max(b.rect.left - a.rect.right, a.rect.left - b.rect.right);
    if (oneLine && gap < 6) problems.push(`${a.text} | ${b.text}: ${gap.toFixed(1)}px apart`);
  }));
  return {count: boxes.length, problems};
}"""

# Where the preview's lines wrap: a character drawn below the one before it with no newline
# between is a soft wrap; it must sit next to a blank, never inside a word or identifier.
PREVIEW_WRAPS_JS = """(pre) => {
  const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
  let top = null, before = '', text = '', wraps = 0;
  const inside = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    for (let i = 0; i < node.length; i++) {
      const ch = node.data[i];
      text += ch;
      if (ch === '\\n') { top = null; before = ch; continue; }
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const now = range.getBoundingClientRect().top;
      if (top !== null && now > top + 2) {
        wraps++;
        if (!/\\s/.test(before) && !/\\s/.test(ch)) inside.push(text.slice(-16, -1) + '|' + ch);
      }
      top = now;
      before = ch;
    }
  }
  const style = getComputedStyle(pre);
  return {wraps, inside, whiteSpace: style.whiteSpace, wordBreak: style.wordBreak};
}"""


@pytest.fixture
def shop(tmp_path):
    """The demo shop on SQLite files: the notebook's config and the hand-written SQL's database."""
    return demo.build_sqlite(tmp_path / "shop")


def builder_notebook(jupyterlab, name: str, config_path: Path) -> str:
    """A notebook whose one cell opens the builder on ``config_path``; its path for open_notebook."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import explorer\n\nb = explorer.builder({str(config_path)!r})\nb")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyterlab.root / "notebooks" / f"{name}.ipynb")
    return f"notebooks/{name}.ipynb"


def open_builder(open_notebook, jupyterlab, shop, name: str):
    notebook = open_notebook(builder_notebook(jupyterlab, name, shop))
    notebook.run_all()
    notebook.wait_widgets()
    notebook.wait_idle()  # the widgets' own messages keep the kernel busy a moment after the run
    notebook.assert_clean()
    builder = notebook.code_cells.first.locator(".jp-OutputArea-output").first
    builder.scroll_into_view_if_needed()
    preview = builder.locator(".widget-html", has=notebook.page.locator(".highlight")).first
    return notebook, builder, preview


def add_count_of_orders(notebook, builder):
    """+ aggregate on the root (User): count over orders, named count_orders by default."""
    builder.get_by_role("button", name="+ aggregate").first.click()
    name = builder.get_by_placeholder("aggregate name")
    name.wait_for()
    row = builder.locator(".widget-hbox", has=notebook.page.get_by_placeholder("aggregate name")).last
    row.locator("select").nth(0).select_option("count")
    row.locator("select").nth(1).select_option("orders")
    assert name.input_value() == "count_orders"
    return row


def test_builder_layout_in_jupyterlab(open_notebook, jupyterlab, shop):
    notebook, builder, preview = open_builder(open_notebook, jupyterlab, shop, "builder_layout")
    builder.get_by_role("checkbox", name="orders → Order", exact=True).check()
    _wait_text(preview, "users_and_orders.orders")
    builder.get_by_role("checkbox", name="products → Product ⇄ products", exact=True).check()
    _wait_text(preview, "order_products")  # the junction's long ON line, wider than the page

    # the root's order row: a column and desc
    builder.get_by_role("button", name="+ order by").click()
    order_row = builder.locator(".widget-hbox", has=notebook.page.locator(".widget-toggle-buttons")).last
    order_row.locator("select").select_option("name")
    order_row.get_by_role("button", name="desc", exact=True).click()
    _wait_text(preview, "DESC")

    # every toggle (where and/or, each list's and the root's asc/desc) shows its labels in full
    assert builder.evaluate(CUT_TOGGLES_JS) == []
    assert order_row.locator(".widget-toggle-button").all_inner_texts() == ["asc", "desc"]

    # the association checkboxes: each label whole, apart from the next
    checkboxes = builder.evaluate(CHECKBOX_PROBLEMS_JS)
    assert checkboxes["count"] == 5 + 3 + 4  # User's, orders', orders.products'
    assert checkboxes["problems"] == []
    first, second = (builder.get_by_role("checkbox", name=n, exact=True).locator("xpath=ancestor::div[1]")
                     for n in ("orders → Order", "paid_orders → Order"))
    assert first.bounding_box()["x"] + first.bounding_box()["width"] < second.bounding_box()["x"]

    # the preview wraps its long lines at blanks, never inside "orders->products"
    wrapping = preview.locator("pre").evaluate(PREVIEW_WRAPS_JS)
    assert (wrapping["whiteSpace"], wrapping["wordBreak"]) == ("pre-wrap", "normal")
    assert wrapping["wraps"] >= 1, "the preview has no line long enough to wrap; the check saw nothing"
    assert wrapping["inside"] == []

    # an aggregate by clicks: it reaches the query, and the root's order offers it
    add_count_of_orders(notebook, builder)
    order_row.locator("select").select_option("count_orders")
    builder.get_by_role("button", name="Show YAML", exact=True).click()
    yaml_box = builder.locator("textarea")
    yaml_box.wait_for()
    _wait_value(yaml_box, "count_orders: {count: orders}")
    assert "- [count_orders, desc]" in yaml_box.input_value()
    assert notebook.log_console() == []
    notebook.screenshot("builder-layout", builder)
    notebook.screenshot("builder-layout-root-order", order_row)
    root_checkboxes = builder.locator(".widget-hbox", has=notebook.page.get_by_role("checkbox", name="orders → Order"))
    notebook.screenshot("builder-layout-checkboxes", root_checkboxes.first)


def test_aggregate_added_by_clicks_counts_match_sql(open_notebook, jupyterlab, shop):
    notebook, builder, preview = open_builder(open_notebook, jupyterlab, shop, "builder_aggregate")
    add_count_of_orders(notebook, builder)
    _wait_text(preview, "AS count_orders")
    assert "count(" in preview.inner_text().lower()

    builder.get_by_role("button", name="Run", exact=True).click()
    status = builder.locator(".widget-label", has_text="Ran:")
    status.wait_for()
    assert COUNTS.search(status.inner_text()).groups() == ("7", "7")
    table = builder.locator(".widget-output .crossquery-result table.dataframe").first
    table.wait_for()
    header = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = [[c.strip() for c in row.locator("td").all_inner_texts()] for row in table.locator("tbody tr").all()]
    shown = {int(row[header.index("id")]): int(row[header.index("count_orders")]) for row in rows}
    with sqlite3.connect(shop.parent / "users_and_orders.db") as db:
        expected = dict(db.execute("SELECT u.id, COUNT(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id"
                                   " GROUP BY u.id").fetchall())
    db.close()
    assert shown == expected
    assert shown[1] == 3 and shown[5] == 0  # Alice's three orders; Eve has none, and counts 0
    notebook.wait_idle()
    notebook.assert_clean()
    notebook.screenshot("builder-aggregate-run", builder)


def _wait_text(locator, text: str, timeout_ms: int = 30_000) -> None:
    """Wait until the element's text contains ``text`` (the preview updates after a round trip)."""
    locator.page.wait_for_function("([element, text]) => element.innerText.includes(text)",
                                   arg=[locator.element_handle(), text], timeout=timeout_ms)


def _wait_value(locator, text: str, timeout_ms: int = 30_000) -> None:
    locator.page.wait_for_function("([element, text]) => element.value.includes(text)",
                                   arg=[locator.element_handle(), text], timeout=timeout_ms)
