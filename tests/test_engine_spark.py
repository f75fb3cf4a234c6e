"""The Spark engine (SPEC "Engines: databases on different servers"): the shop over MariaDB,
PostgreSQL and a SQLite file as ONE Spark SQL statement, on real servers and a real Spark.

Spark is slow to start (8-15 s) and to run a query (1-10 s), so each test checks much:

* every shop case gives the records of the same data on one MariaDB server, both strategies,
  in local mode; a sample of them on a standalone cluster on loopback (in a subprocess: Spark
  allows one session per process; see tests/sparkcluster.py);
* one statement; each remote server received reads of its own tables only, with the filters
  Spark pushed (MariaDB's general log; PostgreSQL's log for a role logging its statements);
* anything but one SELECT is refused before Spark sees it, and a write sent through Spark
  anyway is refused by PostgreSQL's and SQLite's read-only sessions; the row cap; no Arrow;
* secrets never show (SQL, repr, plan, log, errors: a MariaDB user with a password made here);
* a timeout and Ctrl-C stop the remote read (MariaDB's process list) and the session stays usable.

Skips without pyspark or Java, unless CROSSQUERY_REQUIRE_SERVERS=1 (then it fails).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, REQUIRE_SERVERS
from oracle import normalize
from shopcases import CASES
from sparkcluster import spark_cluster  # noqa: F401 - the session's cluster fixture

import explorer
from explorer.errors import ExecutionError, QueryInterrupted, RowCapError

pytestmark = [pytest.mark.mysql, pytest.mark.postgresql]

HERE = Path(__file__).parent
MASTER = "local[2]"


def _require_spark() -> None:
    missing = [what for what, ok in (("pyspark", importlib.util.find_spec("pyspark") is not None),
                                     ("java", shutil.which("java") is not None)) if not ok]
    if missing:
        message = f"engine: spark needs {' and '.join(missing)}"
        if REQUIRE_SERVERS:
            pytest.fail(message + " (CROSSQUERY_REQUIRE_SERVERS=1)", pytrace=False)
        pytest.skip(message)


def spark_config(config_dict: dict, master: str = MASTER, **top) -> explorer.Config:
    """The federated shop with an ``engine: {spark: {master: ...}}`` block."""
    return explorer.load_config({**copy.deepcopy(config_dict), "engine": {"spark": {"master": master}}, **top})


@pytest.fixture(scope="module")
def spark_shop(federated_config_dict) -> explorer.Config:
    _require_spark()
    return spark_config(federated_config_dict)


def records_of(config, query: dict, strategy: str, **options):
    return explorer.run(config, {**query, "strategy": strategy}, **options)


@pytest.mark.parametrize("strategy", ["join", "json"])
def test_shop_cases_as_on_one_server(spark_shop, one_server_shop, strategy):
    """Every shop case: the records of the same data on one MariaDB server, one statement."""
    problems = []
    for name, query in CASES.items():
        try:
            want = records_of(one_server_shop, query, strategy).records
        except explorer.QueryError:  # the json strategy cannot carry this query anywhere
            with pytest.raises(explorer.QueryError):
                records_of(spark_shop, query, strategy)
            continue
        result = records_of(spark_shop, query, strategy)
        assert result.engine == "spark" and result.statements == 1
        if normalize(result.records) != normalize(want):
            problems.append(f"{name}: got {result.records!r}\nwant {want!r}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# What the servers received, read-only sessions, secrets


FILTERED = {
    "from": "User", "attributes": ["id", "name"], "where": {"name": {"like": "A%"}},
    "include": [{"orders": {"where": {"status": "paid"}, "attributes": ["id", "total"],
                            "include": [{"products": {"where": {"price": {"gt": 1}}, "attributes": ["id", "name"],
                                                      "include": [{"category": {"attributes": ["name"]}}]}}]}}],
}
PASSWORD = f"Sp4rk-s3cret-{os.getpid()}"
ROLE = f"cqspark{os.getpid()}"
PG_LOG = Path("/var/log/postgresql")


@pytest.fixture(scope="module")
def watched_shop(federated_config_dict):
    """The federated shop read by a MariaDB user with a password and a PostgreSQL role whose
    statements the server logs; MariaDB's general log on (as a table) while the module runs."""
    _require_spark()
    config = copy.deepcopy(federated_config_dict)
    mysql_db = config["databases"]["users_and_orders"]
    schema = sa.engine.make_url(mysql_db["url"]).database or mysql_db.get("schema")
    products = config["databases"]["products"]
    root = sa.create_engine(MYSQL_SERVER)
    pg = sa.create_engine(products["url"], isolation_level="AUTOCOMMIT")
    with root.begin() as connection:
        connection.exec_driver_sql(f"DROP USER IF EXISTS '{ROLE}'@'%%'")
        connection.exec_driver_sql(f"CREATE USER '{ROLE}'@'%%' IDENTIFIED BY '{PASSWORD}'")
        connection.exec_driver_sql(f"GRANT SELECT ON `{schema}`.* TO '{ROLE}'@'%%'")
        output = connection.exec_driver_sql("SELECT @@global.log_output, @@global.general_log").first()
        connection.exec_driver_sql("SET GLOBAL log_output = 'FILE,TABLE'")
        connection.exec_driver_sql("SET GLOBAL general_log = 1")
    with pg.connect() as connection:
        connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{ROLE}"')
        connection.exec_driver_sql(f"CREATE ROLE \"{ROLE}\" LOGIN PASSWORD '{PASSWORD}'")
        connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{products["schema"]}" TO "{ROLE}"')
        connection.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{products["schema"]}" TO "{ROLE}"')
        connection.exec_driver_sql(f"ALTER ROLE \"{ROLE}\" SET log_statement = 'all'")
    mysql_url = sa.engine.make_url(mysql_db["url"]).set(username=ROLE, password=PASSWORD)
    mysql_db["url"] = mysql_url.render_as_string(hide_password=False)
    products["url"] = sa.engine.make_url(products["url"]).set(username=ROLE, password=PASSWORD) \
        .render_as_string(hide_password=False)
    try:
        yield config, schema, products["schema"]
    finally:
        with root.begin() as connection:
            connection.exec_driver_sql(f"SET GLOBAL general_log = {int(output[1])}")
            connection.exec_driver_sql(f"SET GLOBAL log_output = '{output[0]}'")
            connection.exec_driver_sql(f"DROP USER IF EXISTS '{ROLE}'@'%%'")
        with pg.connect() as connection:
            connection.exec_driver_sql(f'DROP OWNED BY "{ROLE}"')
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{ROLE}"')
        root.dispose()
        pg.dispose()


