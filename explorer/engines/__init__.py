"""Engines: who runs the ONE statement, and how each server kind is reached.

One module per engine or server kind, each declaring what it supports as data:

* ``base``: the server-kind interface (``Backend``), databases, error sentences;
* ``mysql``, ``postgresql``, ``sqlite``: the server kinds (qualification, read-only
  session, timeout, cancel, error codes);
* ``run``: what every engine shares (``Execution``, Ctrl-C handling, the row cap);
* ``server``: the statement on the one server that holds every database;
* ``arrow``: the connectorx reader of the server engine (extra ``fast``);
* ``duckdb``: the statement in an in-process DuckDB with each database attached
  read-only (extra ``duckdb``);
* ``spark``: the statement as Spark SQL, each database a JDBC catalog (extra ``spark``).

Importing this package registers the server kinds; the engines that run statements
are imported by ``explorer.execute`` when a query needs them.
"""

import sqlalchemy as sa

from . import mysql, postgresql, sqlite  # noqa: F401 - each registers its server kind
from .base import READERS, Backend, Database, backend_for, known_dialects

# Spark's dialect, loaded on first use: to_sql(dialect="spark") imports explorer.engines.spark.
sa.dialects.registry.register("explorer.spark", "explorer.engines.spark", "SparkDialect")

# engine: auto (the one server, or DuckDB when no single server holds the databases) | ...
ENGINES = ("auto", "server", "duckdb", "spark")

__all__ = ["ENGINES", "READERS", "Backend", "Database", "backend_for", "known_dialects"]
