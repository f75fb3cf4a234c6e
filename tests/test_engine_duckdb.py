"""The DuckDB engine (SPEC "Engines: databases on different servers", "Exact values").

The shop is split over three servers (``federated_shop``: MariaDB, PostgreSQL, a SQLite
file); the same data on one MariaDB (``one_server_shop``) gives the records and frames
DuckDB must return. Also: what each remote server received, the read-only session,
secrets, timeout and Ctrl-C (stopped on the servers too), the row cap, explain(), and the
one semantics of text comparisons (DuckDB's: binary, case-sensitive). Real servers only.
"""

from __future__ import annotations

import _thread
import copy
import importlib.util
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, REQUIRE_SERVERS, postgres_url, server_names
from readers import PASSWORD_ENV, READER, new_password, reader_config, reader_user
from shopcases import CASES

import explorer
from explorer import demo

if importlib.util.find_spec("duckdb") is None:
    if REQUIRE_SERVERS:
        raise RuntimeError("duckdb is not installed (CROSSQUERY_REQUIRE_SERVERS=1): "
                           "pip install 'crossquery-explorer[duckdb]'")
    pytest.skip("duckdb is not installed", allow_module_level=True)

import duckdb

from explorer.engines import duckdb as engine_module

pytestmark = [pytest.mark.mysql, pytest.mark.postgresql]

# Queries whose JSON form the compiler refuses ($nested$ filters): join only.
JOIN_ONLY = {"nested_filter", "limit_nested_filter", "or_across_paths"}
PARAMS_QUERY = {"from": "User", "attributes": ["id", "name"], "where": {"id": {"in": ":ids"}},
                "include": [{"orders": {"attributes": ["id", "total"],
                                        "include": [{"products": {"include": ["category"]}}]}}]}


def cross_server(config, query) -> bool:
    return explorer.prepare(config, query).databases != [demo.USERS_AND_ORDERS]


# ---------------------------------------------------------------------------
# The same records and frames as on one server


def case_params():
    for name in CASES:
        for strategy in ("join", "json"):
            if strategy == "json" and name in JOIN_ONLY:
                continue
            yield pytest.param(name, strategy, id=f"{name}-{strategy}")


@pytest.mark.parametrize("name, strategy", list(case_params()))
def test_shop_cases_match_one_server(federated_shop, one_server_shop, name, strategy):
    query = {**CASES[name], "strategy": strategy}
    # auto picks DuckDB when the query spans servers; the others (MariaDB only) are asked for it
    engine = None if cross_server(federated_shop, query) else "duckdb"
    got = explorer.run(federated_shop, query, engine=engine)
    want = explorer.run(one_server_shop, query)
    assert got.engine == "duckdb" and want.engine == "server"
    assert got.statements == 1
    assert got.records == want.records
    assert got.frames.keys() == want.frames.keys()
    for frame_name, frame in want.frames.items():
        pd.testing.assert_frame_equal(got.frames[frame_name], frame, check_exact=True)
    pd.testing.assert_frame_equal(got.frame, want.frame, check_exact=True)


def test_params_and_in_lists(federated_shop, one_server_shop):
    params = {"ids": [1, 3, 6]}
    got = explorer.run(federated_shop, PARAMS_QUERY, params)
    assert got.engine == "duckdb" and got.params and "$1" in got.sql
    assert got.records == explorer.run(one_server_shop, PARAMS_QUERY, params).records
    assert [user["id"] for user in got.records] == [1, 3, 6]


def test_the_engine_receives_exactly_one_statement(federated_shop):
    query = CASES["belongs_to_many"]
    explorer.run(federated_shop, query)  # a warm session in the pool
    pool = engine_module.session_pool(federated_shop, explorer.prepare(federated_shop, query).databases)
    sent: list[str] = []
    for session in pool.idle:
        session.connection = _Counting(session.connection, sent)
    result = explorer.run(federated_shop, query)
    assert sent == [result.sql]


