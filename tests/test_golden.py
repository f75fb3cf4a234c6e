"""Golden SQL per dialect for the shop cases, and SQL text checked with its bound params.

After a deliberate compiler change, run ``python tests/regen_golden.py`` and
review the diff of ``tests/golden/``.
"""

from __future__ import annotations

import pytest
from regen_golden import (
    DIALECTS,
    LIBRARY_CASES,
    LIBRARY_CATALOGS,
    golden_path,
    render,
    render_library,
    rendered_cases,
    with_catalogs,
)
from shopcases import CASES, extended
from sqlalchemy.dialects import mysql, postgresql, sqlite

import explorer


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_sql(sqlite_shop, case, dialect):
    if case not in rendered_cases(extended(sqlite_shop), dialect):
        with pytest.raises(explorer.QueryError, match="strategy: join"):
            render(sqlite_shop, case, dialect)
        return
    path = golden_path(case, dialect)
    assert path.is_file(), f"missing {path.name}: run python tests/regen_golden.py"
    assert render(sqlite_shop, case, dialect) == path.read_text(encoding="utf-8"), (
        f"{path.name} changed: run python tests/regen_golden.py and review the diff")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", sorted(LIBRARY_CASES))
def test_library_golden_sql(tmp_path, case, dialect):
    path = golden_path(case, dialect)
    assert path.is_file(), f"missing {path.name}: run python tests/regen_golden.py"
    assert render_library(str(tmp_path), case, dialect) == path.read_text(encoding="utf-8"), (
        f"{path.name} changed: run python tests/regen_golden.py and review the diff")


def test_no_stale_golden_files(sqlite_shop):
    expected = {golden_path(case, dialect).name for dialect in DIALECTS
                for case in rendered_cases(extended(sqlite_shop), dialect)}
    expected |= {golden_path(case, dialect).name for dialect in DIALECTS for case in LIBRARY_CASES}
    found = {p.name for p in golden_path("x", "sqlite").parent.glob("*.sql")}
    assert found == expected


@pytest.mark.parametrize("case", sorted(p.name.split(".")[0] for p in golden_path("x", "trino").parent.glob("*.trino.sql")))
def test_trino_golden_parses_as_trino(sqlite_shop, case):
    """Each Trino statement is valid Trino SQL to sqlglot's Trino dialect, names every table as
    catalog.schema.table with the config's catalogs, and binds its values (no Trino server runs here)."""
    import sqlglot
    from sqlglot import exp

    text = golden_path(case, "trino").read_text(encoding="utf-8")
    tree = sqlglot.parse_one(text.replace(":", "__p_"), read="trino")  # :name binds read as identifiers
    assert isinstance(tree, exp.Select)
    tables = list(tree.find_all(exp.Table))
    catalogs = ("shop_mariadb", "shop_postgresql", *LIBRARY_CATALOGS.values())
    assert tables and all(t.catalog in catalogs and t.db for t in tables), [
        t.sql("trino") for t in tables]
    with_catalogs(sqlite_shop)  # the config a Trino user writes loads


DIALECT_OBJECTS = {"sqlite": sqlite.dialect(), "mysql": mysql.dialect(paramstyle="pyformat"),
                   "postgresql": postgresql.psycopg.dialect()}


def prepared(config, query, params=None):
    """(SQL on one line, bound params) of the compiled Select for the config's dialect, as
    SQLAlchemy's ``assert_compile`` checks them: the compiler's output, independent of execution."""
    statement = explorer.prepare(config, query, params)
    dialect = DIALECT_OBJECTS[next(iter(config.databases.values())).url.get_backend_name()]
    select = statement.compiled.statement.params(params) if params else statement.compiled.statement
    text = select.compile(dialect=dialect, render_schema_translate=True,
                          schema_translate_map={n: db.schema for n, db in config.databases.items()},
                          compile_kwargs={"render_postcompile": True})
    return " ".join(str(text).split()), dict(text.params)


