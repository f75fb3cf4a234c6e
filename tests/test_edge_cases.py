"""Edge cases of the shop's awkward data, on SQLite, MariaDB and PostgreSQL.

Parents without children, NULL foreign keys, self-associations, two paths to
one table, composite keys, limit with has_many, required below optional,
``$nested$`` filters, unicode and quotes, dtypes, decimals and datetimes, and
frames deduplicated by (composite) keys.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from shopcases import CASES, extended

import explorer


def by_id(records: list[dict]) -> dict:
    return {r["id"]: r for r in records}


def test_parents_without_children(shop):
    users = by_id(explorer.run(shop, {"from": "User", "include": ["orders", "reviews"]}).records)
    assert users[5]["orders"] == [] and users[5]["reviews"] == []
    orders = by_id(explorer.run(shop, {"from": "Order", "include": ["products"]}).records)
    assert orders[10]["products"] == []
    categories = by_id(explorer.run(shop, {"from": "Category", "include": ["products"]}).records)
    assert categories[5]["products"] == []
    assert len(categories) == 5


def test_null_foreign_keys(shop):
    orders = by_id(explorer.run(shop, {"from": "Order", "include": ["user"]}).records)
    assert orders[8]["user"] is None and orders[8]["user_id"] is None
    assert orders[1]["user"]["name"] == "Alice"
    products = by_id(explorer.run(shop, {"from": "Product", "include": ["category"]}).records)
    assert products[8]["category"] is None
    required = explorer.run(shop, {"from": "Order", "include": [{"user": {"required": True}}]}).records
    assert 8 not in by_id(required) and len(required) == 9


def test_self_association(shop):
    users = by_id(explorer.run(shop, CASES["self_association"]).records)
    assert users[1]["referrer"] is None
    assert users[2]["referrer"] == {"name": "Alice"}  # exactly the listed attributes, as toJSON()
    assert [u["name"] for u in users[1]["referrals"]] == ["Bob", "Chloé"]
    assert [u["name"] for u in users[3]["referrals"][0]["referrals"]] == ["Alan"]  # Chloé -> Zoë -> Alan
    assert users[7]["referrals"] == []


def test_two_associations_to_one_table(shop):
    result = explorer.run(shop, CASES["two_paths_one_table"])
    alice = by_id(result.records)[1]
    assert [o["status"] for o in alice["orders"]] == ["paid", "pending", "paid"]
    paid = result.frames["paid_orders"]
    assert list(paid.loc[paid["User.id"] == 1, "id"]) == [1, 10]
    assert all(set(o) == {"total"} for o in alice["paid_orders"])
    assert '"paid_orders"' in result.sql or "paid_orders " in result.sql
    assert set(result.frames) == {"User", "orders", "paid_orders"}


def test_composite_keys_and_frames_dedup(shop):
    result = explorer.run(shop, CASES["composite_keys"])
    lines = result.frames["lines"]
    assert not lines.duplicated(["order_id", "product_id"]).any()
    assert len(lines) == 14
    shipments = result.frames["lines.shipments"]
    assert list(shipments.columns[:2]) == ["lines.order_id", "lines.product_id"]
    assert sorted(shipments["id"]) == [1, 2, 3, 4]
    order7 = by_id(result.records)[7]
    line = next(li for li in order7["lines"] if li["product_id"] == 3)
    assert [s["carrier"] for s in line["shipments"]] == ['Courier "Fast"', "Courier"]
    assert all(li["shipments"] == [] for li in order7["lines"] if li["product_id"] != 3)


def test_frames_dedup_by_key(shop):
    result = explorer.run(shop, {"from": "User", "include": ["orders", "reviews"]})
    assert len(result.frame) > len(result.frames["User"])  # siblings multiply the flat rows
    assert not result.frames["User"]["id"].duplicated().any()
    assert len(result.frames["User"]) == 7
    assert len(result.frames["orders"]) == 9  # order 8 has no user
    assert not result.frames["reviews"].duplicated(["User.id", "id"]).any()


def test_limit_counts_roots_with_has_many(shop):
    query = {"from": "User", "attributes": ["id"], "include": ["orders"], "order": [["id", "asc"]], "limit": 2}
    result = explorer.run(shop, query)
    assert [u["id"] for u in result.records] == [1, 2]
    assert len(result.records[0]["orders"]) == 3  # every order of the first root, not 2 joined rows
    assert result.row_count == 4
    page = explorer.run(shop, {**query, "offset": 2}).records
    assert [u["id"] for u in page] == [3, 4]


def test_limit_honours_required_includes(shop):
    records = explorer.run(shop, CASES["limit_required"]).records
    assert [u["id"] for u in records] == [6, 4]  # users with paid orders, from the highest id
    assert all(o["id"] for u in records for o in u["orders"])


def test_offset_when_the_nested_filter_pins_one_root(shop):
    """MariaDB dropped the OFFSET of a DISTINCT whose value the WHERE made constant."""
    query = {"from": "Category", "include": ["products"], "where": {"$products.category_id$": 1}}
    assert [c["id"] for c in explorer.run(shop, query).records] == [1]
    assert explorer.run(shop, {**query, "offset": 1}).records == []
    assert explorer.run(shop, {**query, "limit": 5, "offset": 1}).records == []


def test_offset_without_limit(shop):
    """MariaDB's split materialization overflowed on offset + SQLAlchemy's 2**64-1 'no limit'."""
    config = extended(shop)
    query = {"from": "Order", "attributes": ["id"], "include": ["buyer", {"lines": {"required": True}}],
             "offset": 1}
    assert [o["id"] for o in explorer.run(config, query).records] == [2, 3, 4, 5, 6, 7, 8, 9]


def test_required_below_optional(shop):
    users = by_id(explorer.run(shop, CASES["required_below_optional"]).records)
    assert len(users) == 7  # the optional branch keeps every user
    assert [o["id"] for o in users[1]["orders"]] == [1]  # only the order with a pen
    assert users[1]["orders"][0]["products"] == [{"name": "Fountain pen"}]
    assert [o["id"] for o in users[2]["orders"]] == [3]
    assert users[4]["orders"] == [] and users[5]["orders"] == []


def test_nested_filter(shop):
    records = explorer.run(shop, CASES["nested_filter"]).records
    assert [u["name"] for u in records] == ["Alice", "Bob"]  # roots without a pen disappear
    assert [p["name"] for o in records[1]["orders"] for p in o["products"]] == ["Fountain pen", "Ballpoint pen"]
    assert [o["id"] for o in records[0]["orders"]] == [1]  # nested lists keep matching rows only
    assert [p["name"] for p in records[0]["orders"][0]["products"]] == ["Fountain pen"]


def test_unicode_and_quotes_round_trip(shop):
    users = by_id(explorer.run(shop, {"from": "User", "where": {"name": {"in": ["Zoë 张伟", "Dan O'Brien"]}},
                                      "include": ["reviews"]}).records)
    assert set(users) == {4, 6}
    assert users[4]["reviews"][0]["body"] == "Sharp! Don't touch"
    assert users[6]["reviews"][0]["body"] == "🌱 grew fast"
    products = by_id(explorer.run(shop, {"from": "Product", "where": {"name": {"like": "%\"%"}}}).records)
    assert [p["name"] for p in products.values()] == ['Notebook "A5"']
    hostile = "x'); DROP TABLE users; --"
    assert [p["id"] for p in explorer.run(shop, {"from": "Product", "where": {"name": hostile}}).records] == [7]
    assert by_id(explorer.run(shop, {"from": "Product"}).records)[6]["name"] == "Seed kit 🌱"


def test_integer_dtypes_survive_left_join_nulls(shop):
    frame = explorer.run(shop, {"from": "User", "include": ["orders", "referrer"]}).frame
    for label in ("id", "referred_by", "orders.id", "orders.user_id", "referrer.id"):
        assert str(frame[label].dtype) == "Int64", label
    eve = frame[frame["id"] == 5]
    assert eve["orders.id"].isna().all() and eve["referred_by"].isna().all()
    frames = explorer.run(shop, {"from": "User", "include": ["orders"]}).frames
    assert str(frames["orders"]["id"].dtype) == "Int64"


def test_decimals_and_datetimes_preserved(shop):
    result = explorer.run(shop, {"from": "Order", "include": [{"lines": {"include": ["shipments"]}}]})
    orders = by_id(result.records)
    assert orders[1]["total"] == Decimal("31.40") and str(orders[1]["total"]) == "31.40"
    assert str(orders[10]["total"]) == "0.00"
    assert type(orders[1]["created_at"]) is dt.datetime
    assert orders[1]["created_at"] == dt.datetime(2024, 1, 10, 12, 30)
    shipment = orders[1]["lines"][0]["shipments"][0]
    assert type(shipment["shipped_on"]) is dt.date and shipment["shipped_on"] == dt.date(2024, 1, 11)
    assert all(isinstance(v, Decimal) for v in result.frame["total"])
    assert str(result.frame["created_at"].dtype).startswith("datetime64")


def test_long_include_paths(shop):
    """Aliases and labels longer than PostgreSQL's 63 bytes stay distinct and keep their names."""
    chain = {"products": {"attributes": ["id"], "include": [{"category": {"attributes": ["name"]}}]}}
    for _ in range(3):
        chain = {"products": {"attributes": ["id"], "include": [{"cheap_orders": {"attributes": ["id"],
                                                                                 "include": [chain]}}]}}
    query = {"from": "Order", "attributes": ["id"], "where": {"id": {"lte": 4}}, "include": [chain]}
    result = explorer.run(shop, query)
    deepest = "products.cheap_orders.products.cheap_orders.products.cheap_orders.products.category.name"
    assert deepest in result.frame.columns
    assert result.frame[deepest].notna().any()
    assert len(result.records) == 4


