"""Exact values at the edges a review found: session settings, zero dates, to-one includes that
match several rows, list order in the JSON strategy, SQLite's unenforced scale, odd names.

Each case compares explorer's records with what the server's own driver returns, or expects an
ExplorerError naming what is wrong; never a silently different value.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, PREFIX, _unavailable, postgres_url, scratch_mysql_database

import explorer

MYSQL_DB = PREFIX + "edges"
PG_SCHEMA = PREFIX + "edges"


@pytest.fixture(scope="module")
def mysql_db():
    yield from scratch_mysql_database(MYSQL_DB, [
        f"CREATE TABLE `{MYSQL_DB}`.days (id INT PRIMARY KEY, d DATE, dt DATETIME(6), "
        "ts TIMESTAMP NULL, `dot.ted` INT, `back\\slash` VARCHAR(5))",
        f"INSERT INTO `{MYSQL_DB}`.days VALUES "
        "(1, '0000-00-00', '2024-02-31 10:00:00', '2024-01-01 10:00:00', 1, 'a'), "
        "(2, '2024-01-05', '9999-12-31 23:59:59.999999', NULL, NULL, NULL), "
        "(3, NULL, NULL, NULL, 3, 'c')",
        f"CREATE TABLE `{MYSQL_DB}`.kids (k VARCHAR(5) PRIMARY KEY, day_id INT)",
        f"INSERT INTO `{MYSQL_DB}`.kids VALUES ('a',1),('B',1),('c',1),('_x',1),('é',1),('Z',1)",
    ])


def _mysql_config(query: str = "") -> dict:
    url = f"{MYSQL_SERVER}/{MYSQL_DB}" + (f"?{query}" if query else "")
    return {"databases": {"edges": url}, "models": {
        "Day": {"table": "days", "associations": {
            "kids": {"has_many": "Kid", "foreign_key": "day_id"},
            "kids2": {"has_many": "Kid", "foreign_key": "day_id"}}},
        "Kid": {"table": "kids", "primary_key": "k"}}}


def _driver_rows(connection, sql: str, session: str | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        if session:
            cursor.execute(session)
        cursor.execute(sql)
        return list(cursor.fetchall())


@pytest.mark.mysql
@pytest.mark.parametrize("reader", ["auto", "arrow", "driver"])
def test_zero_and_invalid_dates_read_as_the_driver_reads_them(mysql_db, reader):
    want = _driver_rows(mysql_db, f"SELECT id, d, dt FROM `{MYSQL_DB}`.days ORDER BY id")
    assert want[0][1] == "0000-00-00" and isinstance(want[1][2], dt.datetime)  # PyMySQL: text when invalid
    records = explorer.run(_mysql_config(), {"from": "Day", "attributes": ["id", "d", "dt"]}, reader=reader).records
    assert [(r["id"], r["d"], r["dt"]) for r in records] == want


@pytest.mark.mysql
def test_url_session_options_keep_the_driver(mysql_db):
    """A URL that sets the session's time zone: Arrow (connectorx) could not apply it."""
    config = _mysql_config("init_command=SET%20time_zone%3D%27%2B05%3A00%27")
    want = _driver_rows(mysql_db, f"SELECT ts FROM `{MYSQL_DB}`.days WHERE id = 1", "SET time_zone = '+05:00'")
    result = explorer.run(config, {"from": "Day", "attributes": ["id", "ts"], "where": {"id": 1}})
    assert result.execution.reader == "driver"
    assert result.records[0]["ts"] == want[0][0] == dt.datetime(2024, 1, 1, 15, 0)
    with pytest.raises(explorer.ExecutionError, match="reader: arrow cannot apply the options of the URL"):
        explorer.run(config, {"from": "Day"}, reader="arrow")


@pytest.mark.mysql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_json_lists_follow_the_servers_collation(mysql_db, strategy):
    query = {"from": "Day", "attributes": ["id"], "where": {"id": 1}, "include": ["kids", "kids2"],
             "strategy": strategy}
    keys = [kid["k"] for kid in explorer.run(_mysql_config(), query).records[0]["kids"]]
    want = [row[0] for row in _driver_rows(mysql_db, f"SELECT k FROM `{MYSQL_DB}`.kids ORDER BY k")]
    assert keys == want  # MariaDB's collation: a, B, c, é, Z, _x (not code-point order)


