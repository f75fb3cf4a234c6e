"""Read-only by construction: every session the toolkit opens refuses writes at the server.

Each write is tried through every path a user can reach from a loaded config: the
engine's SQLAlchemy connection (plain and inside ``begin()``), the raw DBAPI
connection, an explicit transaction, and, on SQLite, attempts to lift the guard
(``PRAGMA query_only = OFF``, ATTACH, DETACH). The data is checksummed before
and after with an independent, write-capable connection.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, postgres_url, server_names
from readers import KINDS, SERVER_KINDS, new_password, reader_config, reader_user, shop_dict

import explorer
from explorer import demo

TABLES = {demo.USERS_AND_ORDERS: ["users", "orders", "order_products", "shipments"],
          demo.PRODUCTS: ["products", "categories", "reviews"]}


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def config(request, kind) -> explorer.Config:
    return explorer.load_config(shop_dict(request, kind))


def checksum(config: explorer.Config, kind: str) -> str:
    """A digest of every shop table (rows in key order) and of the table lists, read independently."""
    digest = hashlib.sha256()
    if kind == "sqlite":
        for db in config.databases.values():
            digest.update(Path(db.url.database).read_bytes())  # byte for byte
        return digest.hexdigest()
    engine = sa.create_engine(MYSQL_SERVER if kind == "mysql" else postgres_url())
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            for logical, real in server_names().items():
                digest.update(repr(sorted(inspector.get_table_names(schema=real))).encode())
                for table in TABLES[logical]:
                    name = sa.table(table, schema=real)
                    rows = connection.execute(sa.select(sa.text("*")).select_from(name).order_by(sa.text("1")))
                    digest.update(repr(rows.all()).encode())
                    digest.update(repr(inspector.get_columns(table, schema=real)).encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def writes(config: explorer.Config, kind: str) -> list[str]:
    users = _qualified(config, kind, demo.USERS_AND_ORDERS, "users")
    orders = _qualified(config, kind, demo.USERS_AND_ORDERS, "orders")
    products = _qualified(config, kind, demo.PRODUCTS, "products")
    schema = _quote(kind, config.databases[demo.USERS_AND_ORDERS].schema)
    statements = [
        f"INSERT INTO {users} (id, name) VALUES (99, 'Mallory')",
        f"UPDATE {users} SET name = 'Mallory'",
        f"DELETE FROM {orders}",
        f"DROP TABLE {products}",
        f"ALTER TABLE {users} ADD COLUMN evil INTEGER",
        f"CREATE TABLE {schema}.{_quote(kind, 'evil')} (x INTEGER)",
        f"CREATE INDEX {schema}.evil_idx ON users (name)" if kind == "sqlite"
        else f"CREATE INDEX evil_idx ON {users} (name)",
    ]
    if kind != "sqlite":
        statements.append(f"TRUNCATE TABLE {orders}")
    return statements


def _qualified(config, kind, database, table) -> str:
    return f"{_quote(kind, config.databases[database].schema)}.{_quote(kind, table)}"


def _quote(kind: str, name: str) -> str:
    return f"`{name}`" if kind == "mysql" else f'"{name}"'


BEGIN = {"sqlite": "BEGIN", "mysql": "START TRANSACTION", "postgresql": "BEGIN"}


def attempts(config: explorer.Config, kind: str, statement: str):
    """Every way to send ``statement`` through the toolkit's own engine."""
    engine = config.engine(demo.USERS_AND_ORDERS)

    def sqlalchemy_connection():
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
            connection.commit()

    def sqlalchemy_begin():
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)

    def dbapi(explicit_transaction: bool):
        def attempt():
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                if explicit_transaction:
                    cursor.execute(BEGIN[kind])
                cursor.execute(statement)
                raw.commit()
            finally:
                raw.rollback()
                raw.close()
        return attempt

    return [sqlalchemy_connection, sqlalchemy_begin, dbapi(False), dbapi(True)]


def test_every_write_through_every_path_is_refused(config, kind):
    explorer.run(config, demo.DEMO_QUERY)  # the engine exists and has served a query
    before = checksum(config, kind)
    refused = 0
    driver_error = config.engine(demo.USERS_AND_ORDERS).dialect.loaded_dbapi.Error
    for statement in writes(config, kind):
        for attempt in attempts(config, kind, statement):
            with pytest.raises((sa.exc.DBAPIError, driver_error)) as caught:
                attempt()
            assert _read_only_refusal(kind, caught.value), (statement, attempt.__name__, caught.value)
            refused += 1
    assert refused == len(writes(config, kind)) * 4
    assert checksum(config, kind) == before
    assert explorer.run(config, demo.DEMO_QUERY).root_count == 5


