"""Joins the server refuses: key columns of different types or collations.

PostgreSQL cannot compare an integer key with a text key (``operator does not
exist``, SQLSTATE 42883) nor two text keys with different collations (42P22);
MariaDB refuses two text keys with incompatible collations (``Illegal mix of
collations``, 1267). Each is its own kind of ExecutionError, never "could not
connect", and ``explain_join_error`` names the association and both columns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import MYSQL_SERVER, PREFIX, _ensure_postgres_database, _unavailable, postgres_url

import explorer
from explorer.engines.base import server_error
from explorer.cli import main
from explorer.diagnose import explain_join_error

SCHEMA = PREFIX + "joins"

POSTGRES_TABLES = [
    "CREATE TABLE {s}.accounts (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE {s}.notes (id INTEGER PRIMARY KEY, account_id TEXT, big_account_id BIGINT)",
    "CREATE TABLE {s}.orders (id INTEGER PRIMARY KEY)",
    "CREATE TABLE {s}.products (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE {s}.order_products (order_id INTEGER, product_id VARCHAR(20), PRIMARY KEY (order_id, product_id))",
    'CREATE TABLE {s}.labels (id INTEGER PRIMARY KEY, code TEXT COLLATE "C")',
    'CREATE TABLE {s}.stickers (id INTEGER PRIMARY KEY, label_code TEXT COLLATE "POSIX")',
    "INSERT INTO {s}.accounts VALUES (1, 'Ann')",
    "INSERT INTO {s}.notes VALUES (1, '1', 1)",
]
POSTGRES_MODELS = {
    "Account": {"table": "accounts", "associations": {
        "notes": {"has_many": "Note", "foreign_key": "account_id"},
        "big_notes": {"has_many": "Note", "foreign_key": "big_account_id"}}},
    "Note": {"table": "notes"},
    "Order": {"table": "orders", "associations": {
        "products": {"belongs_to_many": "Product", "through": "OrderProduct", "foreign_key": "order_id",
                     "other_key": "product_id"}}},
    "OrderProduct": {"table": "order_products", "primary_key": ["order_id", "product_id"]},
    "Product": {"table": "products"},
    "Sticker": {"table": "stickers", "associations": {
        "label": {"belongs_to": "Label", "foreign_key": "label_code", "target_key": "code"}}},
    "Label": {"table": "labels"},
}

# MariaDB 10.11 compares utf8mb4_general_ci with utf8mb4_bin (the _bin side wins) and latin1 with
# utf8mb4 (converted); two different utf8mb4 _ci collations it refuses.
MYSQL_TABLES = [
    ("CREATE TABLE {s}.products (id INT PRIMARY KEY, code VARCHAR(20) CHARACTER SET utf8mb4 "
     "COLLATE utf8mb4_general_ci, sku VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin)"),
    ("CREATE TABLE {s}.order_lines (id INT PRIMARY KEY, product_code VARCHAR(20) CHARACTER SET utf8mb4 "
     "COLLATE utf8mb4_unicode_ci, product_sku VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, "
     "product_id BIGINT)"),
    "INSERT INTO {s}.products VALUES (1, 'pen', 'pen')",
    "INSERT INTO {s}.order_lines VALUES (1, 'pen', 'pen', 1)",
]
MYSQL_MODELS = {
    "OrderLine": {"table": "order_lines", "associations": {
        "product": {"belongs_to": "Product", "foreign_key": "product_code", "target_key": "code"},
        "product_by_sku": {"belongs_to": "Product", "foreign_key": "product_sku", "target_key": "sku"},
        "product_by_id": {"belongs_to": "Product", "foreign_key": "product_id"}}},
    "Product": {"table": "products"},
}


def _scratch(kind: str, statements: list[str], models: dict):
    """A config dict on a fresh database (MariaDB) or schema (PostgreSQL) holding ``statements``."""
    admin_url = MYSQL_SERVER if kind == "mysql" else postgres_url()
    quoted = f"`{SCHEMA}`" if kind == "mysql" else f'"{SCHEMA}"'
    drop = f"DROP DATABASE IF EXISTS {quoted}" if kind == "mysql" else f"DROP SCHEMA IF EXISTS {quoted} CASCADE"
    try:
        if kind == "postgresql":
            _ensure_postgres_database()
        admin = sa.create_engine(admin_url)
        with admin.begin() as connection:
            connection.exec_driver_sql(drop)
            connection.exec_driver_sql(f"CREATE {'DATABASE' if kind == 'mysql' else 'SCHEMA'} {quoted}")
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable(f"{kind} at {admin_url}", exc)
    try:
        with admin.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement.format(s=quoted))
        database = {"url": f"{MYSQL_SERVER}/{SCHEMA}"} if kind == "mysql" else \
            {"url": postgres_url(), "schema": SCHEMA}
        yield {"databases": {"shop": database}, "models": models}
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(drop)
        admin.dispose()


@pytest.fixture(scope="module")
def postgres_joins():
    yield from _scratch("postgresql", POSTGRES_TABLES, POSTGRES_MODELS)


@pytest.fixture(scope="module")
def mysql_joins():
    yield from _scratch("mysql", MYSQL_TABLES, MYSQL_MODELS)


def refused(data: dict, query: dict, **options) -> tuple[explorer.ExecutionError, str | None]:
    """The ExecutionError of running ``query``, and what explain_join_error says about it."""
    config = explorer.load_config(data)
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(config, query, **options)
    error = caught.value
    message = str(error)
    assert "\n" not in message and not message.startswith("Could not connect")
    compiled = explorer.compile_query(config, explorer.parse_query(config, query))
    return error, explain_join_error(config, compiled, error.kind)


def cli_says(capsys, tmp_path: Path, data: dict, query: dict) -> str:
    config_path, query_path = tmp_path / "config.yaml", tmp_path / "query.yaml"
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    query_path.write_text(yaml.safe_dump(query), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", str(config_path), str(query_path), "--reader", "driver"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("crossquery: error: ")
    return err.strip().removeprefix("crossquery: error: ")


def where(data: dict) -> str:
    return explorer.load_config(data).databases["shop"].where


# -- PostgreSQL: integer = text

TYPE_FIX = ("the key columns have different types, so the server cannot compare them; make both columns "
            "the same type (ALTER TABLE ...) or point {key} at a column of the same type.")


@pytest.mark.postgresql
@pytest.mark.parametrize(("query", "driver", "sentence"), [
    ({"from": "Account", "include": ["notes"]}, "operator does not exist: integer = text",
     "Association Account.notes joins shop.accounts.id (INTEGER) to shop.notes.account_id (TEXT): "
     + TYPE_FIX.format(key="foreign_key")),
    ({"from": "Order", "include": ["products"]}, "operator does not exist: character varying = integer",
     "Association Order.products joins shop.order_products.product_id (VARCHAR(20)) to shop.products.id "
     "(INTEGER): " + TYPE_FIX.format(key="other_key")),
], ids=["has_many", "belongs_to_many"])
def test_postgres_type_mismatch(postgres_joins, capsys, tmp_path, query, driver, sentence):
    error, explained = refused(postgres_joins, query)
    assert error.kind == "type_mismatch"
    assert explained == sentence
    assert str(error) == f"Could not run the query on {where(postgres_joins)} ({driver}). {sentence}"
    assert cli_says(capsys, tmp_path, postgres_joins, query) == str(error)


@pytest.mark.postgresql
def test_postgres_collation_mismatch(postgres_joins):
    error, explained = refused(postgres_joins, {"from": "Sticker", "include": ["label"]})
    assert error.kind == "collation"
    assert "could not determine which collation to use for string comparison" in str(error)
    assert explained == (
        "Association Sticker.label joins shop.stickers.label_code (TEXT, POSIX) to shop.labels.code (TEXT, C): "
        "the key columns have different collations, so the server cannot compare them; make both columns the "
        "same collation (ALTER TABLE ... MODIFY ... COLLATE ...) or point foreign_key at a column of the same "
        "collation.")


@pytest.mark.postgresql
def test_postgres_integer_and_bigint_keys_join(postgres_joins):
    config = explorer.load_config(postgres_joins)
    query = {"from": "Account", "include": ["big_notes"]}
    assert explorer.run(config, query).records[0]["big_notes"][0]["id"] == 1
    compiled = explorer.compile_query(config, explorer.parse_query(config, query))
    assert explain_join_error(config, compiled, "type_mismatch") is None  # same affinity: nothing to blame


@pytest.mark.postgresql
def test_the_detail_replaces_the_generic_hint(postgres_joins):
    """What execute does with the sentence: server_error(..., detail=...) puts it after the driver's words."""
    config = explorer.load_config(postgres_joins)
    compiled = explorer.compile_query(config, explorer.parse_query(config, {"from": "Account", "include": ["notes"]}))
    statement = explorer.Statement(config, compiled, {})
    with pytest.raises(sa.exc.DBAPIError) as caught, config.engine("shop").connect() as connection:
        connection.exec_driver_sql(statement.sql)
    detail = explain_join_error(config, compiled, "type_mismatch")
    error = server_error(config.databases["shop"], caught.value, "run the query on", config.secrets,
                         detail=detail)
    assert error.kind == "type_mismatch"
    assert str(error) == (f"Could not run the query on {where(postgres_joins)} (operator does not exist: "
                          f"integer = text). {detail}")