@pytest.mark.mysql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_odd_column_names(mysql_db, strategy):
    query = {"from": "Day", "attributes": ["id", "dot.ted", "back\\slash"], "include": ["kids", "kids2"],
             "strategy": strategy}
    records = explorer.run(_mysql_config(), query).records
    assert [(r["dot.ted"], r["back\\slash"]) for r in records] == [(1, "a"), (None, None), (3, "c")]
    nested = {"from": "Kid", "include": [{"day": {"attributes": ["dot.ted", "back\\slash"]}}]}
    config = _mysql_config()
    config["models"]["Kid"]["associations"] = {"day": {"belongs_to": "Day", "foreign_key": "day_id"},
                                               "day2": {"belongs_to": "Day", "foreign_key": "day_id"}}
    kids = explorer.run(config, {**nested, "strategy": strategy}).records
    assert {kid["k"]: kid["day"] for kid in kids}["a"] == {"dot.ted": 1, "back\\slash": "a"}


# -- PostgreSQL sessions


@pytest.fixture(scope="module")
def pg_schema():
    try:
        connection = psycopg.connect(sa.engine.make_url(postgres_url()).render_as_string(hide_password=False)
                                     .replace("postgresql+psycopg", "postgresql"), autocommit=True)
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
    connection.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
    connection.execute(f'CREATE SCHEMA "{PG_SCHEMA}"')
    connection.execute(f'CREATE TABLE "{PG_SCHEMA}".parents (id int PRIMARY KEY)')
    connection.execute(f'CREATE TABLE "{PG_SCHEMA}".cells (id int PRIMARY KEY, parent_id int, d date, '
                       "tz timestamptz, tzs timestamptz[], iv interval, score int)")
    connection.execute(f'INSERT INTO "{PG_SCHEMA}".parents VALUES (1), (2)')
    connection.execute(f'INSERT INTO "{PG_SCHEMA}".cells VALUES '
                       "(1, 1, '2024-01-05', '2024-01-01 10:00+00', ARRAY['2024-01-01 10:00+00'::timestamptz, "
                       "'2024-06-01 10:00+00'], '1 day 02:00', 5), "
                       "(2, 1, NULL, NULL, NULL, NULL, NULL), (3, 1, '2024-02-01', NULL, NULL, NULL, 7)")
    yield connection
    connection.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
    connection.close()


def _pg_config(options: str = "") -> dict:
    url = postgres_url() + (f"?options={options}" if options else "")
    return {"databases": {"edges": {"url": url, "schema": PG_SCHEMA}}, "models": {
        "Parent": {"table": "parents", "associations": {
            "cells": {"has_many": "Cell", "foreign_key": "parent_id"},
            "cells2": {"has_many": "Cell", "foreign_key": "parent_id"}}},
        "Cell": {"table": "cells"}}}


