"""The Mermaid ER diagram: models grouped by database, associations labelled, crossings dashed."""

from __future__ import annotations

import re

import explorer
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
