"""Aggregates per node: the oracle's answers, hand-written GROUP BY SQL, both strategies, three
backends (the shop and the lending library), and through DuckDB across servers."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from oracle import Oracle, normalize
from shopcases import extended
from test_include_features import check as check_library
from test_include_features import hand_sql
from test_engine_spark import spark_shop  # noqa: F401, F811 - the fixture
from test_oracle import check as check_shop

import explorer

SHOP_QUERIES = {
    "count_sum_avg_on_the_root": {
        "from": "User", "attributes": ["id", "name"],
        "aggregate": {"order_count": {"count": "orders"}, "spent": {"sum": "orders.total"},
                      "average": {"avg": "orders.total"}, "first": {"min": "orders.created_at"},
                      "biggest": {"max": "orders.total"}},
        "include": [{"orders": {"attributes": ["id"]}}]},
    "several_levels_deep": {
        "from": "User", "attributes": ["id"],
        "aggregate": {"lines": {"count": "orders.products"}, "pieces": {"sum": "orders.lines.quantity"},
                      "categories": {"count_distinct": "orders.products.category_id"},
                      "kitchen": {"count": "orders.products", "where": {"category_id": 2}}}},
    "scoped_association": {"from": "User", "attributes": ["id"],
                           "aggregate": {"paid": {"count": "paid_orders"}, "paid_total": {"sum": "paid_orders.total"}}},
    "on_an_include_with_siblings": {
        "from": "User", "attributes": ["id"],
        "include": [{"orders": {"attributes": ["id"], "aggregate": {"items": {"count": "products"},
                                                                   "cheapest": {"min": "products.price"}}}},
                    {"reviews": {"attributes": ["id"]}}]},
    "having_and_order_with_root_limit": {
        "from": "User", "attributes": ["id"], "aggregate": {"n": {"count": "orders"}},
        "having": {"n": {"gte": 1}}, "order": [["n", "desc"], ["id", "asc"]], "limit": 3, "offset": 1,
        "include": [{"orders": {"attributes": ["id"]}}]},
    "having_on_a_required_include": {
        "from": "User", "attributes": ["id"],
        "include": [{"orders": {"attributes": ["id"], "required": True, "aggregate": {"items": {"count": "products"}},
                                "having": {"items": {"gt": 1}}}}]},
    "json_strategy_nested": {
        "from": "Category", "attributes": ["id"],
        "include": [{"products": {"attributes": ["id"], "aggregate": {"rating": {"max": "reviews.rating"},
                                                                     "review_count": {"count": "reviews"}},
                                  "include": [{"reviews": {"attributes": ["id"]}}, {"orders": {"attributes": ["id"]}}]}}]},
}

LIBRARY_QUERIES = {
    "soft_deletes_are_not_counted": {
        "from": "Member", "attributes": ["id"],
        "aggregate": {"loan_count": {"count": "loans"}, "books_read": {"count_distinct": "loans.book_id"},
                      "open": {"count": "loans", "where": {"returned_on": None}},
                      "authors": {"count": "loans.book.authors"}, "last": {"max": "loans.loaned_at"}}},
    "with_top_n_and_junction": {
        "from": "Author", "attributes": ["id"], "aggregate": {"book_count": {"count": "books"}},
        "having": {"book_count": {"gte": 1}},
        "include": [{"books": {"attributes": ["id"], "order": [["year", "desc"]], "limit": 1,
                               "aggregate": {"loan_count": {"count": "loans"}}, "through": {"attributes": ["role"]}}}]},
}


@pytest.mark.parametrize("name", sorted(SHOP_QUERIES))
def test_shop_aggregates_match_the_oracle(shop, name):
    check_shop(shop, SHOP_QUERIES[name])


@pytest.mark.parametrize("name", sorted(LIBRARY_QUERIES))
def test_library_aggregates_match_the_oracle(library_dict, name):
    check_library(explorer.load_config(library_dict), LIBRARY_QUERIES[name])


def group_by(config: explorer.Config, sql: str) -> dict:
    """{key: value} from a hand-written GROUP BY on the shop's databases."""
    names = {name: db.schema for name, db in config.databases.items()}
    engine = config.engine("users_and_orders")
    with engine.connect() as connection:
        return {row[0]: row[1] for row in connection.exec_driver_sql(sql.format(**names))}


def test_counts_and_sums_match_hand_written_group_by(shop):
    query = SHOP_QUERIES["count_sum_avg_on_the_root"]
    counts = group_by(shop, "SELECT u.id, COUNT(o.id) FROM {users_and_orders}.users u "
                            "LEFT JOIN {users_and_orders}.orders o ON o.user_id = u.id GROUP BY u.id")
    sums = group_by(shop, "SELECT u.id, SUM(o.total) FROM {users_and_orders}.users u "
                          "LEFT JOIN {users_and_orders}.orders o ON o.user_id = u.id GROUP BY u.id")
    for strategy in ("join", "json"):
        records = explorer.run(shop, {**query, "strategy": strategy}).records
        assert {r["id"]: r["order_count"] for r in records} == counts
        got = {r["id"]: r["spent"] for r in records}
        assert got.keys() == sums.keys()
        sqlite = shop.databases["users_and_orders"].url.get_backend_name() == "sqlite"
        for key, value in sums.items():  # SQLite adds its REAL-kept decimals as doubles: a float
            want = float(value) if sqlite and value is not None else value
            assert got[key] == want and type(got[key]) is type(want), (key, got[key], value)
            assert value is None or isinstance(got[key], float if sqlite else Decimal)
        assert next(r for r in records if r["id"] == 5)["order_count"] == 0  # Eve has none: 0, not NULL
        assert next(r for r in records if r["id"] == 5)["spent"] is None


