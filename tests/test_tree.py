"""The include query: parsing, defaults, and errors that name the query path and close matches."""

from __future__ import annotations

import pytest

import explorer
from explorer.tree import BoolOp, Condition, Param


def parse(config, query):
    return explorer.parse_query(config, query)


def error(config, query) -> str:
    with pytest.raises(explorer.QueryError) as info:
        parse(config, query)
    return str(info.value)


@pytest.mark.parametrize(("query", "expected"), [
    ({"from": "Usr"}, ["from", "'Usr'", "Did you mean: User?"]),
    ({"attributes": ["id"]}, ["needs 'from'"]),
    ({"from": "User", "include": [{"orders": {"include": ["prodcts"]}}]},
     ["include.orders.include.prodcts", "Order has no association 'prodcts'", "Did you mean: products?"]),
    ({"from": "User", "include": ["ordres"]}, ["include.ordres", "Did you mean: orders?"]),
    ({"from": "User", "attributes": ["nam"]}, ["attributes", "no column 'nam'", "Did you mean: name?"]),
    ({"from": "User", "include": [{"orders": {"attributes": ["totl"]}}]},
     ["include.orders.attributes", "Order has no column 'totl'", "total"]),
    ({"from": "User", "attributes": {"exclude": ["emial"]}}, ["attributes.exclude", "email"]),
    ({"from": "User", "where": {"name": {"lik": "A%"}}},
     ["where.name.lik", "unknown operator 'lik'", "Did you mean: like"]),
    ({"from": "User", "where": {"nme": "x"}}, ["where.nme", "no column 'nme'", "name"]),
    ({"from": "User", "where": {"$orders.stauts$": "paid"}, "include": ["orders"]},
     ["where.$orders.stauts$", "Order has no column 'stauts'", "status"]),
    ({"from": "User", "where": {"$ordrs.status$": "paid"}, "include": ["orders"]},
     ["'ordrs' is not an included path", "Did you mean: orders?"]),
    ({"from": "User", "where": {"$orders.status$": "paid"}}, ["'orders' is not an included path"]),
    ({"from": "User", "include": [{"orders": {"where": {"stat": "x"}}}]},
     ["include.orders.where.stat", "status"]),
    ({"from": "User", "include": [{"orders": {"where": {"$products.name$": "x"}, "include": ["products"]}}]},
     ["include.orders.where.$products.name$", "root where"]),
    ({"from": "User", "include": [{"orders": {"requird": True}}]},
     ["include.orders.requird", "Did you mean: required?"]),
    ({"from": "User", "include": [{"orders": {"required": "yes"}}]}, ["include.orders.required", "true or false"]),
    ({"from": "User", "lmit": 3}, ["lmit", "Did you mean: limit?"]),
    ({"from": "User", "limit": -1}, ["limit", ">= 0"]),
    ({"from": "User", "offset": 1.5}, ["offset"]),
    ({"from": "User", "order": [["nme", "asc"]]}, ["order.0", "no column or aggregate 'nme'", "name"]),
    ({"from": "User", "order": [["name", "up"]]}, ["order.0", "asc|desc"]),
    ({"from": "User", "order": [["orders.total", "desc"]]}, ["order.0", "'orders' is not an included path"]),
    ({"from": "User", "where": {"id": {"is": 1}}}, ["where.id.is", "null, true or false"]),
    ({"from": "User", "where": {"id": {"between": [1]}}}, ["where.id.between", "[low, high]"]),
    ({"from": "User", "where": {"id": {"in": 3}}}, ["where.id.in", "list"]),
    ({"from": "User", "where": {"name": {"like": 3}}}, ["where.name.like", "text pattern"]),
    ({"from": "User", "where": {"id": {"eq": [1, 2]}}}, ["where.id.eq", "single value"]),
    ({"from": "User", "where": {"or": "x"}}, ["where.or", "list of conditions"]),
    ({"from": "User", "where": ["id"]}, ["where", "mapping"]),
    ({"from": "User", "include": ["orders", "orders"]}, ["'orders' is included twice"]),
    ({"from": "User", "include": 3}, ["include", "list of association names"]),
    ({"from": "User", "include": [{"orders": 3}]}, ["include.orders", "mapping"]),
    ({"from": "User", "strategy": "fast"}, ["strategy"]),
    ("from: User\ninclude: [orders\n", ["not valid YAML", "line 2, column 10", "never closed"]),
    ("- just a list\n- of things\n", ["mapping"]),
])
def test_query_errors_name_path_and_close_matches(sqlite_shop, query, expected):
    message = error(sqlite_shop, query)
    for part in expected:
        assert part in message, (part, message)