def _read_only_refusal(kind: str, error: Exception) -> bool:
    text = str(getattr(error, "orig", error)).lower()
    return {"mysql": "read only transaction" in text,
            "postgresql": "read-only transaction" in text,
            "sqlite": "not authorized" in text or "readonly" in text}[kind]


def test_sessions_report_read_only(config, kind):
    engine = config.engine(demo.USERS_AND_ORDERS)
    with engine.connect() as connection:
        if kind == "mysql":
            assert connection.exec_driver_sql("SELECT @@session.tx_read_only").scalar() == 1
            session = connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            connection.exec_driver_sql(f"SELECT COUNT(*) FROM {_qualified(config, kind, 'users_and_orders', 'users')}")
            assert innodb_transaction(session) == (1, "RUNNING")  # InnoDB's own view: read-only
            connection.exec_driver_sql("START TRANSACTION")  # an explicit transaction is read-only too
            assert connection.exec_driver_sql("SELECT @@tx_read_only").scalar() == 1
        elif kind == "postgresql":
            assert connection.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "on"
            assert connection.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
        else:
            assert connection.exec_driver_sql("PRAGMA query_only").scalar() == 1
            files = connection.exec_driver_sql("PRAGMA database_list").all()
            assert {row[1] for row in files} >= {demo.USERS_AND_ORDERS, demo.PRODUCTS}


def innodb_transaction(session: int) -> tuple | None:
    """(trx_is_read_only, trx_state) of a session's open InnoDB transaction, seen from outside."""
    engine = sa.create_engine(MYSQL_SERVER)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT trx_is_read_only, trx_state FROM information_schema.innodb_trx "
                "WHERE trx_mysql_thread_id = %s", (session,)).first()
            return tuple(row) if row else None
    finally:
        engine.dispose()


def test_postgresql_reset_keeps_read_only(postgresql_shop):
    # The read-only default is a connection option, so RESET returns to it.
    with postgresql_shop.engine(demo.USERS_AND_ORDERS).connect() as connection:
        connection.exec_driver_sql("RESET ALL")
        assert connection.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "on"


@pytest.mark.parametrize("statement", [
    "PRAGMA query_only = OFF",
    "ATTACH DATABASE 'elsewhere.db' AS elsewhere",
    "DETACH DATABASE products",
    "PRAGMA users_and_orders.journal_mode = DELETE",
    "VACUUM",
])
def test_sqlite_guard_cannot_be_lifted(sqlite_shop, statement):
    before = checksum(sqlite_shop, "sqlite")
    raw = sqlite_shop.engine(demo.USERS_AND_ORDERS).raw_connection()
    try:
        with pytest.raises(Exception, match="not authorized|authorization denied"):
            raw.cursor().execute(statement)
    finally:
        raw.close()
    assert checksum(sqlite_shop, "sqlite") == before
    with sqlite_shop.engine(demo.USERS_AND_ORDERS).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA query_only").scalar() == 1


# A session can lift its own read-only default (START TRANSACTION READ WRITE, SET ...
# READ WRITE) when its user may write; a SELECT-only account is the hard guarantee.
LIFT = {"mysql": ["SET SESSION TRANSACTION READ WRITE", "START TRANSACTION READ WRITE"],
        "postgresql": ["SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "BEGIN READ WRITE"]}


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_select_only_account_refuses_even_when_lifted(request, kind, monkeypatch):
    password = new_password()
    monkeypatch.setenv("CQ_TEST_READER_PASSWORD", password)
    shop = shop_dict(request, kind)  # the shop exists before the user is granted SELECT on it
    with reader_user(kind, password):
        config = explorer.load_config(reader_config(shop, kind))
        before = checksum(config, kind)
        for statement in writes(config, kind):
            raw = config.engine(demo.USERS_AND_ORDERS).raw_connection()
            try:
                cursor = raw.cursor()
                for lift in LIFT[kind]:
                    cursor.execute(lift)
                with pytest.raises(Exception, match="(?i)denied|permission|must be owner"):
                    cursor.execute(statement)
            finally:
                raw.rollback()
                raw.close()
        assert checksum(config, kind) == before
        config.engine(demo.USERS_AND_ORDERS).dispose()