def mariadb_received(since) -> list[str]:
    engine = sa.create_engine(MYSQL_SERVER)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log WHERE user_host LIKE %s "
            "AND command_type = 'Query' AND event_time >= %s", (f"{ROLE}%%", since)).fetchall()
    engine.dispose()
    return [row[0] for row in rows]


def postgres_received(offsets: dict[Path, int]) -> list[str] | None:
    """Statements the role sent, from the server's log (None where the log cannot be read here)."""
    lines = []
    for path, offset in offsets.items():
        with open(path, errors="replace") as log:
            log.seek(offset)
            for line in log:  # "LOG:  statement: ..." (simple protocol), "LOG:  execute S_1: ..." (pgjdbc)
                found = re.search(r"LOG:  (?:statement|execute [^:]*): (.*)", line)
                if f"{ROLE}@" in line and found:
                    lines.append(found.group(1).strip())
    return lines if offsets else None


def pg_log_offsets() -> dict[Path, int]:
    try:
        return {path: path.stat().st_size for path in PG_LOG.glob("*.log") if os.access(path, os.R_OK)}
    except OSError:
        return {}


def test_remote_reads_pushed_filters_and_secrets(watched_shop, one_server_shop, caplog):
    """Each server received reads of its own tables only, with the filters Spark pushed; the
    password never shows (SQL, repr, plan, log, errors)."""
    config_dict, mysql_schema, pg_schema = watched_shop
    config = spark_config(config_dict)
    since = sa.select(sa.func.now())
    engine = sa.create_engine(MYSQL_SERVER)
    with engine.connect() as connection:
        since = connection.execute(since).scalar()
    engine.dispose()
    offsets = pg_log_offsets()
    caplog.set_level("DEBUG", logger="explorer")
    result = explorer.run(config, FILTERED)
    assert normalize(result.records) == normalize(explorer.run(one_server_shop, FILTERED).records)
    assert result.records and result.statements == 1 and result.engine == "spark"

    received = mariadb_received(since)
    reads = [sql for sql in received if " FROM `" in sql]  # Spark's scans (not the config's reflection)
    assert reads, received
    assert all(f"FROM `{mysql_schema}`." in sql for sql in reads), reads
    assert not any(word in sql.upper() for sql in received for word in ("INSERT", "UPDATE", "DELETE ")), received
    assert any("paid" in sql for sql in reads), reads  # the include's where, pushed to MariaDB
    assert any("tx_read_only" in sql for sql in received), received  # sessionInitStatement
    pg = postgres_received(offsets)
    if pg is not None:
        pg_reads = [sql for sql in pg if ' FROM "' in sql]  # Spark's scans (not pgjdbc's catalog reads)
        assert pg_reads, pg
        assert all(f'FROM "{pg_schema}".' in sql for sql in pg_reads), pg_reads
        assert not any(word in sql.upper() for sql in pg for word in ("INSERT", "UPDATE ", "DELETE ")), pg
        assert any('"price" > ' in sql for sql in pg_reads), pg_reads  # products' where, pushed

    plan = result.explain()
    assert "== Physical Plan ==" in plan and "PushedFilters" in plan and "paid" in plan
    texts = [result.sql, repr(result), plan, repr(config), caplog.text, str(result.params)]
    assert not any(PASSWORD in text for text in texts)

    wrong = copy.deepcopy(config_dict)
    url = sa.engine.make_url(wrong["databases"]["users_and_orders"]["url"])
    wrong["databases"]["users_and_orders"]["url"] = url.set(password=PASSWORD + "x").render_as_string(
        hide_password=False)
    wrong = spark_config(wrong)
    with pytest.raises(ExecutionError) as failed:
        explorer.run(wrong, {"from": "User", "attributes": ["id"]})
    message = str(failed.value)
    assert PASSWORD not in message and "users_and_orders" in message and "\n\tat " not in message


