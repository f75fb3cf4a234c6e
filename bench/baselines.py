"""What a notebook user does without explorer: one query per database joined with
pandas merges, or SQLAlchemy ORM eager loading over schema-qualified classes."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
)


def _read(connection, sql: str) -> pd.DataFrame:
    return pd.read_sql(sql, connection)


def naive_merge(setup):
    """One query per table, each database on its own connection, merged in pandas."""
    shop, catalog = setup.pymysql("users_and_orders"), setup.pymysql("products")
    try:
        frames = NAIVE[setup.case](shop, catalog)
    finally:
        shop.close()
        catalog.close()
    return sum(len(f) for f in frames), frames, None


def _three_levels(shop, catalog):
    users = _read(shop, "SELECT id, name, email FROM users")
    orders = _read(shop, "SELECT id, user_id, status, total FROM orders").add_prefix("orders.")
    lines = _read(shop, "SELECT order_id, product_id FROM order_products")
    products = _read(catalog, "SELECT id, name, price FROM products").add_prefix("orders.products.")
    flat = users.merge(orders, how="left", left_on="id", right_on="orders.user_id")
    flat = flat.merge(lines, how="left", left_on="orders.id", right_on="order_id")
    flat = flat.merge(products, how="left", left_on="product_id", right_on="orders.products.id")
    return [flat.drop(columns=["orders.user_id", "order_id", "product_id"])]


def _filtered_limit(shop, catalog):
    users = _read(shop, "SELECT id, name FROM users")
    orders = _read(shop, "SELECT id, user_id, total FROM orders WHERE status = 'paid'").add_prefix("orders.")
    lines = _read(shop, "SELECT order_id, product_id FROM order_products")
    products = _read(catalog, "SELECT id, name, price FROM products WHERE price > 150").add_prefix("orders.products.")
    flat = users.merge(orders, left_on="id", right_on="orders.user_id")
    flat = flat.merge(lines, left_on="orders.id", right_on="order_id")
    flat = flat.merge(products, left_on="product_id", right_on="orders.products.id")
    first = flat["id"].drop_duplicates().sort_values().head(1000)
    return [flat[flat["id"].isin(first)].sort_values(["id", "orders.id", "orders.products.id"])]


def _siblings(shop, catalog):
    users = _read(shop, "SELECT id, name FROM users")
    orders = _read(shop, "SELECT id, user_id, status, total FROM orders")
    reviews = _read(catalog, "SELECT id, user_id, rating FROM reviews")
    return [users, users.merge(orders, how="left", left_on="id", right_on="user_id", suffixes=("", ".order")),
            users.merge(reviews, how="left", left_on="id", right_on="user_id", suffixes=("", ".review"))]


NAIVE = {"three_levels": _three_levels, "filtered_limit": _filtered_limit, "siblings": _siblings}


def orm_classes(schemas: dict[str, str]):
    shop, catalog = schemas["users_and_orders"], schemas["products"]

    class Base(DeclarativeBase):
        pass

    lines = sa.Table("order_products", Base.metadata,
                     sa.Column("order_id", sa.ForeignKey(f"{shop}.orders.id"), primary_key=True),
                     sa.Column("product_id", sa.ForeignKey(f"{catalog}.products.id"), primary_key=True),
                     schema=shop)

    class User(Base):
        __tablename__ = "users"
        __table_args__ = {"schema": shop}
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        email: Mapped[str]
        orders = relationship("Order")
        reviews = relationship("Review")

    class Order(Base):
        __tablename__ = "orders"
        __table_args__ = {"schema": shop}
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{shop}.users.id"))
        status: Mapped[str]
        total = mapped_column(sa.Numeric(10, 2))
        products = relationship("Product", secondary=lines)

    class Product(Base):
        __tablename__ = "products"
        __table_args__ = {"schema": catalog}
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        price = mapped_column(sa.Numeric(10, 2))

    class Review(Base):
        __tablename__ = "reviews"
        __table_args__ = {"schema": catalog}
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(sa.ForeignKey(f"{shop}.users.id"))
        rating: Mapped[int]

    return User, Order, Product, Review


def _orm_statement(case: str, loader, classes):
    User, Order, Product, Review = classes
    if case == "three_levels":
        return sa.select(User).options(loader(User.orders).options(loader(Order.products)))
    if case == "siblings":
        return sa.select(User).options(loader(User.orders), loader(User.reviews))
    picked = (sa.select(User.id).join(User.orders).join(Order.products)
              .where(Order.status == "paid", Product.price > 150).distinct().order_by(User.id).limit(1000))
    return (sa.select(User).where(User.id.in_(sa.select(picked.subquery())))
            .order_by(User.id)
            .options(loader(User.orders.and_(Order.status == "paid"))
                     .options(loader(Order.products.and_(Product.price > 150)))))


def _as_dict(obj, children: dict) -> dict:
    record = {c.key: getattr(obj, c.key) for c in sa.inspect(obj).mapper.column_attrs}
    for name, grandchildren in children.items():
        record[name] = [_as_dict(child, grandchildren) for child in getattr(obj, name)]
    return record


TREES = {"three_levels": {"orders": {"products": {}}}, "filtered_limit": {"orders": {"products": {}}},
         "siblings": {"orders": {}, "reviews": {}}}


def orm(loader):
    def run(setup):
        url = setup.config.databases["users_and_orders"].url.update_query_dict({"charset": "utf8mb4"})
        engine = sa.create_engine(url)
        with Session(engine) as session:
            users = session.scalars(_orm_statement(setup.case, loader, orm_classes(setup.schemas))).unique().all()
            records = [_as_dict(user, TREES[setup.case]) for user in users]
        engine.dispose()
        return None, [], len(records)

    return run