class _Counting:
    """A DuckDB connection that records what it is asked to execute."""

    def __init__(self, connection, sent: list[str]):
        self._connection, self._sent = connection, sent

    def execute(self, sql, *args):
        self._sent.append(sql)
        return self._connection.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._connection, name)


def test_threads_get_their_own_sessions(federated_shop):
    query = CASES["demo"]
    want = explorer.run(federated_shop, query).records
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: explorer.run(federated_shop, query).records, range(8)))
    assert all(records == want for records in results)


# ---------------------------------------------------------------------------
# One semantics for text: DuckDB's (binary, case-sensitive), wherever the column lives


@pytest.mark.parametrize("model, column, stored", [("User", "name", "Alice"),           # MariaDB
                                                   ("Product", "name", "Fountain pen"),  # PostgreSQL
                                                   ("Category", "name", "Kitchen")])     # SQLite
def test_text_comparisons_are_case_sensitive_everywhere(federated_shop, one_server_shop, model, column,
                                                         stored):
    def ids(config, where, engine="duckdb"):
        query = {"from": model, "attributes": ["id"], "where": {column: where}}
        return [row["id"] for row in explorer.run(config, query, engine=engine).records]

    exact = ids(federated_shop, stored)
    assert len(exact) == 1
    assert ids(federated_shop, stored.lower()) == []
    assert ids(federated_shop, {"like": stored.lower()[:3] + "%"}) == []
    assert ids(federated_shop, {"like": stored[:3] + "%"}) == exact
    if model == "User":  # MariaDB itself compares by its case-insensitive collation
        assert ids(one_server_shop, stored.lower(), engine="server") == exact


def test_mariadb_receives_column_lists_of_its_own_tables_only(federated_config_dict):
    """The general log shows what MariaDB ran for the query: reads of its own tables, in a
    read-only transaction, with no WHERE (DuckDB filters, by its own rules)."""
    config = explorer.load_config(copy.deepcopy(federated_config_dict))
    query = {**CASES["demo"], "where": {"name": "Alice"}}
    admin = sa.create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        old = connection.exec_driver_sql("SELECT @@global.log_output, @@global.general_log").one()
        connection.exec_driver_sql("SET GLOBAL log_output = 'FILE,TABLE'")
        connection.exec_driver_sql("TRUNCATE mysql.general_log")
        connection.exec_driver_sql("SET GLOBAL general_log = 1")
        try:
            started = connection.exec_driver_sql("SELECT NOW(6)").scalar()
            result = explorer.run(config, query)
            logged = connection.exec_driver_sql(
                "SELECT argument FROM mysql.general_log WHERE event_time >= %s "
                "AND thread_id <> CONNECTION_ID()", (started,)).scalars().all()
            still_on = connection.exec_driver_sql("SELECT @@global.general_log").scalar()
        finally:
            connection.exec_driver_sql("SET GLOBAL general_log = %s", (old[1],))
            connection.exec_driver_sql("SET GLOBAL log_output = %s", (old[0],))
    admin.dispose()
    if not still_on:
        pytest.skip("another test process turned MariaDB's general log off during the run")
    assert result.engine == "duckdb" and [u["name"] for u in result.records] == ["Alice"]
    texts = [t.decode() if isinstance(t, bytes) else t for t in logged]
    reads = [t for t in texts if t.lstrip().upper().startswith("SELECT") and " FROM `" in t]
    database = server_names()[demo.USERS_AND_ORDERS]
    assert reads, "\n".join(texts)
    for text in reads:
        assert f"FROM `{database}`." in text and "WHERE" not in text.upper(), text
        assert server_names()[demo.PRODUCTS] not in text and "categories" not in text
    assert {t.split("`.`")[1].split("`")[0] for t in reads} == {"users", "orders", "order_products"}
    assert any("START TRANSACTION READ ONLY" in t.upper() for t in texts)


# ---------------------------------------------------------------------------
# Read-only: every write path is refused in the session the engine creates


def _session(config, databases):
    return engine_module.session_pool(config, databases).acquire(60)


