"""``explorer.check``: a config checked against live databases, every problem one finding.

The good shop passes on SQLite, MariaDB and PostgreSQL (with the warnings it
deserves: the shop has no index on its foreign keys, and the test accounts can
write). Small broken databases, created per test process and dropped afterwards,
show each class of finding: missing table, column, primary key and key column;
INT vs BIGINT (note), text vs integer (error), collations (MariaDB, PostgreSQL),
an unindexed key, a writable account, databases on different servers, a server
that does not answer.
"""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, PREFIX, _unavailable, postgres_url
from readers import PASSWORD_ENV, new_password, reader_config, reader_user

import explorer
from explorer import demo
from explorer.check import Finding, check_config, has_errors

# The columns each join of the shop looks up without an index (the demo creates none):
# one warning per table and key, at the first association (sorted) that needs it.
SHOP_UNINDEXED = {
    "models.Category.associations.products.foreign_key": "products.products.category_id",
    "models.OrderProduct.associations.shipments.foreign_key": "users_and_orders.shipments (order_id, product_id)",
    "models.Product.associations.cheap_orders.foreign_key": "users_and_orders.order_products.product_id",
    "models.Product.associations.reviews.foreign_key": "products.reviews.product_id",
    "models.User.associations.orders.foreign_key": "users_and_orders.orders.user_id",
    "models.User.associations.referrals.foreign_key": "users_and_orders.users.referred_by",
    "models.User.associations.reviews.foreign_key": "products.reviews.user_id",
}
SHOP_DATABASES = ("databases.products", "databases.users_and_orders")


def by_path(findings: list[Finding]) -> dict[tuple[str, str], str]:
    """(severity, path) -> the finding's line; each (severity, path) once."""
    lines = {(f.severity, f.path): str(f) for f in findings}
    assert len(lines) == len(findings), [str(f) for f in findings]
    return lines


def assert_line(lines: dict, severity: str, path: str, *words: str) -> None:
    line = lines[(severity, path)]
    assert line.startswith(f"{severity}: {path}: ")
    for word in words:
        assert word in line, (word, line)


def test_finding_is_one_line():
    finding = Finding("warning", "models.User.table", "first\nsecond")
    assert str(finding) == "warning: models.User.table: first second"
    assert not has_errors([finding]) and has_errors([finding, Finding("error", "engine", "x")])


# -- the good shop


def test_good_shop_passes(shop):
    findings = check_config(shop)
    assert not has_errors(findings), [str(f) for f in findings]
    assert findings == sorted(findings, key=lambda f: f.path)
    lines = by_path(findings)
    sqlite = shop.backend("users_and_orders").name == "sqlite"
    writable = "note" if sqlite else "warning"
    expected = {("warning", path) for path in SHOP_UNINDEXED} | {(writable, path) for path in SHOP_DATABASES}
    assert set(lines) == expected
    for path, column in SHOP_UNINDEXED.items():
        assert_line(lines, "warning", path, column, "no index", "scans", "CREATE INDEX")
    assert_line(lines, "warning", "models.User.associations.orders.foreign_key",
                "also used by models.User.associations.paid_orders")
    for path in SHOP_DATABASES:
        if sqlite:
            assert_line(lines, "note", path, "is writable by this process", "read-only")
        else:
            assert_line(lines, "warning", path, "can write to database", "read-only", "GRANT", "SELECT")
    assert check_config(shop) == findings  # deterministic


