"""Helpers for the safety tests: a password-protected SELECT-only user on the test servers,
the slow-but-legitimate query, and server views of running statements.

The user is named per test process (``cq_reader_<pid>``) and dropped by the fixture
that created it, so parallel runs and leftovers never collide.
"""

from __future__ import annotations

import copy
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import MYSQL_SERVER, POSTGRES_SERVER, postgres_url, server_names

READER = f"cq_reader_{os.getpid()}"
PASSWORD_ENV = "CQ_TEST_READER_PASSWORD"


KINDS = [
    pytest.param("sqlite"),
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
]
SERVER_KINDS = KINDS[1:]


def shop_dict(request, kind: str) -> dict:
    """The shop's config as a fresh dict for ``kind`` (SQLite paths made absolute)."""
    if kind == "sqlite":
        path = Path(request.getfixturevalue("sqlite_config_path"))
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for database in data["databases"].values():
            database["url"] = "sqlite:///" + str(path.parent / sa.engine.make_url(database["url"]).database)
        return data
    return copy.deepcopy(request.getfixturevalue(f"{kind}_config_dict"))


def new_password() -> str:
    return "cqPw" + secrets.token_hex(12)


def _admin(kind: str) -> sa.Engine:
    url = MYSQL_SERVER if kind == "mysql" else postgres_url()
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


@contextmanager
def reader_user(kind: str, password: str, grant: bool = True):
    """Create ``READER`` with ``password`` and SELECT on the shop; drop it afterwards."""
    engine = _admin(kind)
    statements = _create_mysql(password, grant) if kind == "mysql" else _create_postgres(password, grant)
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
        yield READER
    finally:
        with engine.connect() as connection:
            if kind == "mysql":
                connection.exec_driver_sql(f"DROP USER IF EXISTS '{READER}'@'%%'")
            else:
                _kill_sessions(connection, kind, READER)
                if connection.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{READER}'").first():
                    connection.exec_driver_sql(f'DROP OWNED BY "{READER}"')
                    connection.exec_driver_sql(f'DROP ROLE "{READER}"')
        engine.dispose()


def _create_mysql(password: str, grant: bool) -> list[str]:
    statements = [f"DROP USER IF EXISTS '{READER}'@'%%'",
                  f"CREATE USER '{READER}'@'%%' IDENTIFIED BY '{password}'"]
    if grant:
        statements += [f"GRANT SELECT ON `{name}`.* TO '{READER}'@'%%'" for name in server_names().values()]
    return statements


def _create_postgres(password: str, grant: bool) -> list[str]:
    statements = [f"CREATE ROLE \"{READER}\" LOGIN PASSWORD '{password}'"]
    if grant:
        for name in server_names().values():
            statements += [f'GRANT USAGE ON SCHEMA "{name}" TO "{READER}"',
                           f'GRANT SELECT ON ALL TABLES IN SCHEMA "{name}" TO "{READER}"']
    return statements


def reader_config(config: dict, kind: str, password_in_env: bool = True, **url_changes) -> dict:
    """``config`` (a shop config dict) reached as READER; the password read from ${PASSWORD_ENV}."""
    config = copy.deepcopy(config)
    for database in config["databases"].values():
        url = sa.engine.make_url(database["url"]).set(username=READER, **url_changes)
        if password_in_env:
            text = url.set(password="PLACEHOLDER").render_as_string(hide_password=False)
            database["url"] = text.replace("PLACEHOLDER", "${" + PASSWORD_ENV + "}")
        else:
            database["url"] = url.render_as_string(hide_password=False)
    return config


def kill_sessions(kind: str, user: str) -> int:
    """End every server session of ``user`` (as a server restart would); return how many."""
    engine = _admin(kind)
    try:
        with engine.connect() as connection:
            return _kill_sessions(connection, kind, user)
    finally:
        engine.dispose()


def _kill_sessions(connection, kind: str, user: str) -> int:
    if kind == "mysql":
        ids = connection.exec_driver_sql(
            "SELECT id FROM information_schema.processlist WHERE user = %s", (user,)).scalars().all()
        for session in ids:
            connection.exec_driver_sql(f"KILL CONNECTION {int(session)}")
        return len(ids)
    return len(connection.exec_driver_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %(user)s",
        {"user": user}).all())


def running_statements(kind: str, marker: str) -> list[str]:
    """Statements containing ``marker`` that the server is still running (other sessions)."""
    engine = _admin(kind)
    try:
        with engine.connect() as connection:
            if kind == "mysql":
                rows = connection.exec_driver_sql(
                    "SELECT info FROM information_schema.processlist WHERE command = 'Query' "
                    "AND id <> CONNECTION_ID() AND info LIKE %s", ("%" + marker + "%",))
            else:
                rows = connection.exec_driver_sql(
                    "SELECT query FROM pg_stat_activity WHERE state = 'active' "
                    "AND pid <> pg_backend_pid() AND query LIKE %(m)s", {"m": "%" + marker + "%"})
            return [row[0] for row in rows]
    finally:
        engine.dispose()


# A legitimate include tree that makes the server work hard: orders joined to the
# orders of the same status, nine levels deep (about 7**9 row combinations), with a
# filter that only the last level can decide, so the server returns nothing for seconds.
SLOW_ASSOCIATION = "sq"  # short: nine levels of aliases stay under identifier limits
SLOW_MARKER = "sq->sq->sq->sq"


def slow_config(config) -> dict:
    config = copy.deepcopy(config)
    config["models"]["Order"]["associations"][SLOW_ASSOCIATION] = {
        "has_many": "Order", "foreign_key": "status", "source_key": "status"}
    return config


def slow_query(depth: int = 9, filtered: bool = True) -> dict:
    include: object = SLOW_ASSOCIATION
    for _ in range(depth - 1):
        include = {SLOW_ASSOCIATION: {"include": [include], "attributes": ["id"]}}
    query = {"from": "Order", "attributes": ["id"], "include": [include]}
    if filtered:
        deepest = ".".join([SLOW_ASSOCIATION] * depth)
        query["where"] = {"or": [{"id": -1}, {f"${deepest}.id$": -1}]}
    return query


__all__ = [
    "KINDS",
    "MYSQL_SERVER",
    "PASSWORD_ENV",
    "POSTGRES_SERVER",
    "READER",
    "SERVER_KINDS",
    "SLOW_MARKER",
    "kill_sessions",
    "new_password",
    "reader_config",
    "reader_user",
    "running_statements",
    "shop_dict",
    "slow_config",
    "slow_query",
]