def test_missing_query_file(sqlite_shop, tmp_path):
    assert "does not exist" in error(sqlite_shop, str(tmp_path / "nope.yaml"))


def test_query_from_yaml_file(sqlite_shop, tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("from: User\ninclude:\n  orders: {attributes: [id]}\n", encoding="utf-8")
    query = parse(sqlite_shop, str(path))
    assert [n.path for n in query.walk()] == [("orders",)]


def test_required_defaults(sqlite_shop):
    query = parse(sqlite_shop, {"from": "User", "include": [
        "reviews", {"orders": {"where": {"status": "paid"}}}, {"paid_orders": {"where": {"id": 1}, "required": False}},
        {"referrer": {"required": True}}]})
    required = {n.name: n.required for n in query.walk()}
    assert required == {"reviews": False, "orders": True, "paid_orders": False, "referrer": True}


def test_include_forms_agree(sqlite_shop):
    forms = [
        {"from": "User", "include": ["orders"]},
        {"from": "User", "include": "orders"},
        {"from": "User", "include": {"orders": None}},
        {"from": "User", "include": [{"orders": {}}]},
        {"from": "User", "include": [{"association": "orders"}]},
        "from: User\ninclude:\n  - orders\n",
    ]
    paths = [[(n.path, n.required, n.attributes) for n in parse(sqlite_shop, q).walk()] for q in forms]
    assert all(p == paths[0] for p in paths)


def test_where_operators_and_aliases(sqlite_shop):
    query = parse(sqlite_shop, {"from": "User", "where": {
        "name": {"notLike": "A%", "iLike": "%e%"}, "id": [1, 2], "referred_by": None, "$or": [{"id": {">=": 3}}]}})
    assert isinstance(query.where, BoolOp) and query.where.op == "and"
    ops = [item.items[0].op if isinstance(item, BoolOp) and item.op == "and" else getattr(item, "op", None)
           for item in query.where.items]
    assert ops[:2] == ["not_like", "in"]
    assert query.where.items[2] == Condition(query.where.items[2].column, "is", None)


def test_params_and_escaped_colons(sqlite_shop):
    query = parse(sqlite_shop, {"from": "User", "where": {"name": ":who", "email": "::literal",
                                                         "id": {"in": [":a", 3]}}})
    values = [item.value for item in query.where.items]
    assert values[0] == Param("who") and values[1] == ":literal" and values[2] == (Param("a"), 3)
    assert query.param_names == ["who", "a"]


def test_missing_param_is_a_query_error(sqlite_shop):
    with pytest.raises(explorer.QueryError, match=r":who"):
        explorer.run(sqlite_shop, {"from": "User", "where": {"name": ":who"}})


def test_nested_order_and_references(sqlite_shop):
    query = parse(sqlite_shop, {"from": "User", "include": [{"orders": {"include": ["products"]}}],
                                "where": {"$orders.products.name$": {"like": "%pen%"}},
                                "order": [["$orders.total$", "desc"], "name"]})
    assert query.where.column.path == ("orders", "products")
    assert [(ref.path, ref.column, desc) for ref, desc in query.order] == [
        (("orders",), "total", True), ((), "name", False)]


def test_nodes_are_frozen(sqlite_shop):
    query = parse(sqlite_shop, {"from": "User", "include": ["orders"]})
    with pytest.raises(AttributeError):
        query.limit = 3
    with pytest.raises(AttributeError):
        query.includes[0].required = True