# ---------------------------------------------------------------------------
# Parameters and literal SQL (bugs once found in execute.render).


def test_decimal_param_on_sqlite(sqlite_shop):
    records = explorer.run(sqlite_shop, {"from": "Order", "attributes": ["id"], "where": {"total": {"gt": ":t"}}},
                           params={"t": Decimal("31.40")}).records
    assert [o["id"] for o in records] == [2, 4, 7]


def test_datetime_equality_on_sqlite(sqlite_shop):
    records = explorer.run(sqlite_shop, {"from": "Order", "attributes": ["id"],
                                         "where": {"created_at": dt.datetime(2024, 1, 15, 12, 30)}}).records
    assert [o["id"] for o in records] == [6]


def test_in_list_parameter(shop):
    records = explorer.run(shop, {"from": "User", "attributes": ["id"], "where": {"id": {"in": ":ids"}}},
                           params={"ids": [2, 4]}).records
    assert [u["id"] for u in records] == [2, 4]


@pytest.mark.parametrize("dialect", ["mysql", "postgresql"])
def test_literal_sql_keeps_percent_signs(sqlite_shop, dialect):
    sql = explorer.prepare(sqlite_shop, {"from": "User", "where": {"name": {"like": "A%"}}}).to_sql(
        dialect=dialect, literal=True)
    assert "'A%'" in sql