@pytest.mark.parametrize("kind", [pytest.param("mysql", marks=pytest.mark.mysql),
                                  pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_select_only_account_is_not_writable(request, kind, monkeypatch):
    password = new_password()
    monkeypatch.setenv(PASSWORD_ENV, password)
    config = reader_config(request.getfixturevalue(f"{kind}_config_dict"), kind)
    with reader_user(kind, password):
        findings = check_config(config)
    lines = by_path(findings)
    assert set(lines) == {("warning", path) for path in SHOP_UNINDEXED}
    assert password not in "\n".join(lines.values())


# -- SQLite: broken models, types, index, writable file (no server needed)


def _sqlite_file(path: Path, statements: list[str]) -> Path:
    with sqlite3.connect(path) as connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()
    return path


BROKEN_MODELS = {  # shared by the SQLite and MariaDB copies: (model, table) in database a
    "User": {"database": "a", "table": "users",
             "associations": {"orders": {"has_many": "Order", "foreign_key": "user_id"}}},
    "Order": {"database": "a", "table": "orders", "associations": {
        "by_ref": {"belongs_to": "User", "foreign_key": "user_ref"},
        "lines": {"has_many": "Line", "foreign_key": "order_id"},
        "bogus": {"belongs_to": "User", "foreign_key": "nope"},
        "ghost": {"belongs_to": "Ghost", "foreign_key": "user_id"},  # to a broken model: not repeated
    }},
    "Line": {"database": "a", "table": "lines"},
    "Ghost": {"database": "a", "table": "ghosts"},
    "Listed": {"database": "a", "table": "users", "columns": ["id", "nope"]},
    "NoKey": {"database": "a", "table": "orders", "primary_key": "order_no"},
}


def assert_broken_models(lines: dict) -> None:
    """The findings every broken copy shares: Config's own checks, the types, the index."""
    assert_line(lines, "error", "models.Ghost.table", "table 'ghosts' not found", "check the table name")
    assert_line(lines, "error", "models.Listed.columns", "no column 'nope'", "remove it from columns")
    assert_line(lines, "error", "models.NoKey.primary_key", "no column 'order_no'", "primary_key must name")
    assert_line(lines, "error", "models.Order.associations.bogus.foreign_key", "no column 'nope'",
                "foreign_key must name the column of Order that points at User")
    assert_line(lines, "note", "models.User.associations.orders.foreign_key",
                "a.users.id (INTEGER) and a.orders.user_id (BIGINT)", "different ranges", "same type")
    assert_line(lines, "error", "models.Order.associations.by_ref.foreign_key", "a.orders.user_ref (VARCHAR(10))",
                "a.users.id (INTEGER)", "incompatible types", "same type")
    assert_line(lines, "warning", "models.Order.associations.lines.foreign_key", "a.lines.order_id",
                "no index", "CREATE INDEX ... ON lines (order_id)")


def test_broken_sqlite(tmp_path):
    _sqlite_file(tmp_path / "a.db", [
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id BIGINT, user_ref VARCHAR(10))",
        "CREATE INDEX orders_user ON orders (user_id)",
        "CREATE TABLE lines (id INTEGER PRIMARY KEY, order_id INTEGER)",
    ])
    findings = check_config({"databases": {"a": f"sqlite:///{tmp_path / 'a.db'}"}, "models": BROKEN_MODELS})
    lines = by_path(findings)
    assert set(lines) == {
        ("error", "models.Ghost.table"), ("error", "models.Listed.columns"), ("error", "models.NoKey.primary_key"),
        ("error", "models.Order.associations.bogus.foreign_key"),
        ("error", "models.Order.associations.by_ref.foreign_key"),
        ("note", "models.User.associations.orders.foreign_key"),
        ("warning", "models.Order.associations.lines.foreign_key"), ("note", "databases.a"),
    }
    assert_broken_models(lines)
    assert_line(lines, "note", "databases.a", "a.db' is writable by this process")


def test_missing_sqlite_file(tmp_path):
    present = _sqlite_file(tmp_path / "present.db", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
    config = {"databases": {"present": f"sqlite:///{present}", "gone": f"sqlite:///{tmp_path / 'gone.db'}"},
              "models": {"T": {"database": "present", "table": "t"}, "G": {"database": "gone", "table": "g"}}}
    lines = by_path(check_config(config))
    assert set(lines) == {("error", "databases.gone.url"), ("error", "databases.present")}
    assert_line(lines, "error", "databases.gone.url", "gone.db' does not exist", "check the path")
    assert_line(lines, "error", "databases.present", "could not be opened because databases.gone.url is wrong")


def test_a_config_that_does_not_load_is_a_finding(tmp_path):
    findings = check_config({"databases": {"a": "sqlite:///x.db"}, "models": {"X": {"database": "nope"}}})
    assert [str(f) for f in findings] == ["error: models.X.database: unknown database 'nope'. Known: a."]
    path = tmp_path / "bad.yaml"
    path.write_text("databases: {a: sqlite:///x.db}\nmodels:\n  X: {database: nope}\n", encoding="utf-8")
    assert [str(f) for f in check_config(str(path))] == [
        "error: models.X.database: unknown database 'nope'. Known: a."]


def test_yaml_file_findings_carry_the_key_path(tmp_path):
    _sqlite_file(tmp_path / "a.db", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
    path = tmp_path / "shop.yaml"
    path.write_text("databases: {a: sqlite:///a.db}\nmodels:\n  T: {table: t}\n  G: {table: ghosts}\n",
                    encoding="utf-8")
    lines = by_path(check_config(str(path)))
    assert set(lines) == {("error", "models.G.table"), ("note", "databases.a")}
    assert_line(lines, "error", "models.G.table", "table 'ghosts' not found in database 'a'")


def test_unreachable_servers_are_findings_with_masked_urls():
    config = {"databases": {"my": "mysql+pymysql://reader:s3cretPW@127.0.0.1:1/nowhere",
                            "pg": "postgresql+psycopg://reader:s3cretPW@127.0.0.1:1/nowhere"},
              "models": {"M": {"database": "my", "table": "m"}, "P": {"database": "pg", "table": "p"}}}
    lines = by_path(check_config(config))
    assert set(lines) == {("error", "databases.my"), ("error", "databases.pg")}
    assert_line(lines, "error", "databases.my", "Could not connect to database 'my'",
                "mysql+pymysql://reader:***@127.0.0.1:1/nowhere", "check that the server is running")
    assert_line(lines, "error", "databases.pg", "Could not connect to database 'pg'",
                "postgresql+psycopg://reader:***@127.0.0.1:1/nowhere")
    assert "s3cretPW" not in "\n".join(lines.values())


# -- MariaDB: the same broken models, plus collations and a second database


@pytest.fixture(scope="module")
def broken_mysql(mysql_config_dict):
    """Databases a and b on MariaDB with the tables of BROKEN_MODELS and a few more."""
    names = {"a": PREFIX + "chk_a", "b": PREFIX + "chk_b"}
    a, b = names["a"], names["b"]
    statements = [
        *(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci" for name in names.values()),
        (f"CREATE TABLE `{a}`.users (id INT PRIMARY KEY, name VARCHAR(20), "
         "code VARCHAR(10) COLLATE utf8mb4_general_ci, latin VARCHAR(10) CHARACTER SET latin1, "
         "INDEX (code), INDEX (latin))"),
        (f"CREATE TABLE `{a}`.orders (id INT PRIMARY KEY, user_id BIGINT, user_ref VARCHAR(10), "
         "user_code VARCHAR(10) COLLATE utf8mb4_unicode_ci, user_latin VARCHAR(10), INDEX (user_id))"),
        f"CREATE TABLE `{a}`.lines (id INT PRIMARY KEY, order_id INT)",
        f"CREATE TABLE `{b}`.items (id INT PRIMARY KEY, order_id INT, INDEX (order_id))",
    ]
    engine = sa.create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for name in names.values():
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            for statement in statements:
                connection.exec_driver_sql(statement)
    except sa.exc.OperationalError as exc:
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    models = copy.deepcopy(BROKEN_MODELS)
    models["Order"]["associations"].update({
        "buyer": {"belongs_to": "User", "foreign_key": "user_code", "target_key": "code"},
        "latin_buyer": {"belongs_to": "User", "foreign_key": "user_latin", "target_key": "latin"},
        "items": {"has_many": "Item", "foreign_key": "order_id"},  # across databases, one server
    })
    models["Item"] = {"database": "b", "table": "items"}
    yield {"databases": {logical: f"{MYSQL_SERVER}/{real}" for logical, real in names.items()}, "models": models}
    with engine.connect() as connection:
        for name in names.values():
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    engine.dispose()


@pytest.mark.mysql
def test_broken_mysql(broken_mysql):
    lines = by_path(check_config(broken_mysql))
    assert set(lines) == {
        ("error", "models.Ghost.table"), ("error", "models.Listed.columns"), ("error", "models.NoKey.primary_key"),
        ("error", "models.Order.associations.bogus.foreign_key"),
        ("error", "models.Order.associations.by_ref.foreign_key"),
        ("note", "models.User.associations.orders.foreign_key"),
        ("warning", "models.Order.associations.lines.foreign_key"),
        ("error", "models.Order.associations.buyer.foreign_key"),
        ("warning", "models.Order.associations.latin_buyer.foreign_key"),
        ("warning", "databases.a"), ("warning", "databases.b"),
    }
    assert_broken_models(lines)
    assert_line(lines, "error", "models.Order.associations.buyer.foreign_key",
                "a.orders.user_code (utf8mb4_unicode_ci) and a.users.code (utf8mb4_general_ci)",
                "MariaDB/MySQL refuses to compare them (Illegal mix of collations)",
                "every query through this association fails", "ALTER TABLE ... MODIFY ... COLLATE")
    assert_line(lines, "warning", "models.Order.associations.latin_buyer.foreign_key",
                "a.orders.user_latin (utf8mb4_general_ci) and a.users.latin (latin1_swedish_ci)",
                "different collations", "match differently", "COLLATE")
    assert_line(lines, "warning", "databases.a", "the account 'root' can write to database 'a'",
                "ALL PRIVILEGES ON *.*", f"GRANT SELECT ON `{PREFIX}chk_a`.* TO")


@pytest.mark.mysql
def test_collation_error_is_what_the_server_refuses(broken_mysql):
    """The error and the warning above match what MariaDB does with the join."""
    config = explorer.load_config(broken_mysql)
    with pytest.raises(explorer.ExecutionError, match="[Cc]ollation"):
        explorer.run(config, {"from": "Order", "include": ["buyer"]})
    explorer.run(config, {"from": "Order", "include": ["latin_buyer"]})


# -- PostgreSQL: text vs integer, collations, a superuser


@pytest.fixture(scope="module")
def broken_postgresql(postgresql_config_dict):
    schema = PREFIX + "chk"
    statements = [
        f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', f'CREATE SCHEMA "{schema}"',
        f'CREATE TABLE "{schema}".users (id integer PRIMARY KEY, code text COLLATE "C" UNIQUE)',
        (f'CREATE TABLE "{schema}".orders (id integer PRIMARY KEY, user_id bigint, '
         'user_code text COLLATE "POSIX", user_ref text)'),
    ]
    engine = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    yield {"databases": {"a": {"url": postgres_url(), "schema": schema}}, "models": {
        "User": {"table": "users", "associations": {"orders": {"has_many": "Order", "foreign_key": "user_id"}}},
        "Order": {"table": "orders", "associations": {
            "buyer": {"belongs_to": "User", "foreign_key": "user_code", "target_key": "code"},
            "by_ref": {"belongs_to": "User", "foreign_key": "user_ref"}}},
        "Ghost": {"table": "ghosts"},
    }}
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.mark.postgresql
def test_broken_postgresql(broken_postgresql):
    lines = by_path(check_config(broken_postgresql))
    assert set(lines) == {
        ("error", "models.Ghost.table"), ("note", "models.User.associations.orders.foreign_key"),
        ("warning", "models.User.associations.orders.foreign_key"),
        ("error", "models.Order.associations.buyer.foreign_key"),
        ("error", "models.Order.associations.by_ref.foreign_key"), ("warning", "databases.a"),
    }
    assert_line(lines, "note", "models.User.associations.orders.foreign_key",
                "a.users.id (INTEGER) and a.orders.user_id (BIGINT)")
    assert_line(lines, "warning", "models.User.associations.orders.foreign_key", "a.orders.user_id", "no index")
    assert_line(lines, "error", "models.Order.associations.buyer.foreign_key",
                "a.orders.user_code (POSIX) and a.users.code (C)", "could not determine which collation",
                "ALTER COLUMN ... TYPE ... COLLATE")
    assert_line(lines, "error", "models.Order.associations.by_ref.foreign_key",
                "a.orders.user_ref (TEXT) and a.users.id (INTEGER)", "incompatible types",
                "ALTER TABLE ... ALTER COLUMN ... TYPE")
    assert_line(lines, "warning", "databases.a", "the account 'postgres' can write", "a superuser")


# -- databases on different servers


def _split_shop(mysql_config_dict, sqlite_config_path, engine: str) -> dict:
    """The shop with users_and_orders on MariaDB and products in a SQLite file."""
    products = Path(sqlite_config_path).parent / f"{demo.PRODUCTS}.db"
    return {"engine": engine, "models": demo.MODELS, "databases": {
        demo.USERS_AND_ORDERS: mysql_config_dict["databases"][demo.USERS_AND_ORDERS],
        demo.PRODUCTS: f"sqlite:///{products}"}}


@pytest.mark.mysql
def test_engine_server_with_databases_apart(mysql_config_dict, sqlite_config_path):
    findings = check_config(_split_shop(mysql_config_dict, sqlite_config_path, "server"))
    assert has_errors(findings)
    lines = by_path(findings)
    assert [key for key in lines if key[0] == "error"] == [("error", "engine")]
    assert_line(lines, "error", "engine", "sit on different servers", "users_and_orders on mysql+pymysql://root@",
                "products on sqlite", "associations join them (Order.products and 5 more)",
                "engine: server runs each statement on one server", "set engine: auto")
    # Joins across servers run in DuckDB: no index or collation advice for them.
    assert ("warning", "models.User.associations.reviews.foreign_key") not in lines
    assert ("warning", "models.User.associations.orders.foreign_key") in lines


@pytest.mark.mysql
def test_engine_auto_with_databases_apart(mysql_config_dict, sqlite_config_path):
    lines = by_path(check_config(_split_shop(mysql_config_dict, sqlite_config_path, "auto")))
    assert not any(severity == "error" for severity, _ in lines)
    assert_line(lines, "note", "engine", "sit on different servers", "engine: auto runs those queries in DuckDB",
                "duckdb extra")
