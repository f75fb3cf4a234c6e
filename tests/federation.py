"""The shop split over three servers, for the engines that join across servers (DuckDB, Spark).

``users_and_orders`` lives on MariaDB, ``products`` (products, reviews) on PostgreSQL
and ``lookup`` (the categories table) in a SQLite file: no single server holds a
query that reaches a category, so ``engine: auto`` must pick a federating engine.
The same data sits on one server in every other fixture, which gives the records
the engines must return.
"""

from __future__ import annotations

import copy
from pathlib import Path

from explorer import demo

from shopcases import extended_models

LOOKUP = "lookup"


def federated_models() -> dict:
    """The extended shop's models, with Category moved to the SQLite database ``lookup``."""
    models = copy.deepcopy(extended_models())
    models["Category"]["database"] = LOOKUP
    return models


def federated_config(mysql_config: dict, postgresql_config: dict, sqlite_dir: str | Path, **top) -> dict:
    """The config dict: users_and_orders from the MariaDB shop, products from the PostgreSQL
    shop, lookup = the SQLite shop's products.db (only its categories table is used)."""
    databases = {
        demo.USERS_AND_ORDERS: copy.deepcopy(mysql_config["databases"][demo.USERS_AND_ORDERS]),
        demo.PRODUCTS: copy.deepcopy(postgresql_config["databases"][demo.PRODUCTS]),
        LOOKUP: {"url": f"sqlite:///{Path(sqlite_dir) / 'products.db'}"},
    }
    return {"databases": databases, "models": federated_models(), **top}