@pytest.mark.postgresql
def test_a_missing_database_is_still_a_connection_problem(postgres_joins):
    data = {**postgres_joins, "databases": {"shop": {"url": postgres_url() + "_no_such_db", "schema": SCHEMA}}}
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(data, {"from": "Account"})
    assert caught.value.kind == "unknown_database"
    assert str(caught.value).startswith("Could not connect to database 'shop' (")


# -- MariaDB: Illegal mix of collations

@pytest.mark.mysql
@pytest.mark.parametrize("reader", ["driver", "auto"])
def test_mariadb_collation_mismatch(mysql_joins, capsys, tmp_path, reader):
    query = {"from": "OrderLine", "include": ["product"]}
    error, explained = refused(mysql_joins, query, reader=reader)
    assert error.kind == "collation"
    assert "Illegal mix of collations (utf8mb4_unicode_ci,IMPLICIT) and (utf8mb4_general_ci,IMPLICIT)" in str(error)
    assert str(error).endswith(f"). {explained}")
    assert explained == (
        "Association OrderLine.product joins shop.order_lines.product_code (VARCHAR(20), utf8mb4_unicode_ci) to "
        "shop.products.code (VARCHAR(20), utf8mb4_general_ci): the key columns have different collations, so the "
        "server cannot compare them; make both columns the same collation (ALTER TABLE ... MODIFY ... COLLATE "
        "...) or point foreign_key at a column of the same collation.")
    if reader == "driver":
        assert cli_says(capsys, tmp_path, mysql_joins, query) == str(error)


@pytest.mark.mysql
@pytest.mark.parametrize("association", ["product_by_sku", "product_by_id"])
def test_mariadb_compatible_keys_join(mysql_joins, association):
    """utf8mb4_general_ci = utf8mb4_bin, and BIGINT = INT: the server compares them, no error."""
    records = explorer.run(mysql_joins, {"from": "OrderLine", "include": [association]}, reader="driver").records
    assert records[0][association]["code"] == "pen"


@pytest.mark.parametrize("left, right, clash", [
    ("utf8mb4_unicode_ci", "utf8mb4_general_ci", True),   # MariaDB refuses (1267)
    ("utf8mb4_general_ci", "latin1_swedish_ci", False),   # converted between character sets
    ("utf8mb4_general_ci", "utf8mb4_bin", False),          # the binary collation wins
    ("C", "POSIX", True), ("en_US.utf8", "de_DE.utf8", True),  # PostgreSQL: any two differ
])
def test_only_collations_the_server_cannot_reconcile_are_blamed(left, right, clash):
    from explorer.diagnose import _clash

    assert _clash(left, right) is clash
