"""Build the SPEC's shop at scale: two MariaDB databases, two SQLite files, and the catalogue
(the ``products`` database) once more as a PostgreSQL schema, for bench.federation.

    python -m bench.generate --scale 1     # 100k users, 500k orders, 1M order lines

Deterministic (a fixed seed): the same scale gives the same rows everywhere.
Writes bench/data/sqlite/shop.yaml and bench/data/mysql.yaml for bench.run, and
bench/data/postgresql.yaml (products only) for bench.federation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa
import yaml

from explorer import demo

DATA = Path(__file__).parent / "data"
MYSQL_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
MYSQL_NAMES = {demo.USERS_AND_ORDERS: "cqbench_users_and_orders", demo.PRODUCTS: "cqbench_products"}
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crossquery_test"
POSTGRES_SCHEMA = "cqbench_products"
STATUSES = np.array(["paid", "pending", "cancelled"])


def shop_rows(scale: float, seed: int = 7) -> dict[str, list[tuple]]:
    """Rows per table: users, orders, order_products, products, categories, reviews."""
    rng = np.random.default_rng(seed)
    n_users, n_orders = int(100_000 * scale), int(500_000 * scale)
    n_products, n_lines, n_reviews = max(int(20_000 * scale), 50), int(1_000_000 * scale), int(200_000 * scale)
    start = dt.datetime(2024, 1, 1)
    minutes = rng.integers(0, 525_600, size=n_users + n_orders)
    stamps = [start + dt.timedelta(minutes=int(m)) for m in minutes]
    users = [(i + 1, f"user {i + 1}", f"user{i + 1}@example.com", stamps[i], None) for i in range(n_users)]
    order_users = rng.integers(1, n_users + 1, size=n_orders)
    statuses = STATUSES[rng.integers(0, 3, size=n_orders)]
    totals = rng.integers(100, 50_000, size=n_orders)
    orders = [(i + 1, int(order_users[i]), str(statuses[i]), f"{totals[i] / 100:.2f}", stamps[n_users + i])
              for i in range(n_orders)]
    # Each order gets two distinct products on average: pick pairs, drop repeats.
    line_orders = rng.integers(1, n_orders + 1, size=int(n_lines * 1.05))
    line_products = rng.integers(1, n_products + 1, size=line_orders.size)
    pairs = np.unique(np.stack([line_orders, line_products], axis=1), axis=0)[:n_lines]
    quantities = rng.integers(1, 5, size=len(pairs))
    lines = [(int(o), int(p), int(q)) for (o, p), q in zip(pairs, quantities)]
    categories = [(i + 1, f"category {i + 1}") for i in range(50)]
    prices = rng.integers(50, 20_000, size=n_products)
    product_categories = rng.integers(1, 51, size=n_products)
    products = [(i + 1, f"product {i + 1}", f"{prices[i] / 100:.2f}", int(product_categories[i]))
                for i in range(n_products)]
    review_products = rng.integers(1, n_products + 1, size=n_reviews)
    review_users = rng.integers(1, n_users + 1, size=n_reviews)
    ratings = rng.integers(1, 6, size=n_reviews)
    reviews = [(i + 1, int(review_products[i]), int(review_users[i]), int(ratings[i]), f"review {i + 1}")
               for i in range(n_reviews)]
    return {"users": users, "orders": orders, "order_products": lines, "shipments": [],
            "products": products, "categories": categories, "reviews": reviews}


def _insert(connection, table: sa.Table, rows: list[tuple], batch: int = 20_000) -> None:
    columns = [c.name for c in table.columns]
    for start in range(0, len(rows), batch):
        connection.execute(table.insert(), [dict(zip(columns, row)) for row in rows[start:start + batch]])


def _load_database(engine, logical: str, rows: dict[str, list[tuple]], schema: str | None) -> None:
    with engine.begin() as connection:
        for table in demo._tables()[logical]:
            table = table.to_metadata(sa.MetaData(), schema=schema)
            table.drop(connection, checkfirst=True)
            table.create(connection)
            _insert(connection, table, rows[table.name])


# The indexes a real shop has on its foreign keys (the primary keys come with the tables).
INDEXES = {
    demo.USERS_AND_ORDERS: [("orders", "user_id"), ("order_products", "product_id")],
    demo.PRODUCTS: [("reviews", "user_id"), ("reviews", "product_id"), ("products", "category_id")],
}


def _index(connection, logical: str, qualify: str) -> None:
    for table, column in INDEXES[logical]:
        connection.exec_driver_sql(f"CREATE INDEX {table}_{column} ON {qualify}{table} ({column})")


def build_mysql(rows) -> Path:
    engine = sa.create_engine(f"{MYSQL_SERVER}/?charset=utf8mb4")
    for logical, name in MYSQL_NAMES.items():
        with engine.begin() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        _load_database(engine, logical, rows, name)
        with engine.begin() as connection:
            _index(connection, logical, f"`{name}`.")
    engine.dispose()
    config = demo.shop_config({k: f"{MYSQL_SERVER}/{v}" for k, v in MYSQL_NAMES.items()})
    path = DATA / "mysql.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def build_postgresql(rows) -> Path:
    """The catalogue (products, categories, reviews) as a PostgreSQL schema."""
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{POSTGRES_SCHEMA}"')
    _load_database(engine, demo.PRODUCTS, rows, POSTGRES_SCHEMA)
    with engine.begin() as connection:
        _index(connection, demo.PRODUCTS, f'"{POSTGRES_SCHEMA}".')
        connection.exec_driver_sql(f'ANALYZE "{POSTGRES_SCHEMA}".products')
    engine.dispose()
    path = DATA / "postgresql.yaml"
    path.write_text(yaml.safe_dump({"databases": {demo.PRODUCTS: {"url": POSTGRES_URL, "schema": POSTGRES_SCHEMA}}},
                                   sort_keys=False), encoding="utf-8")
    return path


def build_sqlite(rows) -> Path:
    folder = DATA / "sqlite"
    folder.mkdir(parents=True, exist_ok=True)
    for logical in demo._tables():
        path = folder / f"{logical}.db"
        path.unlink(missing_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}")
        _load_database(engine, logical, rows, None)
        with engine.begin() as connection:
            _index(connection, logical, "")
        engine.dispose()
    config = demo.shop_config({name: f"sqlite:///{name}.db" for name in demo._tables()})
    path = folder / "shop.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--backend", choices=("mysql", "sqlite", "postgresql", "both", "all"), default="all",
                        help="both: MariaDB and SQLite; all: and the catalogue on PostgreSQL")
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = shop_rows(args.scale)
    print(f"generated {sum(len(r) for r in rows.values()):,} rows in {time.perf_counter() - started:.1f} s")
    if args.backend in ("mysql", "both", "all"):
        print(f"MariaDB: {build_mysql(rows)}  ({time.perf_counter() - started:.1f} s)")
    if args.backend in ("sqlite", "both", "all"):
        print(f"SQLite:  {build_sqlite(rows)}  ({time.perf_counter() - started:.1f} s)")
    if args.backend in ("postgresql", "all"):
        print(f"PostgreSQL: {build_postgresql(rows)}  ({time.perf_counter() - started:.1f} s)")
    (DATA / "scale.txt").write_text(str(args.scale))


if __name__ == "__main__":
    main()