def test_types_are_the_same_on_every_backend(shop):
    result = explorer.run(shop, SHOP_QUERIES["several_levels_deep"])
    alice = result.records[0]
    assert alice == {"id": 1, "lines": 3, "pieces": 3, "categories": 2, "kitchen": 1}
    assert all(type(value) is int for value in alice.values())
    frame = result.frames["User"]
    assert str(frame["pieces"].dtype) == "Int64" and str(frame["lines"].dtype) == "Int64"
    average = explorer.run(shop, {"from": "User", "where": {"id": 1},
                                  "aggregate": {"a": {"avg": "orders.total"}}}).records[0]["a"]
    assert average == float(Decimal("90.40")) / 3


def test_library_counts_match_hand_written_group_by(library_dict):
    config = explorer.load_config(library_dict)
    rows = hand_sql(library_dict, """
        SELECT m.id, COUNT(l.id) FROM {lending}.members m
        LEFT JOIN {lending}.loans l ON l.member_id = m.id AND l.deleted_at IS NULL
        WHERE m.deleted_at IS NULL GROUP BY m.id ORDER BY m.id""")
    for strategy in ("join", "json"):
        records = explorer.run(config, {**LIBRARY_QUERIES["soft_deletes_are_not_counted"], "strategy": strategy}).records
        assert [(r["id"], r["loan_count"]) for r in records] == [tuple(row) for row in rows]


def test_aggregates_through_duckdb(federated_shop, one_server_shop):
    for name in ("several_levels_deep", "on_an_include_with_siblings", "json_strategy_nested"):  # across servers
        for strategy in ("join", "json"):
            query = {**SHOP_QUERIES[name], "strategy": strategy}
            result = explorer.run(federated_shop, query)
            assert result.engine == "duckdb"
            assert normalize(result.records) == normalize(explorer.run(one_server_shop, query).records), name


@pytest.mark.parametrize("query, message", [
    ({"from": "User", "aggregate": {"n": {"cnt": "orders"}}}, r"aggregate\.n: expected one of count.*count\?"),
    ({"from": "User", "aggregate": {"n": {"count": "ordrs"}}}, r"aggregate\.n\.count: User has no association 'ordrs'"),
    ({"from": "User", "aggregate": {"n": {"sum": "orders"}}}, r"aggregate\.n\.sum: sum needs a column"),
    ({"from": "User", "aggregate": {"n": {"sum": "orders.totl"}}}, r"Order has no association or column 'totl'.*total"),
    ({"from": "Order", "aggregate": {"n": {"count": "user"}}}, r"aggregate\.n\.count: user reaches one User per Order"),
    ({"from": "User", "aggregate": {"name": {"count": "orders"}}}, r"aggregate\.name: User already has a column"),
    ({"from": "User", "aggregate": {"n": {"count": "orders"}}, "having": {"m": 1}},
     r"having\.m: this node has no aggregate 'm'"),
    ({"from": "User", "having": {"n": 1}}, r"^having: having filters by aggregates"),
    ({"from": "User", "aggregate": {"n": {"count": "orders"}}, "where": {"n": 1}}, r"where\.n: User has no column 'n'"),
    ({"from": "User", "include": [{"orders": {"aggregate": {"n": {"count": "products"}}}}], "order": [["orders.m", "asc"]]},
     r"order\.0: Order has no column or aggregate 'm'"),
])
def test_mistakes_name_the_path(sqlite_shop, query, message):
    with pytest.raises(explorer.QueryError, match=message):
        explorer.prepare(extended(sqlite_shop), query)


def test_one_statement_each(sqlite_shop):
    config = extended(sqlite_shop)
    from test_statement_count import engine_of, on_checkout

    for query in SHOP_QUERIES.values():
        explorer.run(config, query)
        statements: list[str] = []
        with on_checkout(engine_of(config), lambda c: c.set_trace_callback(statements.append),
                         lambda c: c.set_trace_callback(None)):
            explorer.run(config, query)
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_the_oracle_is_not_trivial(sqlite_shop):
    config = extended(sqlite_shop)
    records = Oracle(config, "sqlite").records(SHOP_QUERIES["having_on_a_required_include"])
    assert [r["id"] for r in records] == [1, 2, 3, 6]
    assert sa is not None


def test_aggregates_through_spark(spark_shop, one_server_shop):  # noqa: F811 - the imported fixture
    for name in ("several_levels_deep", "on_an_include_with_siblings"):
        for strategy in ("join", "json"):
            query = {**SHOP_QUERIES[name], "strategy": strategy}
            result = explorer.run(spark_shop, query)
            assert result.engine == "spark"
            assert normalize(result.records) == normalize(explorer.run(one_server_shop, query).records), name


@pytest.mark.mysql
def test_the_arrow_reader_reads_counts_and_averages_as_the_driver_does(mysql_shop):
    query = {"from": "User", "attributes": ["id"],
             "aggregate": {"n": {"count": "orders"}, "a": {"avg": "orders.total"}, "last": {"max": "orders.created_at"}}}
    by_arrow = explorer.run(mysql_shop, query, reader="arrow")
    by_driver = explorer.run(mysql_shop, query, reader="driver")
    assert by_arrow.execution.reader == "arrow"
    assert by_arrow.records == by_driver.records
    with pytest.raises(explorer.ExecutionError, match=r"reader: arrow cannot carry .*s \(BIGINT"):
        explorer.run(mysql_shop, {**query, "aggregate": {"s": {"sum": "orders.id"}}}, reader="arrow")
