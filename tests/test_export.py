"""Exported .sql snippets: header (query, databases without credentials, dialect, params) and statement."""

from __future__ import annotations

import sqlite3

import yaml

import explorer
from explorer import demo
from explorer.export import export_statement

QUERY = """\
from: User
attributes: [id, name]
where:
  name: {like: "A%"}
include:
  - orders:
      where: {status: paid}
      attributes: [id, total]
      include: [products]
order: [[name, asc]]
"""


def test_snippet_has_header_and_placeholder_statement(sqlite_shop, tmp_path):
    result = explorer.run(sqlite_shop, QUERY)
    path = result.export(tmp_path / "users.sql")
    text = path.read_text(encoding="utf-8")
    header, _, body = text.partition("\n\n")
    assert header.startswith("-- crossquery explorer: ONE statement")
    assert "dialect: sqlite" in header
    assert all(line.startswith("--") for line in header.splitlines())
    query = yaml.safe_load("\n".join(line[5:] for line in _section(header, "-- Query:")))
    assert query == yaml.safe_load(QUERY)
    assert "--   users_and_orders: sqlite:///" in header and "--   products: sqlite:///" in header
    assert "--   name_1 = 'A%'" in header and "--   status_1 = 'paid'" in header
    assert body.rstrip().endswith(";") and body.count("?") == 2
    assert body.rstrip(";\n") == result.to_sql()


def test_literal_snippet_runs_as_is_and_gives_the_same_rows(sqlite_shop, tmp_path):
    result = explorer.run(sqlite_shop, QUERY)
    text = export_statement(result, tmp_path / "lit.sql", literal=True).read_text(encoding="utf-8")
    assert "'A%'" in text and "'paid'" in text and "values inlined" in text
    connection = sqlite3.connect(":memory:")
    for name in (demo.USERS_AND_ORDERS, demo.PRODUCTS):
        db = sqlite_shop.databases[name].url.database
        connection.execute(f"ATTACH DATABASE '{db}' AS {name}")
    rows = connection.execute(text).fetchall()
    assert len(rows) == result.row_count
    assert [r[0] for r in rows] == result.frame["id"].tolist()


def test_snippet_for_another_dialect(sqlite_shop, tmp_path):
    statement = explorer.prepare(sqlite_shop, QUERY)
    text = statement.export(tmp_path / "pg.sql", dialect="postgresql", literal=True).read_text()
    assert "dialect: postgresql" in text
    assert "LIKE 'A%'" in text and '"orders->products"' in text
    text = statement.export(tmp_path / "my.sql", dialect="mysql").read_text()
    assert "`orders->products`" in text and "%s" in text


def test_hostile_value_is_escaped_when_inlined(sqlite_shop, tmp_path):
    name = "x'); DROP TABLE users; --"
    result = explorer.run(sqlite_shop, {"from": "Product", "where": {"name": ":name"}}, {"name": name})
    assert result.records[0]["id"] == 7
    text = result.export(tmp_path / "hostile.sql", literal=True).read_text()
    assert "'x''); DROP TABLE users; --'" in text
    assert "--   name = \"x'); DROP TABLE users; --\"" in text


def test_snippet_never_contains_the_password(tmp_path):
    url = "mysql+pymysql://shop:s3cret@db.example:3306/"
    config = explorer.load_config({
        "databases": {"products": url + "products"},
        "models": {"Category": {"table": "categories", "columns": ["id", "name"]}},
    })
    statement = explorer.prepare(config, {"from": "Category", "where": {"name": {"like": "50%"}}})
    text = statement.export(tmp_path / "m.sql", literal=True).read_text()
    assert "s3cret" not in text and "shop:***@db.example:3306/products" in text
    assert "dialect: mysql" in text and "`Category`.name LIKE '50%'" in text


def _section(header: str, title: str) -> list[str]:
    lines = header.splitlines()
    start = lines.index(title) + 1
    end = lines.index("--", start)
    return lines[start:end]