# ---------------------------------------------------------------------------
# Only a single SELECT; read-only sessions; rows; readers


def test_only_one_select_reaches_spark_and_sessions_are_read_only(spark_shop):
    from explorer.engines import spark as engine

    engine.check_select("SELECT a FROM t WHERE b = :b")
    for sql in ("INSERT INTO t VALUES (1)", "SELECT 1; DROP TABLE t", "CREATE TABLE t AS SELECT 1",
                "DELETE FROM t", "SET spark.sql.x = 1", "DROP TABLE t", "CACHE TABLE t"):
        with pytest.raises(ExecutionError, match="single SELECT"):
            engine.check_select(sql)
    # Spark itself would send a write: PostgreSQL's and SQLite's JDBC sessions refuse it. (MariaDB's
    # read-only setting reaches only Spark's reads: sessionInitStatement; see the module doc.)
    for model, refusal in (("Review", "read-only transaction"), ("Category", "SQLITE_READONLY")):
        database = spark_shop.models[model].database
        statement = explorer.prepare(spark_shop, {"from": model})
        spark = statement.target.runner.session(statement.target.schemas)
        table = f"{statement.target.schemas[database]}.{spark_shop.models[model].table}"
        with pytest.raises(Exception, match=refusal):
            spark.sql(f"INSERT INTO {table} SELECT * FROM {table} LIMIT 1").collect()
    with pytest.raises(RowCapError):
        explorer.run(spark_shop, {"from": "User", "include": ["orders"]}, max_rows=2)
    with pytest.raises(ExecutionError, match="arrow"):
        explorer.run(spark_shop, {"from": "User"}, reader="arrow")
    assert explorer.run(spark_shop, {"from": "User", "attributes": ["id"]}).records  # still usable


# ---------------------------------------------------------------------------
# Timeouts and Ctrl-C


@pytest.fixture(scope="module")
def slow_shop(federated_config_dict):
    """The shop with SlowUser: a MariaDB view that sleeps 1 s per row (a remote read that runs)."""
    _require_spark()
    mysql_db = federated_config_dict["databases"]["users_and_orders"]
    schema = sa.engine.make_url(mysql_db["url"]).database or mysql_db.get("schema")
    root = sa.create_engine(MYSQL_SERVER)
    with root.begin() as connection:
        connection.exec_driver_sql(f"CREATE OR REPLACE VIEW `{schema}`.slow_users AS "
                                   f"SELECT id, name, SLEEP(1) AS z FROM `{schema}`.users")
    config = copy.deepcopy(federated_config_dict)
    config["models"]["SlowUser"] = {"database": "users_and_orders", "table": "slow_users"}
    yield spark_config(config), schema
    with root.begin() as connection:
        connection.exec_driver_sql(f"DROP VIEW IF EXISTS `{schema}`.slow_users")
    root.dispose()


def running_on_mariadb(schema: str) -> list:
    engine = sa.create_engine(MYSQL_SERVER)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, info FROM information_schema.processlist WHERE info LIKE %s AND id <> CONNECTION_ID()",
            (f"%`{schema}`.`slow_users`%",)).fetchall()
    engine.dispose()
    return rows