WRITES = [
    "INSERT INTO cq_users_and_orders.{mysql}.users (id, name) VALUES (99, 'x')",
    "UPDATE cq_users_and_orders.{mysql}.users SET name = 'x'",
    "DELETE FROM cq_products.{postgres}.products",
    "CREATE TABLE cq_products.{postgres}.evil (a INT)",
    "CREATE TABLE cq_lookup.main.evil (a INT)",
    "DROP TABLE cq_lookup.main.categories",
    "INSERT INTO cq_lookup.main.categories VALUES (99, 'x')",
    "ATTACH '{sqlite}' AS again (TYPE sqlite)",
    "COPY (SELECT 1) TO '/tmp/cq_duckdb_escape.csv'",
    "SELECT * FROM read_csv('/etc/hostname')",
    "SET lock_configuration = false",
    "SET enable_external_access = true",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CALL postgres_execute('cq_products', 'DELETE FROM {postgres}.products')",
    "SELECT * FROM postgres_query('cq_products', 'DELETE FROM {postgres}.products RETURNING id')",
    "CALL mysql_execute('cq_users_and_orders', 'DELETE FROM {mysql}.users')",
    "SELECT * FROM mysql_query('cq_users_and_orders', 'DELETE FROM {mysql}.users')",
]


def test_every_write_path_is_refused(federated_config_dict):
    """Through the session's one door (one SELECT) and, behind it, by DuckDB and the servers."""
    config = explorer.load_config(copy.deepcopy(federated_config_dict))
    names = server_names()
    sqlite_path = config.databases["lookup"].url.database
    session = _session(config, list(config.databases))
    try:
        for statement in WRITES:
            sql = statement.format(mysql=names[demo.USERS_AND_ORDERS], postgres=names[demo.PRODUCTS],
                                   sqlite=sqlite_path)
            with pytest.raises((duckdb.Error, explorer.ExecutionError)):
                session.execute(sql)
            if "(TYPE sqlite)" in sql:
                continue  # DuckDB's SQLite scanner ignores enable_external_access: the door refuses it
            with pytest.raises(duckdb.Error):
                session.connection.execute(sql)
        with pytest.raises(explorer.ExecutionError, match="one SELECT statement only"):
            session.execute("SELECT 1; DELETE FROM cq_lookup.main.categories")
        with pytest.raises(explorer.ExecutionError, match="one SELECT statement only"):
            session.execute("DETACH cq_lookup")
        # Behind the door, DETACH works, but MariaDB and PostgreSQL cannot be attached again
        session.connection.execute("DETACH cq_users_and_orders")
        with pytest.raises(duckdb.Error, match="disabled"):
            session.connection.execute("ATTACH '' AS cq_users_and_orders "
                                       "(TYPE mysql, SECRET cq_users_and_orders_secret)")
        readonly = session.connection.execute(
            "SELECT bool_and(readonly) FROM duckdb_databases() WHERE database_name LIKE 'cq_%'").fetchone()
        assert readonly == (True,)
    finally:
        session.close()
    counts = explorer.run(config, {"from": "Product", "include": ["category"]}, engine="duckdb")
    assert counts.root_count == 10 and not any(r["category"] and r["category"]["id"] == 99
                                               for r in counts.records)


# ---------------------------------------------------------------------------
# Secrets: a password-protected MariaDB user; its password appears nowhere


@pytest.fixture
def protected(federated_config_dict, monkeypatch):
    password = new_password()
    with reader_user("mysql", password):
        monkeypatch.setenv(PASSWORD_ENV, password)
        data = copy.deepcopy(federated_config_dict)
        mysql_part = reader_config({"databases": {demo.USERS_AND_ORDERS: data["databases"][demo.USERS_AND_ORDERS]},
                                    "models": {}}, "mysql")
        data["databases"][demo.USERS_AND_ORDERS] = mysql_part["databases"][demo.USERS_AND_ORDERS]
        yield explorer.load_config(data), password


