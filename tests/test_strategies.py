"""The two ways of compiling one statement: a flat join, and JSON aggregation per parent."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import explorer
from conftest import MYSQL_SERVER, PREFIX

SIBLINGS = {"from": "User", "attributes": ["id", "name"],
            "include": [{"orders": {"attributes": ["id", "total", "created_at"], "include": ["products"]}},
                        {"reviews": {"attributes": ["id", "rating", "body"]}}]}


def test_auto_takes_json_only_for_side_by_side_to_many_branches(sqlite_shop):
    prepare = explorer.prepare
    assert prepare(sqlite_shop, SIBLINGS).compiled.strategy == "json"
    assert prepare(sqlite_shop, {"from": "User", "include": [{"orders": {"include": ["products"]}}]}
                   ).compiled.strategy == "join"
    # two to-one siblings do not multiply rows
    assert prepare(sqlite_shop, {"from": "Product", "include": ["category", "reviews"]}).compiled.strategy == "join"
    # json cannot express a $nested$ filter: auto keeps the join
    nested = {**SIBLINGS, "where": {"$reviews.rating$": {"gte": 4}}}
    assert prepare(sqlite_shop, nested).compiled.strategy == "join"


def test_explicit_json_refuses_nested_filters(sqlite_shop):
    with pytest.raises(explorer.QueryError, match=r"strategy: json .* \$nested\$ .* use strategy: join"):
        explorer.prepare(sqlite_shop, {**SIBLINGS, "strategy": "json", "where": {"$reviews.rating$": 5}})
    with pytest.raises(explorer.QueryError, match="strategy: expected one of auto, join, json"):
        explorer.prepare(sqlite_shop, {**SIBLINGS, "strategy": "flat"})


def test_json_sends_one_row_per_root_and_reads_the_same(shop):
    as_json = explorer.run(shop, SIBLINGS)
    as_join = explorer.run(shop, {**SIBLINGS, "strategy": "join"})
    assert as_json.strategy == "json" and as_join.strategy == "join"
    assert as_json.row_count == 7  # every user once
    assert as_join.row_count > as_json.row_count  # orders x products x reviews per user
    assert as_json.records == as_join.records
    for name, frame in as_join.frames.items():
        pd.testing.assert_frame_equal(as_json.frames[name], frame.reset_index(drop=True))
    pd.testing.assert_frame_equal(as_json.frame, as_join.frame)
    alice = as_json.records[0]
    assert [o["id"] for o in alice["orders"]] == [1, 2, 10]
    assert alice["orders"][2]["products"] == []
    assert [r["body"] for r in alice["reviews"]] == ["Smooth writer", "Too heavy"]
    eve = next(u for u in as_json.records if u["name"] == "Eve")
    assert eve["orders"] == [] and eve["reviews"] == []


def test_json_keeps_required_semantics(shop):
    query = {"from": "User", "attributes": ["id"], "strategy": "json", "order": [["id", "desc"]],
             "include": [{"orders": {"required": True, "include": [{"products": {"where": {"price": {"gt": 30}}}}]}},
                         {"reviews": {"attributes": ["id"]}}]}
    as_json = explorer.run(shop, query)
    as_join = explorer.run(shop, {**query, "strategy": "join"})
    assert as_json.records == as_join.records
    # required products below optional... here below required orders: only users with such an order
    assert [u["id"] for u in as_json.records] == [6, 3, 1]
    assert [o["id"] for o in as_json.records[2]["orders"]] == [2]


def test_json_limit_counts_roots(shop):
    result = explorer.run(shop, {**SIBLINGS, "order": [["name", "desc"]], "limit": 2, "offset": 1})
    assert result.strategy == "json"
    assert [u["name"] for u in result.records] == ["Eve", "Dan O'Brien"]


@pytest.mark.mysql
def test_mariadb_json_aggregate_larger_than_group_concat_default(mysql_config_dict):
    """MariaDB caps JSON_ARRAYAGG at group_concat_max_len (1 MB by default); the session lifts it."""
    database = PREFIX + "bigjson"
    writer = sa.create_engine(f"{MYSQL_SERVER}/?charset=utf8mb4")
    with writer.begin() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        connection.exec_driver_sql(f"CREATE TABLE `{database}`.parents (id INT PRIMARY KEY)")
        connection.exec_driver_sql(f"CREATE TABLE `{database}`.children (id INT PRIMARY KEY, parent_id INT, "
                                   "body VARCHAR(200))")
        connection.exec_driver_sql(f"INSERT INTO `{database}`.parents VALUES (1), (2)")
        rows = [{"id": i, "parent_id": 1 + i % 2, "body": "x" * 150} for i in range(20_000)]
        connection.execute(sa.text(f"INSERT INTO `{database}`.children VALUES (:id, :parent_id, :body)"), rows)
    try:
        url = f"{MYSQL_SERVER}/{database}"
        config = {"databases": {"big": url}, "models": {
            "Parent": {"table": "parents", "associations": {
                "children": {"has_many": "Child", "foreign_key": "parent_id"},
                "others": {"has_many": "Child", "foreign_key": "parent_id"}}},
            "Child": {"table": "children"}}}
        result = explorer.run(config, {"from": "Parent", "include": ["children", "others"]})
        assert result.strategy == "json" and result.row_count == 2
        assert [len(p["children"]) for p in result.records] == [10_000, 10_000]
        assert result.records[0]["children"][-1] == {"id": 19998, "parent_id": 1, "body": "x" * 150}
    finally:
        with writer.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE `{database}`")
        writer.dispose()
