"""The SPEC's shop: two databases with deterministic data, on SQLite files or a server.

``crossquery demo`` builds it and runs a cross-database include query. The
tests build the same shop on SQLite, MariaDB and PostgreSQL. This module is the
only place that writes: it sets up sample data, it never runs user queries.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
import yaml

from .errors import ExecutionError

USERS_AND_ORDERS = "users_and_orders"
PRODUCTS = "products"


def _tables() -> dict[str, list[sa.Table]]:
    metadata = sa.MetaData()
    text = sa.String(200)
    money = sa.Numeric(10, 2)
    users_and_orders = [
        sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("name", text), sa.Column("email", text), sa.Column("created_at", sa.DateTime),
                 sa.Column("referred_by", sa.Integer)),
        sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("user_id", sa.Integer), sa.Column("status", sa.String(20)),
                 sa.Column("total", money), sa.Column("created_at", sa.DateTime)),
        sa.Table("order_products", metadata,
                 sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("product_id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("quantity", sa.Integer)),
        sa.Table("shipments", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("order_id", sa.Integer), sa.Column("product_id", sa.Integer),
                 sa.Column("carrier", text), sa.Column("shipped_on", sa.Date)),
    ]
    products = [
        sa.Table("products", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("name", text), sa.Column("price", money), sa.Column("category_id", sa.Integer),
                 schema="p"),
        sa.Table("categories", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("name", text), schema="p"),
        sa.Table("reviews", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("product_id", sa.Integer), sa.Column("user_id", sa.Integer),
                 sa.Column("rating", sa.Integer), sa.Column("body", sa.String(500)), schema="p"),
    ]
    return {USERS_AND_ORDERS: users_and_orders, PRODUCTS: products}


def _at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, 30)


# Deliberately awkward data: quotes, unicode, a NULL foreign key, a user without
# orders, an order without products, a product in no order, a hostile name.
SHOP_ROWS: dict[str, list[tuple]] = {
    "users": [
        (1, "Alice", "alice@example.com", _at(2), None),
        (2, "Bob", "bob@example.com", _at(3), 1),
        (3, "Chloé", "chloe@example.com", _at(4), 1),
        (4, "Dan O'Brien", "dan@example.com", _at(5), 2),
        (5, "Eve", "eve@example.com", _at(6), None),
        (6, "Zoë 张伟", "zoe@example.com", _at(7), 3),
        (7, "Alan", "alan@example.com", _at(8), 6),
    ],
    "orders": [
        (1, 1, "paid", Decimal("31.40"), _at(10)),
        (2, 1, "pending", Decimal("59.00"), _at(11)),
        (3, 2, "paid", Decimal("25.70"), _at(12)),
        (4, 3, "paid", Decimal("40.24"), _at(13)),
        (5, 3, "cancelled", Decimal("12.00"), _at(14)),
        (6, 4, "paid", Decimal("18.00"), _at(15)),
        (7, 6, "paid", Decimal("106.19"), _at(16)),
        (8, None, "paid", Decimal("5.00"), _at(17)),
        (9, 7, "cancelled", Decimal("9.99"), _at(18)),
        (10, 1, "paid", Decimal("0.00"), _at(19)),
    ],
    "order_products": [
        (1, 1, 1), (1, 2, 1), (2, 3, 1), (3, 1, 1), (3, 9, 1), (4, 4, 1), (4, 6, 1), (5, 7, 1),
        (6, 5, 1), (7, 3, 1), (7, 4, 1), (7, 8, 3), (8, 8, 1), (9, 6, 1),
    ],
    "shipments": [
        (1, 1, 1, "Post", dt.date(2024, 1, 11)), (2, 1, 2, "Post", dt.date(2024, 1, 12)),
        (3, 7, 3, "Courier \"Fast\"", dt.date(2024, 1, 17)), (4, 7, 3, "Courier", dt.date(2024, 1, 18)),
    ],
    "products": [
        (1, "Fountain pen", Decimal("24.50"), 1),
        (2, 'Notebook "A5"', Decimal("6.90"), 1),
        (3, "Chef's knife", Decimal("59.00"), 2),
        (4, "Crème brûlée torch", Decimal("31.25"), 2),
        (5, "Watering can", Decimal("18.00"), 3),
        (6, "Seed kit 🌱", Decimal("9.99"), 3),
        (7, "x'); DROP TABLE users; --", Decimal("12.00"), 4),
        (8, "Mystery box", Decimal("5.00"), None),
        (9, "Ballpoint pen", Decimal("1.20"), 1),
        (10, "Unsold thing", Decimal("99.99"), 4),
    ],
    "categories": [(1, "Stationery"), (2, "Kitchen"), (3, "Garden"), (4, "Books"), (5, "Empty")],
    "reviews": [
        (1, 1, 1, 5, "Smooth writer"), (2, 1, 2, 4, "Nice"), (3, 3, 4, 5, "Sharp! Don't touch"),
        (4, 4, 3, 3, "Ça marche"), (5, 6, 6, 5, "🌱 grew fast"), (6, 3, 1, 2, "Too heavy"),
        (7, 2, 2, 1, 'Paper tore; "meh"'),
    ],
}

MODELS = {
    "User": {
        "database": USERS_AND_ORDERS, "table": "users",
        "associations": {
            "orders": {"has_many": "Order", "foreign_key": "user_id"},
            "paid_orders": {"has_many": "Order", "foreign_key": "user_id", "scope": {"status": "paid"}},
            "reviews": {"has_many": "Review", "foreign_key": "user_id"},
            "referrer": {"belongs_to": "User", "foreign_key": "referred_by"},
            "referrals": {"has_many": "User", "foreign_key": "referred_by"},
        },
    },
    "Order": {
        "database": USERS_AND_ORDERS, "table": "orders",
        "associations": {
            "user": {"belongs_to": "User", "foreign_key": "user_id"},
            "products": {"belongs_to_many": "Product", "through": "OrderProduct",
                         "foreign_key": "order_id", "other_key": "product_id"},
            "lines": {"has_many": "OrderProduct", "foreign_key": "order_id"},
        },
    },
    "OrderProduct": {
        "database": USERS_AND_ORDERS, "table": "order_products", "primary_key": ["order_id", "product_id"],
        "associations": {
            "product": {"belongs_to": "Product", "foreign_key": "product_id"},
            "shipments": {"has_many": "Shipment", "foreign_key": ["order_id", "product_id"],
                          "source_key": ["order_id", "product_id"]},
        },
    },
    "Shipment": {"database": USERS_AND_ORDERS, "table": "shipments"},
    "Product": {
        "database": PRODUCTS, "table": "products",
        "associations": {
            "category": {"belongs_to": "Category", "foreign_key": "category_id"},
            "reviews": {"has_many": "Review", "foreign_key": "product_id"},
            "orders": {"belongs_to_many": "Order", "through": "OrderProduct",
                       "foreign_key": "product_id", "other_key": "order_id"},
            "cheap_orders": {"belongs_to_many": "Order", "through": "OrderProduct", "foreign_key": "product_id",
                             "other_key": "order_id", "scope": {"total": {"lt": 20}}},
        },
    },
    "Category": {"database": PRODUCTS, "table": "categories",
                 "associations": {"products": {"has_many": "Product", "foreign_key": "category_id"}}},
    "Review": {"database": PRODUCTS, "table": "reviews",
               "associations": {"product": {"belongs_to": "Product", "foreign_key": "product_id"},
                                "author": {"belongs_to": "User", "foreign_key": "user_id"}}},
}

DEMO_QUERY = """\
from: User
attributes: [id, name]
include:
  - orders:
      where: {status: paid}
      attributes: [id, status, total]
      include:
        - products:
            attributes: [id, name, price]
            include: [category]