def test_secrets_never_show(protected):
    config, password = protected
    query = CASES["demo"]
    result = explorer.run(config, query)
    assert result.engine == "duckdb" and result.root_count > 0
    texts = [result.sql, repr(result), explorer.prepare(config, query).explain(), repr(config)]
    session = _session(config, result.databases)
    try:
        for table in ("duckdb_databases()", "duckdb_secrets()", "duckdb_settings()"):
            texts.append(repr(session.connection.execute(f"SELECT * FROM {table}").fetchall()))
    finally:
        session.close()
    assert all(password not in text for text in texts)
    assert "MYSQL_SCAN" in texts[2] and "POSTGRES_SCAN" in texts[2] and "SQLITE_SCAN" in texts[2]
    # An error from the scanner (the password changed on the server): one sentence, no secret
    admin = sa.create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"ALTER USER '{READER}'@'%%' IDENTIFIED BY 'cqOther{password[::-1]}'")
    admin.dispose()
    for session in engine_module.session_pool(config, result.databases).idle:
        session.connection.close()  # the next run attaches again
    engine_module.session_pool(config, result.databases).idle.clear()
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(config, query)
    message = str(caught.value)
    assert password not in message and "\n" not in message
    assert "database 'users_and_orders'" in message and ":***@" in message
    assert "duckdb" in message.lower()


# ---------------------------------------------------------------------------
# Time, rows and Ctrl-C: stopped in DuckDB and on the servers, the engine usable after

SLOW_MODELS = {
    "SlowUser": {"database": demo.USERS_AND_ORDERS, "table": "slow_users", "primary_key": "id"},
    "SlowProduct": {"database": demo.PRODUCTS, "table": "slow_products", "primary_key": "id"},
}


@pytest.fixture(scope="module")
def slow_data(federated_config_dict):
    """Views that take a second per row on MariaDB (SLEEP) and three on PostgreSQL (pg_sleep)."""
    names = server_names()
    mysql_admin = sa.create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
    postgres_admin = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    with mysql_admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE OR REPLACE VIEW `{names[demo.USERS_AND_ORDERS]}`.slow_users AS "
                                   f"SELECT id, name FROM `{names[demo.USERS_AND_ORDERS]}`.users WHERE SLEEP(1) = 0")
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE OR REPLACE VIEW "{names[demo.PRODUCTS]}".slow_products AS '
                                   f'SELECT id, name FROM "{names[demo.PRODUCTS]}".products '
                                   "WHERE pg_sleep(3)::text = ''")
    data = copy.deepcopy(federated_config_dict)
    data["models"].update(copy.deepcopy(SLOW_MODELS))
    yield data
    with mysql_admin.connect() as connection:
        connection.exec_driver_sql(f"DROP VIEW IF EXISTS `{names[demo.USERS_AND_ORDERS]}`.slow_users")
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f'DROP VIEW IF EXISTS "{names[demo.PRODUCTS]}".slow_products')
    mysql_admin.dispose()
    postgres_admin.dispose()


@pytest.fixture(scope="module")
def slow(slow_data):
    return explorer.load_config(copy.deepcopy(slow_data))


def running_scans(kind: str, marker: str) -> list[str]:
    """The statements reading ``marker`` that the server is still running."""
    url = MYSQL_SERVER if kind == "mysql" else postgres_url()
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if kind == "mysql":
                rows = connection.exec_driver_sql(
                    "SELECT info FROM information_schema.processlist WHERE command IN ('Query', 'Execute') "
                    "AND id <> CONNECTION_ID() AND info LIKE %s", (f"%{marker}%",))
            else:
                rows = connection.exec_driver_sql(
                    "SELECT query FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
                    "AND application_name LIKE 'crossquery-duckdb-%%' AND query LIKE %(m)s",
                    {"m": f"%{marker}%"})
            return [row[0] for row in rows]
    finally:
        admin.dispose()