def _pg_truth(connection, session: str, columns: list[str]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(session)
        rows = cursor.execute(f'SELECT {", ".join(columns)} FROM "{PG_SCHEMA}".cells ORDER BY id').fetchall()
        cursor.execute("RESET ALL")
    return rows


def _same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b and getattr(a, "tzinfo", None) == getattr(b, "tzinfo", None)


@pytest.mark.postgresql
@pytest.mark.parametrize("strategy", ["join", "json"])
@pytest.mark.parametrize("options, session, columns", [
    ("-c TimeZone=Europe/Paris", "SET TimeZone = 'Europe/Paris'", ["id", "d", "tz", "tzs", "iv"]),
    # psycopg reads dates, not timestamps, in these styles (its own refusal is the driver's truth)
    ("-c DateStyle=German,DMY", "SET DateStyle = 'German, DMY'", ["id", "d", "iv"]),
    ("-c DateStyle=SQL,MDY", "SET DateStyle = 'SQL, MDY'", ["id", "d", "iv"]),
])
def test_postgres_session_settings(pg_schema, strategy, options, session, columns):
    want = _pg_truth(pg_schema, session, columns)
    query = {"from": "Parent", "where": {"id": 1}, "strategy": strategy,
             "include": [{"cells": {"attributes": columns}}, {"cells2": {"attributes": ["id"]}}]}
    cells = explorer.run(_pg_config(options.replace(" ", "%20")), query).records[0]["cells"]
    got = [tuple(c[name] for name in columns) for c in cells]
    assert len(got) == len(want) and all(_same(list(g), list(w)) for g, w in zip(got, want)), (got, want)
    if "Paris" in options:
        assert got[0][3][1].tzinfo == ZoneInfo("Europe/Paris")


@pytest.mark.postgresql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_postgres_nulls_order_as_the_server_orders_them(pg_schema, strategy):
    query = {"from": "Parent", "where": {"id": 1}, "strategy": strategy, "order": [["cells.score", "asc"]],
             "include": [{"cells": {"attributes": ["id", "score"]}}, "cells2"]}
    if strategy == "join":
        query["include"] = [query["include"][0]]
    cells = explorer.run(_pg_config(), query).records[0]["cells"]
    assert [c["id"] for c in cells] == [1, 3, 2]  # PostgreSQL: NULLs last ascending


@pytest.mark.postgresql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_postgres_value_the_driver_cannot_read_is_an_error(pg_schema, strategy):
    pg_schema.execute(f"UPDATE \"{PG_SCHEMA}\".cells SET tz = 'infinity' WHERE id = 2")
    try:
        query = {"from": "Parent", "where": {"id": 1}, "strategy": strategy,
                 "include": [{"cells": {"attributes": ["id", "tz"]}}, "cells2"]}
        with pytest.raises(explorer.ExecutionError, match="cannot read a value|timestamp too large"):
            explorer.run(_pg_config(), query).records
    finally:
        pg_schema.execute(f'UPDATE "{PG_SCHEMA}".cells SET tz = NULL WHERE id = 2')


@pytest.mark.postgresql
def test_postgres_interval_style_the_driver_cannot_read_is_an_error(pg_schema):
    with pytest.raises(explorer.ExecutionError, match="could not read a value"):
        explorer.run(_pg_config("-c%20IntervalStyle=sql_standard"),
                     {"from": "Cell", "attributes": ["id", "iv"], "strategy": "join"}).records


# -- SQLite


@pytest.fixture()
def sqlite_file(tmp_path):
    path = tmp_path / "edges.db"
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INT, price NUMERIC(10, 2), seen DATETIME);
        CREATE TABLE people (id INT, team TEXT);
        CREATE TABLE toys (id INTEGER PRIMARY KEY, pet_id INT, label TEXT);
        INSERT INTO pets VALUES (1, 1, 1.234, '2024-01-01 10:00:00'), (2, 2, 31.4, NULL), (3, 2, 59, NULL);
        INSERT INTO people VALUES (1, 'red'), (1, 'blue'), (2, 'green');
        INSERT INTO toys VALUES (1, 1, 'b'), (2, 1, NULL), (3, 1, 'A');
    """)
    connection.commit()
    connection.close()
    return path


def _sqlite_config(path) -> dict:
    return {"databases": {"edges": f"sqlite:///{path}"}, "models": {
        "Pet": {"table": "pets", "associations": {
            "owner": {"belongs_to": "Person", "foreign_key": "owner_id"},
            "toys": {"has_many": "Toy", "foreign_key": "pet_id"},
            "toys2": {"has_many": "Toy", "foreign_key": "pet_id"}}},
        "Person": {"table": "people"}, "Toy": {"table": "toys"},
        "Animal": {"table": "pets", "columns": ["id", "price"]}}}


@pytest.mark.parametrize("strategy", ["join", "json"])
def test_a_to_one_include_matching_two_rows_is_an_error(sqlite_file, strategy):
    query = {"from": "Pet", "include": ["owner", "toys", "toys2"], "strategy": strategy}
    with pytest.raises(explorer.ExplorerError, match=r"Person.*(not unique|2 rows of Person match)"):
        explorer.run(_sqlite_config(sqlite_file), query).records


@pytest.mark.parametrize("strategy", ["join", "json"])
def test_sqlite_numeric_scale_pads_but_never_rounds(sqlite_file, strategy):
    query = {"from": "Person", "attributes": ["team"], "where": {"id": 2},
             "include": [], "strategy": strategy}
    assert explorer.run(_sqlite_config(sqlite_file), query).records == [{"team": "green"}]
    config = _sqlite_config(sqlite_file)
    config["models"]["Owner"] = {"table": "people", "primary_key": ["id", "team"], "associations": {
        "pets": {"has_many": "Pet", "foreign_key": "owner_id", "source_key": "id"},
        "pets2": {"has_many": "Pet", "foreign_key": "owner_id", "source_key": "id"}}}
    owners = explorer.run(config, {"from": "Owner", "where": {"team": "green"}, "strategy": strategy,
                                   "include": [{"pets": {"attributes": ["id", "price"]}}, "pets2"]}).records
    assert [(p["id"], p["price"]) for p in owners[0]["pets"]] == [(2, Decimal("31.40")), (3, Decimal("59.00"))]
    pets = explorer.run(config, {"from": "Pet", "attributes": ["id", "price"], "where": {"id": 1}}).records
    assert pets == [{"id": 1, "price": Decimal("1.234")}]  # stored 1.234: SQLite enforces no scale


def test_sqlite_datetime_beyond_microseconds_is_an_error(sqlite_file):
    connection = sqlite3.connect(sqlite_file)
    connection.execute("UPDATE pets SET seen = '2024-01-01 10:00:00.123456789' WHERE id = 2")
    connection.commit()
    connection.close()
    with pytest.raises(explorer.ExecutionError, match=r"'seen' \(Pet.seen\).*cannot be read as a datetime"):
        explorer.run(_sqlite_config(sqlite_file), {"from": "Pet"}).records


def test_two_models_on_one_table(sqlite_file):
    config = explorer.load_config(_sqlite_config(sqlite_file))
    assert len(explorer.run(config, {"from": "Pet"}).records) == 3
    assert explorer.run(config, {"from": "Animal"}).records[0] == {"id": 1, "price": Decimal("1.234")}


def test_listed_columns_read_like_reflected_ones(sqlite_file):
    config = _sqlite_config(sqlite_file)
    config["models"]["Listed"] = {"table": "pets", "columns": ["id", "price", "seen"]}
    listed = explorer.run(config, {"from": "Listed"}).records
    reflected = explorer.run(config, {"from": "Pet", "attributes": ["id", "price", "seen"]}).records
    assert listed == reflected and listed[1]["price"] == Decimal("31.40")
    assert listed[0]["seen"] == dt.datetime(2024, 1, 1, 10, 0)


@pytest.mark.postgresql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_an_all_null_timestamptz_column_keeps_the_session_zone(pg_schema, strategy):
    query = {"from": "Parent", "where": {"id": 1}, "strategy": strategy,
             "include": [{"cells": {"attributes": ["id", "tz"], "where": {"id": 2}, "required": False}},
                         {"cells2": {"attributes": ["id"]}}]}
    frame = explorer.run(_pg_config("-c%20TimeZone=Europe/Paris"), query).frames["cells"]
    assert str(frame["tz"].dtype) == "datetime64[us, Europe/Paris]" and frame["tz"].isna().all()


@pytest.mark.parametrize("strategy", ["join", "json"])
def test_a_null_key_is_an_error_not_a_dropped_row(tmp_path, strategy):
    path = tmp_path / "tags.db"
    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT);"
                             "CREATE TABLE uses (id INTEGER PRIMARY KEY, code TEXT);"
                             "INSERT INTO tags VALUES ('a', 'A'), (NULL, 'n1'); INSERT INTO uses VALUES (1, 'a');")
    connection.commit()
    connection.close()
    config = {"databases": {"t": f"sqlite:///{path}"}, "models": {
        "Tag": {"table": "tags", "primary_key": "code", "associations": {
            "uses": {"has_many": "Use", "foreign_key": "code", "source_key": "code"},
            "uses2": {"has_many": "Use", "foreign_key": "code", "source_key": "code"}}},
        "Use": {"table": "uses"}}}
    with pytest.raises(explorer.ConfigError, match=r"models.Tag.primary_key: a row of Tag has NULL in its key"):
        explorer.run(config, {"from": "Tag", "include": ["uses", "uses2"], "strategy": strategy}).records
    ok = explorer.run(config, {"from": "Tag", "where": {"code": {"not": None}}, "include": ["uses", "uses2"],
                               "strategy": strategy}).records
    assert ok == [{"code": "a", "label": "A", "uses": [{"id": 1, "code": "a"}], "uses2": [{"id": 1, "code": "a"}]}]


@pytest.mark.mysql
@pytest.mark.parametrize("rows, size", [(130, 172939), (180, 100_000)])  # cut between / inside items
def test_a_json_list_the_server_cuts_is_an_error(mysql_db, rows, size):
    with mysql_db.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS `{MYSQL_DB}`.bigc")
        cursor.execute(f"CREATE TABLE `{MYSQL_DB}`.bigc (id INT PRIMARY KEY, day_id INT, t MEDIUMTEXT)")
        cursor.execute(f"INSERT INTO `{MYSQL_DB}`.bigc SELECT seq, 3, REPEAT('y', {size}) FROM `{MYSQL_DB}`.seq_1_to_{rows}")
    mysql_db.commit()
    config = _mysql_config()
    config["models"]["Day"]["associations"].update({
        "big": {"has_many": "Big", "foreign_key": "day_id"}, "big2": {"has_many": "Big", "foreign_key": "day_id"}})
    config["models"]["Big"] = {"table": "bigc"}
    query = {"from": "Day", "where": {"id": 3}, "include": [{"big": {"attributes": ["id", "t"]}},
                                                            {"big2": {"attributes": ["id"]}}]}
    try:
        with pytest.raises(explorer.ExecutionError, match=r"include big: the server sent .*max_allowed_packet"):
            explorer.run(config, query, reader="driver").records
        joined = explorer.run(config, {**query, "include": [query["include"][0]]}).records  # the join
        assert len(joined[0]["big"]) == rows
    finally:
        with mysql_db.cursor() as cursor:
            cursor.execute(f"DROP TABLE `{MYSQL_DB}`.bigc")


def test_sqlite_huge_reals_never_change_in_the_json_strategy(tmp_path):
    path = tmp_path / "m.db"
    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE ps (id INTEGER PRIMARY KEY); INSERT INTO ps VALUES (1);"
                             "CREATE TABLE ms (id INTEGER PRIMARY KEY, p_id INT, x REAL, n NUMERIC);")
    connection.execute("INSERT INTO ms VALUES (1, 1, ?, ?)", (1.0289592972990117e+300, 1.0289592972990117e+300))
    connection.commit()
    connection.close()
    config = {"databases": {"m": f"sqlite:///{path}"}, "models": {
        "P": {"table": "ps", "associations": {"ms": {"has_many": "M", "foreign_key": "p_id"},
                                              "ms2": {"has_many": "M", "foreign_key": "p_id"}}},
        "M": {"table": "ms"}}}
    auto = explorer.run(config, {"from": "P", "include": [{"ms": {"attributes": ["id", "x"]}}, "ms2"]})
    assert auto.strategy == "join" and auto.records[0]["ms"][0]["x"] == 1.0289592972990117e+300
    numeric = {"from": "P", "include": [{"ms": {"attributes": ["id", "n"]}}, {"ms2": {"attributes": ["id"]}}]}
    with pytest.raises(explorer.ExecutionError, match=r"'ms.n' \(M.n\).*beyond what SQLite's printf writes"):
        explorer.run(config, {**numeric, "strategy": "json"}).records