order: [[name, asc]]
"""


def shop_config(urls: dict[str, str], schemas: dict[str, str] | None = None) -> dict:
    """The shop's association config for the given database URLs."""
    databases = {}
    for name, url in urls.items():
        databases[name] = {"url": url, **({"schema": schemas[name]} if schemas and name in schemas else {})}
    return {"databases": databases, "models": MODELS}


def load_rows(connection: sa.Connection, tables: list[sa.Table], schema: str | None) -> None:
    for table in tables:
        table = table.to_metadata(sa.MetaData(), schema=schema)
        table.drop(connection, checkfirst=True)
        table.create(connection)
        rows = SHOP_ROWS[table.name]
        columns = [c.name for c in table.columns]
        connection.execute(table.insert(), [dict(zip(columns, row)) for row in rows])


def build_sqlite(directory: str | Path) -> Path:
    """Write users_and_orders.db, products.db and shop.yaml into ``directory``; return the YAML path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, tables in _tables().items():
        path = directory / f"{name}.db"
        path.unlink(missing_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}")
        with engine.begin() as connection:
            load_rows(connection, tables, None)
        engine.dispose()
    config = shop_config({name: f"sqlite:///{name}.db" for name in _tables()})
    path = directory / "shop.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def drop_mysql(server_url: str, names: dict[str, str] | None = None) -> list[str]:
    """Drop the databases ``build_mysql`` made (those holding only the shop's tables); their names."""
    names = names or {USERS_AND_ORDERS: USERS_AND_ORDERS, PRODUCTS: PRODUCTS}
    engine = sa.create_engine(sa.engine.make_url(server_url).set(database=None))
    dropped = []
    try:
        with engine.begin() as connection:
            for logical, tables in _tables().items():
                real = names[logical]
                _refuse_foreign_database(connection, real, tables)  # never a database of someone else's
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{real}`")
                dropped.append(real)
    finally:
        engine.dispose()
    return dropped


def write_mysql_config(config: dict, directory: str | Path) -> Path:
    """shop.yaml for the server the demo built, a password kept as ${CROSSQUERY_DEMO_PASSWORD}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    databases = {}
    for name, database in config["databases"].items():
        url = sa.engine.make_url(database["url"])
        bare = sa.engine.URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
        entry = {"url": bare.render_as_string(hide_password=False)}
        if url.password:
            entry["password"] = "${CROSSQUERY_DEMO_PASSWORD}"
        databases[name] = entry
    path = directory / "shop.yaml"
    text = yaml.safe_dump({**config, "databases": databases}, sort_keys=False, allow_unicode=True)
    if any("password" in entry for entry in databases.values()):
        text = "# set CROSSQUERY_DEMO_PASSWORD to the server's password before loading this file\n" + text
    path.write_text(text, encoding="utf-8")
    return path


def build_mysql(server_url: str, names: dict[str, str] | None = None) -> dict:
    """Create the shop's two databases on a MySQL/MariaDB server; return the config dict."""
    names = names or {USERS_AND_ORDERS: USERS_AND_ORDERS, PRODUCTS: PRODUCTS}
    base = sa.engine.make_url(server_url).set(database=None)
    engine = sa.create_engine(base.update_query_dict({"charset": "utf8mb4"}))
    try:
        with engine.begin() as connection:
            for logical, tables in _tables().items():
                real = names[logical]
                _refuse_foreign_database(connection, real, tables)
                connection.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{real}` CHARACTER SET utf8mb4")
                load_rows(connection, tables, real)
    except sa.exc.OperationalError as exc:
        raise ExecutionError(f"Could not build the demo shop on {base.render_as_string(hide_password=True)}: "
                             f"{exc.orig}") from None
    finally:
        engine.dispose()
    urls = {logical: base.set(database=real).render_as_string(hide_password=False) for logical, real in names.items()}
    return shop_config(urls)


def _refuse_foreign_database(connection, database: str, tables: list[sa.Table]) -> None:
    """Never overwrite a database that holds tables other than the shop's."""
    found = set(sa.inspect(connection).get_table_names(schema=database)) if database in \
        sa.inspect(connection).get_schema_names() else set()
    foreign = found - {t.name for t in tables}
    if foreign:
        raise ExecutionError(f"Database {database!r} already holds other tables ({', '.join(sorted(foreign))}); "
                             "the demo will not touch it. Pass other database names.")


def build_postgresql(database_url: str, schemas: dict[str, str] | None = None) -> dict:
    """Create the shop as two schemas of one PostgreSQL database; return the config dict."""
    schemas = schemas or {USERS_AND_ORDERS: USERS_AND_ORDERS, PRODUCTS: PRODUCTS}
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            for logical, tables in _tables().items():
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schemas[logical]}" CASCADE')
                connection.exec_driver_sql(f'CREATE SCHEMA "{schemas[logical]}"')
                load_rows(connection, tables, schemas[logical])
    finally:
        engine.dispose()
    return shop_config({name: database_url for name in schemas}, schemas)
