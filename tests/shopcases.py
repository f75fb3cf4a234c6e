"""Shared shop material for the core tests: the shop with extra associations, and named queries.

``extended(config)`` is the shop of ``explorer.demo`` on the same databases with
the association kinds the demo does not use: has_one (with a source_key),
a has_many on a non-key column, a composite belongs_to.
"""

from __future__ import annotations

import copy

import explorer
from explorer import demo

EXTRA_ASSOCIATIONS = {
    "Order": {"buyer": {"has_one": "User", "foreign_key": "id", "source_key": "user_id"}},
    "Product": {"category_row": {"has_one": "Category", "foreign_key": "id", "source_key": "category_id"}},
    "Review": {"same_product": {"has_many": "Review", "foreign_key": "product_id", "source_key": "product_id"}},
    "Shipment": {"line": {"belongs_to": "OrderProduct", "foreign_key": ["order_id", "product_id"],
                          "target_key": ["order_id", "product_id"]}},
}

_EXTENDED: dict[int, explorer.Config] = {}


def extended_models() -> dict:
    models = copy.deepcopy(demo.MODELS)
    for model, associations in EXTRA_ASSOCIATIONS.items():
        models[model].setdefault("associations", {}).update(associations)
    return models


def extended(config: explorer.Config) -> explorer.Config:
    """The shop config with the extra associations, on the same databases (cached per config)."""
    if id(config) not in _EXTENDED:
        databases = {name: {"url": db.url.render_as_string(hide_password=False), "schema": db.schema}
                     for name, db in config.databases.items()}
        _EXTENDED[id(config)] = explorer.load_config({"databases": databases, "models": extended_models()})
    return _EXTENDED[id(config)]


# Queries over the shop whose answers the SPEC fixes (used by the oracle, parity and golden tests).
CASES: dict[str, dict] = {
    "has_many": {"from": "User", "include": ["orders"]},
    "spec_example": {
        "from": "User", "attributes": ["id", "name"], "where": {"name": {"like": "A%"}},
        "include": [{"orders": {"required": True, "where": {"status": "paid"}, "attributes": ["id", "total"],
                                "include": ["products"]}}],
        "order": [["name", "asc"], ["orders.total", "desc"]], "limit": 10, "offset": 0,
    },
    "demo": {
        "from": "User", "attributes": ["id", "name"],
        "include": [{"orders": {"where": {"status": "paid"}, "attributes": ["id", "status", "total"],
                                "include": [{"products": {"attributes": ["id", "name", "price"],
                                                          "include": ["category"]}}]}}],
        "order": [["name", "asc"]],
    },
    "siblings": {"from": "User", "include": ["orders", "reviews"]},
    "self_association": {"from": "User", "attributes": ["id", "name"],
                         "include": [{"referrer": {"attributes": ["name"]}},
                                     {"referrals": {"attributes": ["name"],
                                                    "include": [{"referrals": {"attributes": ["name"]}}]}}]},
    "two_paths_one_table": {"from": "User", "attributes": ["id"],
                            "include": [{"orders": {"attributes": ["status"]}},
                                        {"paid_orders": {"attributes": ["total"]}}]},
    "belongs_to_many": {"from": "Order", "include": ["user", {"products": {"include": ["category"]}}]},
    "composite_keys": {"from": "Order", "attributes": ["id"],
                       "include": [{"lines": {"include": ["shipments", "product"]}}]},
    "scoped_belongs_to_many": {"from": "Product", "attributes": ["id", "name"],
                               "include": [{"cheap_orders": {"attributes": ["id", "total"]}}, "category"]},
    "category_products": {"from": "Category", "include": [{"products": {"include": ["reviews"]}}]},
    "review_chain": {"from": "Review", "include": [{"product": {"include": ["category"]}}, "author"]},
    "required_below_optional": {
        "from": "User", "attributes": ["id", "name"],
        "include": [{"orders": {"required": False, "attributes": ["id"],
                                "include": [{"products": {"required": True, "where": {"name": {"like": "%pen%"}},
                                                          "attributes": ["name"]}}]}}],
    },
    "nested_filter": {
        "from": "User", "attributes": ["id", "name"],
        "where": {"$orders.products.name$": {"like": "%pen%"}},
        "include": [{"orders": {"attributes": ["id"], "include": [{"products": {"attributes": ["name"]}}]}}],
    },
    "limit_has_many": {"from": "User", "attributes": ["id", "name"], "include": ["orders", "reviews"],
                       "order": [["name", "desc"]], "limit": 3, "offset": 1},
    "limit_required": {"from": "User", "attributes": ["id"],
                       "include": [{"orders": {"where": {"status": "paid"}, "attributes": ["id"]}}],
                       "order": [["id", "desc"]], "limit": 2},
    "limit_nested_filter": {
        "from": "User", "attributes": ["id"], "where": {"$orders.total$": {"gt": 20}},
        "include": [{"orders": {"attributes": ["id", "total"]}}], "limit": 2, "offset": 1,
    },
    "optional_where": {"from": "User", "attributes": ["id"],
                       "include": [{"orders": {"required": False, "where": {"status": "paid"},
                                               "attributes": ["id"]}}]},
    "has_one_source_key": {"from": "Product", "attributes": ["id", "category_id"],
                           "include": [{"category_row": {"attributes": ["name"]}}]},
    "composite_belongs_to": {"from": "Shipment", "include": [{"line": {"include": ["product"]}}]},
    "or_across_paths": {
        "from": "User", "attributes": ["id"],
        "where": {"or": [{"name": "Eve"}, {"$orders.status$": "cancelled"}]},
        "include": [{"orders": {"attributes": ["id", "status"]}}],
    },
    "junction_attributes": {
        "from": "Order", "attributes": ["id", "status"], "order": [["id", "desc"]], "limit": 4,
        "include": [{"products": {"attributes": ["name"],
                                  "through": {"attributes": ["quantity"], "where": {"quantity": {"gte": 1}}}}}],
    },
    "top_n_per_parent": {
        "from": "User", "attributes": ["id", "name"],
        "include": [{"orders": {"attributes": ["id", "total"], "order": [["total", "desc"]], "limit": 2, "offset": 1,
                                "include": [{"products": {"attributes": ["name"], "order": [["price", "desc"]],
                                                          "limit": 1}}]}}],
    },
    "aggregates": {
        "from": "User", "attributes": ["id", "name"],
        "aggregate": {"order_count": {"count": "orders"}, "pieces": {"sum": "orders.lines.quantity"}},
        "having": {"order_count": {"gte": 1}}, "order": [["order_count", "desc"], ["id", "asc"]],
        "include": [{"orders": {"attributes": ["id"], "aggregate": {"items": {"count": "products"}}}}],
    },
}

# Cases that use the extra associations of ``extended``.
EXTENDED_CASES = ("has_one_source_key", "composite_belongs_to")