def test_sql_and_params_sqlite(sqlite_shop):
    sql, params = prepared(sqlite_shop, {
        "from": "User", "attributes": ["id"], "where": {"name": {"like": ":pattern"}},
        "include": [{"orders": {"where": {"total": {"gt": 20}}, "attributes": ["total"]}}]},
        {"pattern": "A%"})
    assert sql == (
        'SELECT "User".id AS id, orders.id AS "orders.id", orders.total AS "orders.total" '
        'FROM users_and_orders.users AS "User" JOIN users_and_orders.orders AS orders '
        'ON "User".id = orders.user_id AND orders.total > ? '
        'WHERE "User".name LIKE ? ORDER BY "User".id, orders.id')
    assert params == {"total_1": 20, "pattern": "A%"}


def test_sql_and_params_mysql_belongs_to_many(mysql_shop):
    sql, params = prepared(mysql_shop, {
        "from": "Order", "attributes": ["id"], "where": {"status": {"in": ["paid", "pending"]}},
        "include": [{"products": {"attributes": ["name"], "required": False,
                                  "where": {"price": {"between": [5, 30]}}}}]})
    uo, p = (mysql_shop.databases[n].schema for n in ("users_and_orders", "products"))
    assert sql == (
        f"SELECT `Order`.id AS id, products.id AS `products.id`, products.name AS `products.name` "
        f"FROM {uo}.orders AS `Order` LEFT OUTER JOIN ({uo}.order_products AS `products->OrderProduct` "
        f"INNER JOIN {p}.products AS products ON `products->OrderProduct`.product_id = products.id "
        f"AND products.price BETWEEN %(price_1)s AND %(price_2)s) ON `Order`.id = `products->OrderProduct`.order_id "
        f"WHERE `Order`.status IN (%(status_1_1)s, %(status_1_2)s) ORDER BY `Order`.id, products.id")
    assert params == {"price_1": 5, "price_2": 30, "status_1_1": "paid", "status_1_2": "pending"}


def test_sql_and_params_postgresql_limit_roots(postgresql_shop):
    sql, params = prepared(postgresql_shop, {
        "from": "User", "attributes": ["name"], "where": {"$orders.status$": "paid"},
        "include": [{"orders": {"attributes": ["id"]}}], "order": [["name", "desc"]], "limit": 2, "offset": 1})
    uo = postgresql_shop.databases["users_and_orders"].schema
    assert sql == (
        f'SELECT "User".id AS id, "User".name AS name, orders.id AS "orders.id" '
        f'FROM {uo}.users AS "User" JOIN (SELECT "User".id AS id, "User".name AS order_0 '
        f'FROM {uo}.users AS "User" LEFT OUTER JOIN {uo}.orders AS orders ON "User".id = orders.user_id '
        f'WHERE orders.status = %(status_1)s::VARCHAR GROUP BY "User".id, "User".name '
        f'ORDER BY order_0 DESC, "User".id '
        f'LIMIT %(param_1)s::INTEGER OFFSET %(param_2)s::INTEGER) AS picked ON picked.id = "User".id '
        f'LEFT OUTER JOIN {uo}.orders AS orders ON "User".id = orders.user_id '
        f'WHERE orders.status = %(status_2)s::VARCHAR ORDER BY "User".name DESC, "User".id, orders.id')
    assert params == {"status_1": "paid", "param_1": 2, "param_2": 1, "status_2": "paid"}


def test_values_never_inlined(sqlite_shop):
    hostile = "x'); DROP TABLE users; --"
    sql, params = prepared(sqlite_shop, {"from": "Product", "where": {"name": hostile}})
    assert hostile not in sql and "DROP" not in sql
    assert list(params.values()) == [hostile]


@pytest.mark.parametrize("case", ["spec_example", "required_below_optional", "limit_nested_filter"])
def test_prepared_sql_is_what_runs(shop, case):
    prepared_statement = explorer.prepare(shop, CASES[case])
    result = explorer.run(shop, CASES[case])
    assert result.sql == prepared_statement.sql
    assert result.params == prepared_statement.params