def assert_idle(kind: str, marker: str) -> None:
    deadline = time.monotonic() + 3
    while running_scans(kind, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_scans(kind, marker) == []


def assert_usable(config) -> None:
    query = {"from": "User", "include": [{"orders": {"include": [{"products": {"include": ["category"]}}]}}]}
    assert explorer.run(config, query, engine="duckdb").root_count == 7


def warm(config, kind: str, timeout: float) -> None:
    """An open session for the slow query's database and timeout, so the test times the statement."""
    model = "User" if kind == "mysql" else "Product"
    explorer.run(config, {"from": model, "attributes": ["id"]}, engine="duckdb", timeout=timeout)


def _slow_query(kind: str) -> tuple[dict, str]:
    if kind == "mysql":
        return {"from": "SlowUser", "attributes": ["id", "name"]}, "slow_users"
    return {"from": "SlowProduct", "attributes": ["id", "name"], "where": {"name": "Fountain pen"}}, "slow_products"


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_timeout_stops_the_remote_statement(slow, kind):
    query, marker = _slow_query(kind)
    warm(slow, kind, 1.5)
    seen: list[str] = []
    watcher = threading.Timer(0.6, lambda: seen.extend(running_scans(kind, marker)))
    watcher.start()
    started = time.monotonic()
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(slow, query, engine="duckdb", timeout=1.5)
    watcher.join()
    assert time.monotonic() - started < 4
    message = str(caught.value)
    assert "was stopped after its timeout of 1.5 s" in message and "\n" not in message
    assert seen, "the slow scan never reached the server"
    if kind == "postgresql":  # the filter was pushed down, as binary ("C") comparison
        assert "WHERE" in seen[0] and "'Fountain pen'" in seen[0] and 'COLLATE "C"' in seen[0], seen
    assert_idle(kind, marker)
    assert_usable(slow)


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_ctrl_c_cancels_on_the_servers(slow, kind):
    query, marker = _slow_query(kind)
    warm(slow, kind, 30)
    timer = threading.Timer(0.7, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as interrupted:
            explorer.run(slow, query, engine="duckdb", timeout=30)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 4
    assert interrupted.value._render_traceback_() == [
        "KeyboardInterrupt: the statement was cancelled on the server, and nothing of it is left running there."]
    assert_idle(kind, marker)
    assert_usable(slow)


def test_ctrl_c_while_the_session_opens(slow_data):
    """Ctrl-C during LOAD/ATTACH (a fresh config): the same one-line interrupt, nothing left open."""
    fresh = explorer.load_config(copy.deepcopy(slow_data))
    query, _ = _slow_query("mysql")
    explorer.prepare(fresh, query)  # reflect first: only the session is left to open
    timer = threading.Timer(0.05, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            explorer.run(fresh, query, engine="duckdb", timeout=30)
    finally:
        timer.cancel()
    assert_idle("mysql", "slow_users")
    assert_usable(fresh)


def test_row_cap(federated_shop):
    with pytest.raises(explorer.ExecutionError, match="more than max_rows=3 joined rows"):
        explorer.run(federated_shop, CASES["demo"], max_rows=3)
    assert_usable(federated_shop)


def test_readers(federated_shop):
    assert explorer.run(federated_shop, CASES["demo"], reader="driver").engine == "duckdb"
    with pytest.raises(explorer.ExecutionError, match="arrow belongs to the server engine"):
        explorer.run(federated_shop, CASES["demo"], reader="arrow")


def test_explain_shows_the_remote_scans(federated_shop):
    statement = explorer.prepare(federated_shop, {**CASES["demo"], "where": {"name": {"like": "A%"}}})
    assert statement.engine == "duckdb"
    plan = statement.explain()
    for scan in ("MYSQL_SCAN", "POSTGRES_SCAN", "SQLITE_SCAN"):
        assert scan in plan
    assert "Table: users" in plan and "Table: categories" in plan


def test_columns_duckdb_cannot_carry_are_refused_before_running(federated_config_dict):
    """Unconstrained PostgreSQL numeric becomes DOUBLE in DuckDB: refused, naming the column."""
    names = server_names()
    admin = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE OR REPLACE VIEW "{names[demo.PRODUCTS]}".wide_prices AS '
                                   f'SELECT id, price::numeric AS price FROM "{names[demo.PRODUCTS]}".products')
    try:
        data = copy.deepcopy(federated_config_dict)
        data["models"]["WidePrice"] = {"database": demo.PRODUCTS, "table": "wide_prices", "primary_key": "id"}
        data["models"]["User"].setdefault("associations", {})["wide"] = {
            "has_many": "WidePrice", "foreign_key": "id"}
        config = explorer.load_config(data)
        with pytest.raises(explorer.ExecutionError, match=r"'wide\.price' \(WidePrice\.price\).*DOUBLE"):
            explorer.run(config, {"from": "User", "include": ["wide"]})
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP VIEW IF EXISTS "{names[demo.PRODUCTS]}".wide_prices')
        admin.dispose()



@pytest.fixture(scope="module")
def awkward(federated_config_dict):
    """A MariaDB zero date in a NOT NULL column and a PostgreSQL numeric(10,2) NaN: values
    DuckDB's scanners would turn into NULL and 0.00."""
    names = server_names()
    mysql_admin = sa.create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
    postgres_admin = sa.create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    legacy, prices = f"`{names[demo.USERS_AND_ORDERS]}`.legacy", f'"{names[demo.PRODUCTS]}".nan_prices'
    partial = f"`{names[demo.USERS_AND_ORDERS]}`.partial_dates"
    nullable = f"`{names[demo.USERS_AND_ORDERS]}`.nullable_zero"
    with mysql_admin.connect() as connection:
        connection.exec_driver_sql("SET SESSION sql_mode = ''")
        connection.exec_driver_sql(f"CREATE TABLE {legacy} (id INT PRIMARY KEY, user_id INT, "
                                   "seen DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00')")
        connection.exec_driver_sql(f"INSERT INTO {legacy} VALUES (1, 1, '0000-00-00 00:00:00'), "
                                   "(2, 1, '2024-01-01 10:00:00')")
        connection.exec_driver_sql(f"CREATE TABLE {partial} (id INT PRIMARY KEY, user_id INT, due DATE)")
        connection.exec_driver_sql(f"INSERT INTO {partial} VALUES (1, 1, '2020-00-10'), (2, 1, NULL)")
        # a nullable column: the scanner's NULL for the zero date could not be told from the real NULL
        connection.exec_driver_sql(f"CREATE TABLE {nullable} (id INT PRIMARY KEY, user_id INT, at DATETIME NULL)")
        connection.exec_driver_sql(f"INSERT INTO {nullable} VALUES (1, 1, '0000-00-00 00:00:00'), (2, 1, NULL)")
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {prices} (id INT PRIMARY KEY, price numeric(10,2))")
        connection.exec_driver_sql(f"INSERT INTO {prices} VALUES (1, 'NaN'), (2, 1.50)")
    data = copy.deepcopy(federated_config_dict)
    data["models"]["Legacy"] = {"database": demo.USERS_AND_ORDERS, "table": "legacy"}
    data["models"]["NanPrice"] = {"database": demo.PRODUCTS, "table": "nan_prices"}
    data["models"]["Partial"] = {"database": demo.USERS_AND_ORDERS, "table": "partial_dates"}
    data["models"]["NullableZero"] = {"database": demo.USERS_AND_ORDERS, "table": "nullable_zero"}
    data["models"]["User"]["associations"].update({
        "legacy": {"has_many": "Legacy", "foreign_key": "user_id"},
        "partial": {"has_many": "Partial", "foreign_key": "user_id"},
        "nullable_zero": {"has_many": "NullableZero", "foreign_key": "user_id"},
        "nan_prices": {"has_many": "NanPrice", "foreign_key": "id"}})
    try:
        yield explorer.load_config(data)
    finally:
        with mysql_admin.connect() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {legacy}")
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {partial}")
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {nullable}")
        with postgres_admin.connect() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {prices}")
        mysql_admin.dispose()
        postgres_admin.dispose()


@pytest.mark.parametrize("strategy", ["join", "json"])
@pytest.mark.parametrize("include, column", [("legacy", r"'legacy\.seen' \(Legacy\.seen\).*zero date"),
                                             ("partial", r"'partial\.due' \(Partial\.due\)"),
                                             ("nullable_zero",
                                              r"'nullable_zero\.at' \(NullableZero\.at\).*zero or partial date"),
                                             ("nan_prices", r"'price' \(NanPrice\.price\)")])
def test_values_duckdb_would_change_are_errors_naming_the_column(awkward, include, column, strategy):
    query = {"from": "User", "where": {"id": [1, 2]}, "include": [include], "strategy": strategy}
    if include == "nan_prices":  # PostgreSQL alone, so that the server engine gives the truth
        query = {"from": "NanPrice", "include": [], "strategy": strategy}
        include = None
    with pytest.raises(explorer.ExecutionError, match=column):
        explorer.run(awkward, query, engine="duckdb")
    server = explorer.run(awkward, query, engine="server").records  # the truth: PyMySQL, psycopg
    items = [item for user in server for item in user[include]] if include else server
    values = [item.get("seen", item.get("price", item.get("due", item.get("at")))) for item in items]
    assert {"0000-00-00 00:00:00", "2020-00-10", "NaN"} & {str(v) for v in values}
    assert_usable(awkward)


def test_wide_objects_come_in_chunks_and_read_back_whole(federated_shop, one_server_shop, monkeypatch):
    """compile_json sends objects of more than MAX_PAIRS pairs as {"~chunk0": {...}, ...}."""
    from explorer import compile_json

    monkeypatch.setattr(compile_json, "MAX_PAIRS", 3)
    query = {**CASES["belongs_to_many"], "strategy": "json"}
    got = explorer.run(federated_shop, query)
    assert "~chunk0" in got.sql
    assert got.records == explorer.run(one_server_shop, query).records


def test_engine_options_reach_the_session(federated_config_dict):
    data = {**copy.deepcopy(federated_config_dict), "engine": {"duckdb": {"threads": 1, "memory_limit": "256MB"}}}
    config = explorer.load_config(data)
    result = explorer.run(config, CASES["demo"])
    assert result.engine == "duckdb"
    session = _session(config, result.databases)
    try:
        settings = session.connection.execute(
            "SELECT current_setting('threads'), current_setting('memory_limit')").fetchone()
    finally:
        session.close()
    assert settings[0] == 1 and settings[1].startswith(("244", "256")), settings


def test_sessions_are_reused_and_go_with_their_config(federated_config_dict):
    import gc

    config = explorer.load_config(copy.deepcopy(federated_config_dict))
    explorer.run(config, CASES["demo"])
    pool = engine_module.session_pool(config, explorer.prepare(config, CASES["demo"]).databases)
    session = pool.idle[0]
    explorer.run(config, CASES["demo"])
    assert pool.idle == [session]  # no new LOAD/ATTACH for the second run
    gone = weakref.ref(config)
    del config, pool
    gc.collect()
    assert gone() is None and gone not in [weakref.ref(c) for c in engine_module._POOLS]
    with pytest.raises(duckdb.Error):  # closed with its config
        session.connection.execute("SELECT 1")


def test_mariadb_url_options_are_refused_not_ignored(federated_config_dict):
    data = copy.deepcopy(federated_config_dict)
    url = data["databases"][demo.USERS_AND_ORDERS]["url"]
    data["databases"][demo.USERS_AND_ORDERS]["url"] = url + "?init_command=SET%20time_zone%3D%27%2B05%3A00%27"
    with pytest.raises(explorer.ExecutionError, match=r"cannot apply the options of the URL.*init_command"):
        explorer.run(explorer.load_config(data), CASES["demo"])


def test_nothing_is_written_to_the_home_directory(federated_shop):
    from pathlib import Path

    explorer.run(federated_shop, CASES["demo"])
    assert not (Path.home() / ".duckdb").exists()
