"""The Mermaid ER diagram: models grouped by database, associations labelled, crossings dashed."""

from __future__ import annotations

import re

import pytest
import yaml
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

import explorer
from explorer import demo
from explorer.diagram import Diagram


def test_markdown_is_a_fenced_mermaid_er_diagram(sqlite_shop):
    markdown = explorer.diagram(sqlite_shop)._repr_markdown_()
    fence = re.match(r"```mermaid\n(.*?)\n```\n", markdown, re.DOTALL)
    assert fence and fence.group(1).startswith("erDiagram\n")
    assert fence.group(1) == explorer.diagram(sqlite_shop).mermaid


def test_models_are_grouped_by_database_with_their_keys(sqlite_shop):
    lines = explorer.diagram(sqlite_shop).mermaid.splitlines()
    users_db = lines.index("%% database users_and_orders")
    products_db = lines.index("%% database products")
    entity = {m: next(i for i, line in enumerate(lines) if line.startswith(f"    {m}[")) for m in sqlite_shop.models}
    assert all(users_db < entity[m] < products_db for m in ("User", "Order", "OrderProduct", "Shipment"))
    assert all(products_db < entity[m] for m in ("Product", "Category", "Review"))
    assert lines[entity["Order"]] == '    Order["Order (users_and_orders.orders)"] {'
    assert lines[entity["Order"] + 1: entity["Order"] + 3] == ["        key id PK", "        key user_id FK"]
    assert "        key order_id PK, FK" in lines  # the junction's composite key


def test_associations_are_labelled_and_crossings_are_dashed(sqlite_shop):
    mermaid = explorer.diagram(sqlite_shop).mermaid
    assert '    User ||--o{ Order : "orders"' in mermaid
    assert '    User }o--o| User : "referrer"' in mermaid  # self-association
    assert '    User ||..o{ Review : "reviews ⇄ users_and_orders → products"' in mermaid
    assert ('    Order }o..o{ Product : "products via OrderProduct ⇄ users_and_orders → products"'
            in mermaid)
    assert '    Product }o--o| Category : "category"' in mermaid
    crossing = {f"{a.source}.{a.name}" for a in Diagram(sqlite_shop).cross_database()}
    assert crossing == {"User.reviews", "Order.products", "OrderProduct.product", "Product.orders",
                        "Product.cheap_orders", "Review.author"}


def test_legend_names_databases_without_passwords():
    config = explorer.load_config({
        "databases": {"shop": "mysql+pymysql://app:hunter2@db.example:3306/shop",
                      "stock": "mysql+pymysql://app:hunter2@db.example:3306/stock"},
        "models": {"Item": {"database": "shop", "columns": ["id", "stock_id"],
                            "associations": {"stock": {"belongs_to": "Stock"}}},
                   "Stock": {"database": "stock", "columns": ["id"]}},
    })
    shown = explorer.diagram(config)._repr_markdown_() + repr(explorer.diagram(config))
    assert "hunter2" not in shown
    assert "- `shop` (mysql+pymysql://app:***@db.example:3306/shop): Item" in shown
    assert "**Cross-database joins** (dashed): Item.stock (shop → stock)" in shown
    assert '    Item }o..o| Stock : "stock ⇄ shop → stock"' in shown


# ---------------------------------------------------------------------------
# columns=True: every column with its type and key marks

# Mermaid's attribute word (the erDiagram lexer of the Mermaid that JupyterLab 4 bundles), ASCII part.
MERMAID_WORD = re.compile(r"[*A-Za-z_][A-Za-z0-9\-_\[\]().,*]*")
ROW = re.compile(r" {8}(\S+) (\S+)(?: (PK|FK|PK, FK))?(?: \"[^\"%]*\")?")
SHOP_TYPES = {  # (id, total, created_at) as each server spells them
    "sqlite": ("integer", "numeric(10,2)", "datetime"),
    "mysql": ("integer(11)", "decimal(10,2)", "datetime"),
    "postgresql": ("integer", "numeric(10,2)", "timestamp_without_time_zone"),
}


def entity_rows(mermaid: str, model: str) -> list[str]:
    lines = mermaid.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"    {model}["))
    return lines[start + 1: lines.index("    }", start)]


def test_columns_lists_every_column_with_its_type_and_keys(sqlite_shop):
    mermaid = explorer.diagram(sqlite_shop, columns=True).mermaid
    assert entity_rows(mermaid, "Order") == [
        "        integer id PK", "        integer user_id FK", "        varchar(20) status",
        "        numeric(10,2) total", "        datetime created_at"]
    assert entity_rows(mermaid, "OrderProduct") == [  # the junction: its keys point both ways
        "        integer order_id PK, FK", "        integer product_id PK, FK", "        integer quantity"]
    assert entity_rows(mermaid, "Shipment")[-1] == "        date shipped_on"
    assert entity_rows(mermaid, "Category") == ["        integer id PK", "        varchar(200) name"]


