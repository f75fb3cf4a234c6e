"""The rich HTML of a Result (header, highlighted SQL, frames, records) and of a Statement."""

from __future__ import annotations

import html
import json
import re

import explorer
from explorer import demo
from explorer.display import records_html, result_html, statement_html


def _text(markup: str) -> str:
    """The visible text of an HTML fragment (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_result_html_has_header_highlighted_sql_and_every_frame(sqlite_shop):
    result = explorer.run(sqlite_shop, demo.DEMO_QUERY)
    markup = result._repr_html_()
    assert markup == result_html(result)
    header = _text(markup.split("</p>", 1)[0]).strip()
    assert header == (f"User: 5 root rows · 11 joined rows · 1 statement · {result.elapsed * 1000:.0f} ms · "
                      "databases: users_and_orders, products")
    assert 'style="color: #008000; font-weight: bold">SELECT</span>' in markup  # Pygments keyword
    assert _text(markup).count(result.to_sql().splitlines()[0]) == 1
    assert "status_1" in markup and "&#x27;paid&#x27;" in markup
    for name, frame in result.frames.items():
        assert f"<b>{name} ({len(frame)} row" in markup
    assert "Flat frame (11 joined rows)" in markup and "Nested records (5 root records)" in markup
    assert "<th>orders.products.category.name</th>" in markup
    assert "Crème brûlée torch" in _text(markup)
    assert "<script" not in markup


def test_records_are_indented_json_with_plain_values(sqlite_shop):
    result = explorer.run(sqlite_shop, demo.DEMO_QUERY)
    pre = re.search(r"<pre style=\"max-height[^>]*>(.*?)</pre>", records_html(result.records), re.DOTALL).group(1)
    records = json.loads(html.unescape(pre))
    assert records[0]["name"] == "Alice"
    assert records[0]["orders"][0]["total"] == 31.4
    assert records[0]["orders"][0]["products"][0]["category"] == {"id": 1, "name": "Stationery"}
    assert '\n  {\n    "id": 1,' in html.unescape(pre)


def test_large_results_show_first_rows_and_say_how_many(sqlite_shop):
    result = explorer.run(sqlite_shop, {"from": "Order", "include": ["products"]})
    markup = result_html(result, rows=3)
    assert f"First 3 of {result.row_count} rows shown." in markup
    flat = markup.split("Flat frame", 1)[1].split("</details>", 1)[0]
    assert flat.count("<tr") == 1 + 3  # header row + 3 rows
    many = html.unescape(records_html([{"id": i} for i in range(30)], limit=20))
    assert "First 20 of 30 records shown." in many and '"id": 19' in many and '"id": 20' not in many


def test_nulls_and_hostile_text_are_escaped(sqlite_shop):
    result = explorer.run(sqlite_shop, {"from": "Product", "where": {"id": [7, 8]}, "include": ["category"]})
    markup = result_html(result)
    assert "x&#x27;); DROP TABLE users; --" in markup or "x&#39;); DROP TABLE users; --" in markup
    assert "<td>&lt;NA&gt;</td>" in markup and "NULL" not in markup  # the mystery box has no category


def test_statement_html_for_sql_only_mode(sqlite_shop):
    statement = explorer.prepare(sqlite_shop, "from: User\nwhere:\n  name: :who\n", {"who": "50%"})
    markup = statement_html(statement)
    assert _text(markup).strip().startswith("User: one sqlite statement on users_and_orders (not run)")
    assert "who" in markup and "50%" in markup
    literal = _text(statement_html(statement, dialect="postgresql", literal=True))
    assert "one postgresql statement" in literal
    assert "WHERE \"User\".name = '50%'" in literal and "Parameters" not in literal
