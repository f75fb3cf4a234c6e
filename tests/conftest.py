"""Shared fixtures: the SPEC's shop on SQLite files, on MariaDB (two databases) and on
PostgreSQL (two schemas).

Server fixtures skip on a machine without the server, unless
CROSSQUERY_REQUIRE_SERVERS=1 (as in CI), where a missing server fails the run.
Each test process uses its own database/schema names, so parallel runs never collide.
"""

from __future__ import annotations

import os

import library
import pytest
import sqlalchemy as sa
from hypothesis import settings

import explorer
from explorer import demo

MYSQL_SERVER = os.environ.get("CROSSQUERY_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
POSTGRES_SERVER = os.environ.get("CROSSQUERY_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
POSTGRES_DATABASE = "crossquery_test"
REQUIRE_SERVERS = os.environ.get("CROSSQUERY_REQUIRE_SERVERS") == "1"
PREFIX = f"cqtest{os.getpid()}_"
BACKENDS = ("sqlite", "mysql", "postgresql")

# CI replays the same generated examples on every run (a red CI blocks landing, so it must
# not depend on luck); on a developer's machine hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _unavailable(what: str, exc: Exception):
    message = f"{what} is not answering: {str(exc).splitlines()[0]}"
    if REQUIRE_SERVERS:
        pytest.fail(message + " (CROSSQUERY_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(message)


def scratch_mysql_database(name: str, statements: list[str]):
    """A fresh MariaDB database ``name`` made by ``statements`` in a session that allows invalid and
    zero dates; yields that PyMySQL session (utf8mb4, no database selected), drops the database after.
    Use as ``yield from`` in a fixture."""
    import pymysql

    url = sa.engine.make_url(MYSQL_SERVER)
    try:
        connection = pymysql.connect(host=url.host, port=url.port or 3306, user=url.username, charset="utf8mb4")
    except Exception as exc:  # noqa: BLE001
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}`")
        for statement in statements:
            cursor.execute(statement)
    connection.commit()
    yield connection
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    connection.close()


def server_names() -> dict[str, str]:
    """Real database/schema names for this test process (logical name -> real name)."""
    return {demo.USERS_AND_ORDERS: PREFIX + demo.USERS_AND_ORDERS, demo.PRODUCTS: PREFIX + demo.PRODUCTS}


@pytest.fixture(scope="session")
def sqlite_config_path(tmp_path_factory) -> str:
    """Path of shop.yaml beside users_and_orders.db and products.db."""
    return str(demo.build_sqlite(tmp_path_factory.mktemp("shop")))


@pytest.fixture(scope="session")
def mysql_config_dict() -> dict:
    try:
        config = demo.build_mysql(MYSQL_SERVER, server_names())
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    yield config
    engine = sa.create_engine(MYSQL_SERVER)
    with engine.begin() as connection:
        for name in server_names().values():
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    engine.dispose()


def postgres_url() -> str:
    return f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}"


def _ensure_postgres_database() -> None:
    engine = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": POSTGRES_DATABASE}).first()
            if not exists:
                try:
                    connection.exec_driver_sql(f'CREATE DATABASE "{POSTGRES_DATABASE}"')
                except sa.exc.ProgrammingError:
                    pass  # another test process created it first
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgresql_config_dict() -> dict:
    try:
        _ensure_postgres_database()
        config = demo.build_postgresql(postgres_url(), server_names())
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable("PostgreSQL at " + POSTGRES_SERVER, exc)
    yield config
    engine = sa.create_engine(postgres_url())
    with engine.begin() as connection:
        for name in server_names().values():
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_shop(sqlite_config_path) -> explorer.Config:
    return explorer.load_config(sqlite_config_path)


@pytest.fixture(scope="session")
def mysql_shop(mysql_config_dict) -> explorer.Config:
    return explorer.load_config(mysql_config_dict)


@pytest.fixture(scope="session")
def postgresql_shop(postgresql_config_dict) -> explorer.Config:
    return explorer.load_config(postgresql_config_dict)


@pytest.fixture(params=[
    pytest.param("sqlite"),
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
])
def shop(request) -> explorer.Config:
    """The shop config on each backend in turn: the same test runs three times."""
    return request.getfixturevalue(f"{request.param}_shop")


@pytest.fixture(scope="session")
def federated_config_dict(mysql_config_dict, postgresql_config_dict, sqlite_config_path) -> dict:
    """The shop over MariaDB + PostgreSQL + a SQLite file (see tests/federation.py)."""
    from pathlib import Path

    from federation import federated_config

    return federated_config(mysql_config_dict, postgresql_config_dict, Path(sqlite_config_path).parent)


@pytest.fixture(scope="session")
def federated_shop(federated_config_dict) -> explorer.Config:
    return explorer.load_config(federated_config_dict)


@pytest.fixture(scope="session")
def one_server_shop(mysql_shop) -> explorer.Config:
    """The same data as federated_shop, all on MariaDB, with the same models: the reference."""
    from shopcases import extended

    return extended(mysql_shop)


# ---------------------------------------------------------------------------
# The lending library (tests/library.py): paranoid models, junction attributes, top-N per parent.


def library_names() -> dict[str, str]:
    """Real database/schema names of the library for this test process (logical name -> real name)."""
    return {name: PREFIX + name for name in library.LIBRARY_TABLES}


@pytest.fixture(scope="session")
def library_sqlite_dict(tmp_path_factory) -> dict:
    """The library's config dict on lending.db and catalog.db (absolute sqlite URLs)."""
    return library.build_sqlite(tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="session")
def library_mysql_dict() -> dict:
    try:
        config = library.build_mysql(MYSQL_SERVER, library_names())
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    yield config
    library.drop_mysql(MYSQL_SERVER, library_names())


@pytest.fixture(scope="session")
def library_postgresql_dict() -> dict:
    try:
        _ensure_postgres_database()
        config = library.build_postgresql(postgres_url(), library_names())
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable("PostgreSQL at " + POSTGRES_SERVER, exc)
    yield config
    library.drop_postgresql(postgres_url(), library_names())


@pytest.fixture(params=[
    pytest.param("sqlite"),
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
])
def library_dict(request) -> dict:
    """The library's config dict on each backend in turn (a fresh copy: tests may change it)."""
    import copy

    return copy.deepcopy(request.getfixturevalue(f"library_{request.param}_dict"))