def test_columns_keeps_the_grouping_titles_and_relationships(sqlite_shop):
    plain, full = explorer.diagram(sqlite_shop).mermaid, explorer.diagram(sqlite_shop, columns=True).mermaid
    outside = [line for line in full.splitlines() if not line.startswith("        ")]
    assert outside == [line for line in plain.splitlines() if not line.startswith("        ")]
    assert explorer.diagram(sqlite_shop, columns=True).legend() == explorer.diagram(sqlite_shop).legend()


def test_columns_on_each_backend(shop, request):
    backend = request.node.callspec.params["shop"]
    mermaid = explorer.diagram(shop, columns=True).mermaid
    foreign = {("User", "referred_by"), ("Order", "user_id"), ("OrderProduct", "order_id"),
               ("OrderProduct", "product_id"), ("Shipment", "order_id"), ("Shipment", "product_id"),
               ("Product", "category_id"), ("Review", "product_id"), ("Review", "user_id")}
    for name, model in shop.models.items():
        rows = [ROW.fullmatch(row) for row in entity_rows(mermaid, name)]
        assert all(rows), entity_rows(mermaid, name)
        assert [row.group(2) for row in rows] == shop.columns(name)  # every column, in the table's order
        assert all(MERMAID_WORD.fullmatch(row.group(1)) for row in rows)
        for row in rows:
            column, marks = row.group(2), (row.group(3) or "").split(", ")
            assert ("PK" in marks) == (column in model.primary_key), (name, column)
            assert ("FK" in marks) == ((name, column) in foreign), (name, column)
    id_type, total_type, created_type = SHOP_TYPES[backend]
    assert entity_rows(mermaid, "Order")[0] == f"        {id_type} id PK"
    assert f"        {total_type} total" in entity_rows(mermaid, "Order")
    assert f"        {created_type} created_at" in entity_rows(mermaid, "User")


def test_listed_columns_show_their_live_types(tmp_path):
    path = demo.build_sqlite(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["models"]["Order"]["columns"] = ["id", "total"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    rows = entity_rows(explorer.diagram(path, columns=True).mermaid, "Order")
    assert rows == ["        integer id PK", "        numeric(10,2) total"]


def test_type_tokens_are_one_mermaid_word():
    from explorer.diagram import _attribute, _type_token

    assert _type_token("DECIMAL(10, 2)") == ("decimal(10,2)", "")
    assert _type_token("TIMESTAMP WITH TIME ZONE") == ("timestamp_with_time_zone", "")
    assert _type_token("INTEGER[]") == ("integer[]", "")
    assert _type_token('VARCHAR(20) COLLATE "C"') == ("varchar(20)", "")
    assert _type_token("VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin") == ("varchar(20)", "")
    assert _type_token("ENUM('paid','pending')") == ("enum", "ENUM('paid','pending')")  # the rest as a comment
    row = _attribute("enum", "status", "", "ENUM('paid','pending')")
    assert row == "        enum status \"ENUM('paid','pending')\""
    # Mermaid reads a bare pk/fk/uk as a key mark, so such a column gets a trailing underscore
    assert _attribute("integer", "pk", "PK") == "        integer pk_ PK"


# ---------------------------------------------------------------------------
# %crossquery diagram [PATH|VARIABLE] [--columns]


@pytest.fixture
def shell(sqlite_config_path):
    """IPython's test shell with the SQLite shop as the session config."""
    ip = start_ipython() or get_ipython()
    ip.run_line_magic("load_ext", "explorer")
    ip.run_line_magic("crossquery", f"config {sqlite_config_path}")
    return ip


def test_magic_columns_flag(shell, sqlite_config_path):
    plain = shell.run_line_magic("crossquery", "diagram")
    assert not plain.columns and "        key id PK" in plain.mermaid
    full = shell.run_line_magic("crossquery", "diagram --columns")
    assert full.columns and full.mermaid == explorer.diagram(sqlite_config_path, columns=True).mermaid
    assert "        numeric(10,2) total" in full.mermaid
    shell.user_ns["shop_config"] = explorer.load_config(sqlite_config_path)
    try:  # a config named before or after the flag
        for line in ("diagram shop_config --columns", f"diagram --columns {sqlite_config_path}"):
            assert shell.run_line_magic("crossquery", line).mermaid == full.mermaid
    finally:
        shell.user_ns.pop("shop_config")


def test_magic_unknown_flag_is_a_clear_error(shell):
    with pytest.raises(UsageError, match=r"unknown option '--colums'\. Did you mean: --columns\? "
                                         r"Usage: %crossquery diagram \[PATH\|VARIABLE\] \[--columns\]"):
        shell.run_line_magic("crossquery", "diagram --colums")
    with pytest.raises(UsageError, match="unknown option '-x'"):
        shell.run_line_magic("crossquery", "diagram -x")
    with pytest.raises(UsageError, match="takes one config, got a.yaml b.yaml"):
        shell.run_line_magic("crossquery", "diagram a.yaml b.yaml --columns")