def test_timeout_and_ctrl_c_stop_the_remote_read_and_keep_the_session(slow_shop):
    import _thread
    import threading

    config, schema = slow_shop
    query = {"from": "SlowUser", "attributes": ["id", "z"]}
    started = time.monotonic()
    with pytest.raises(ExecutionError, match="timeout of 2 s"):
        explorer.run(config, query, timeout=2)
    assert time.monotonic() - started < 12
    time.sleep(1.5)
    assert running_on_mariadb(schema) == []

    timer = threading.Timer(3.0, _thread.interrupt_main)  # Ctrl-C, as the notebook's stop button
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(QueryInterrupted):
            explorer.run(config, query, timeout=60)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15
    time.sleep(1.5)
    assert running_on_mariadb(schema) == []
    assert len(explorer.run(config, {"from": "User", "attributes": ["id"]}).records) >= 1  # usable


# ---------------------------------------------------------------------------
# A real standalone cluster on loopback (a subprocess: one Spark session per process)

# All three servers, to-many and to-one, a junction table, composite keys, filters, order and limit,
# each strategy (every case runs both ways in local mode above; Spark is slow, so fewer here).
CLUSTER_CASES = (("spec_example", "json"), ("belongs_to_many", "join"), ("composite_keys", "json"),
                 ("category_products", "join"), ("review_chain", "json"), ("limit_has_many", "join"))

CLUSTER_SCRIPT = """
import json, pickle, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import explorer
from oracle import normalize
from shopcases import CASES
config_dict, master, wanted, out = json.load(open(sys.argv[3])), sys.argv[4], pickle.load(open(sys.argv[5], 'rb')), sys.argv[6]
config = explorer.load_config({**config_dict, "engine": {"spark": {"master": master}}})
problems, engines = [], set()
for (name, strategy), want in wanted.items():
    try:
        result = explorer.run(config, {**CASES[name], "strategy": strategy})
        got = normalize(result.records)
        engines.add(result.engine)
    except explorer.QueryError:
        got = "QueryError"
    if got != want:
        problems.append(f"{name} {strategy}: got {got!r}, want {want!r}")
from explorer.engines.spark import session
spark = session(config.engine_options)
info = {"master": spark.sparkContext.master, "problems": problems, "engines": sorted(engines),
        "executors": spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()}
pickle.dump(info, open(out, "wb"))
"""


def test_shop_cases_on_a_standalone_cluster(spark_cluster, federated_config_dict, one_server_shop,  # noqa: F811
                                            tmp_path):
    import pickle

    _require_spark()
    wanted = {}
    for name, strategy in CLUSTER_CASES:
        try:
            wanted[(name, strategy)] = normalize(records_of(one_server_shop, CASES[name], strategy).records)
        except explorer.QueryError:
            wanted[(name, strategy)] = "QueryError"
    (tmp_path / "config.json").write_text(json.dumps(federated_config_dict))
    with open(tmp_path / "wanted.pickle", "wb") as file:
        pickle.dump(wanted, file)
    out = tmp_path / "out.pickle"
    done = subprocess.run([sys.executable, "-c", CLUSTER_SCRIPT, str(HERE), str(HERE.parent),
                           str(tmp_path / "config.json"), spark_cluster, str(tmp_path / "wanted.pickle"), str(out)],
                          capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out, "rb") as file:
        info = pickle.load(file)
    assert info["master"] == spark_cluster and info["engines"] == ["spark"]
    assert info["executors"] >= 2  # the driver and the worker's executor
    assert not info["problems"], "\n".join(info["problems"])


def test_sqlite_values_of_another_storage_class_are_refused(spark_shop, federated_config_dict, tmp_path):
    """SQLite keeps text in an INTEGER column; its JDBC getter would read it as 0. The file is
    asked first (typeof), and such a column refuses the query, naming it; a clean one runs."""
    import sqlite3

    path = tmp_path / "mixed.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER, n INTEGER, t TEXT)")
        connection.executemany("INSERT INTO notes VALUES (?, ?, ?, ?)",
                               [(1, 1, 7, "a"), (2, 1, "not a number", "b"), (3, 2, 9, "c")])
    data = copy.deepcopy(federated_config_dict)
    data["databases"]["mixed"] = {"url": f"sqlite:///{path}"}
    data["models"]["Note"] = {"database": "mixed", "table": "notes"}
    data["models"]["User"]["associations"]["notes"] = {"has_many": "Note", "foreign_key": "user_id"}
    config = spark_config(data)
    query = {"from": "User", "attributes": ["id"], "where": {"id": [1, 2]}, "include": ["notes"]}
    with pytest.raises(ExecutionError, match=r"'notes\.n' \(Note\.n\) \(declared integer\)"):
        explorer.run(config, query)
    clean = {**query, "include": [{"notes": {"attributes": ["id", "t"]}}]}
    assert [[n["t"] for n in u["notes"]] for u in explorer.run(config, clean).records] == [["a", "b"], ["c"]]
    with pytest.raises(ExecutionError, match='column "n"'):  # DuckDB's scanner refuses it too
        explorer.run(data, query, engine="duckdb")