def test_in_list_beside_a_parameter(shop):
    records = explorer.run(shop, {"from": "User", "attributes": ["id"],
                                  "where": {"id": {"in": [1, 2]}, "name": ":who"}}, params={"who": "Alice"}).records
    assert [u["id"] for u in records] == [1]


def test_parameter_used_twice_on_sqlite(sqlite_shop):
    records = explorer.run(sqlite_shop, {"from": "User", "attributes": ["id"], "where": {"name": ":who"},
                                         "include": ["orders"], "limit": 2}, params={"who": "Alice"}).records
    assert [u["id"] for u in records] == [1]


def test_offset_zero_limits_nothing(shop):
    """Found by hypothesis on MariaDB: a root picker without LIMIT beside a nested join lost roots."""
    from shopcases import extended

    config = extended(shop)
    query = {"from": "User", "attributes": ["id"], "strategy": "join", "include": [
        {"orders": {"attributes": ["id"], "include": [
            {"buyer": {"attributes": ["id"], "where": {"created_at": None}}},
            {"lines": {"attributes": ["order_id"], "where": {"order_id": 1}}}]}},
        {"paid_orders": {"attributes": ["id"], "where": {"created_at": {"not": None}}}}]}
    expected = [1, 2, 3, 4, 6]
    assert [u["id"] for u in explorer.run(config, query).records] == expected
    assert [u["id"] for u in explorer.run(config, {**query, "offset": 0}).records] == expected
    assert [u["id"] for u in explorer.run(config, {**query, "offset": 1}).records] == expected[1:]
