"""The Arrow reader's exact values (issue 10): what connectorx carries, it carries exactly.

The truth for every value is what PyMySQL returns for a plain ``SELECT column`` (read here
with the raw driver). For every type on the Arrow reader's allow-list, ``execute_arrow``'s
``Execution.columns`` must hold exactly those values, type and value (decimals with their
scale); every other type is named by ``arrow_unfit`` and refused before connectorx runs;
a connectorx panic (a BaseException) always becomes an ExecutionError.

Tested at the level of ``explorer.engines.arrow`` and ``Execution.columns``, not ``Result.records``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import warnings

import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, PREFIX, _unavailable

import explorer
from explorer.engines import arrow as fast
from explorer.compile import compile_query
from explorer.execute import databases_of, execute
from explorer.tree import parse_query

MYSQL = pytest.mark.mysql
DATABASE = PREFIX + "fast_exact"

# column -> (DDL, SQL literals: row i holds the i-th value, NULL after the last; a last row is all NULL)
ALLOWED = {
    "parent_id": ("INT", ["1", "2", "1", "2", "1", "2", "1", "2"]),
    "ti": ("TINYINT", ["-128", "127", "0"]),
    "si": ("SMALLINT", ["-32768", "32767"]),
    "mi": ("MEDIUMINT", ["-8388608", "8388607"]),
    "i": ("INT", ["-2147483648", "2147483647"]),
    "bi": ("BIGINT", ["-9223372036854775808", "9223372036854775807", "0"]),
    "tiu": ("TINYINT UNSIGNED", ["0", "255"]),
    "siu": ("SMALLINT UNSIGNED", ["65535"]),
    "miu": ("MEDIUMINT UNSIGNED", ["16777215"]),
    "iu": ("INT UNSIGNED", ["4294967295", "2147483648"]),
    "flag": ("BOOLEAN", ["0", "1", "2", "-1"]),  # TINYINT(1): PyMySQL gives ints, so must Arrow
    "dbl": ("DOUBLE", ["0.1", "1.7976931348623157e308", "-2.2250738585072014e-308", "5e-324",
                       "0.30000000000000004", "-3.141592653589793", "1e22", "0"]),
    "d10_2": ("DECIMAL(10,2)", ["500000", "99999999.99", "-99999999.99", "-0.01", "0"]),
    "d10_0": ("DECIMAL", ["9999999999", "-1", "0"]),
    "d18_0": ("DECIMAL(18,0)", ["999999999999999999", "-999999999999999999"]),
    "d28_10": ("DECIMAL(28,10)", ["999999999999999999.9999999999", "-123456789012345678.1234567891",
                                  "0.0000000001", "0"]),
    "d10_10": ("DECIMAL(10,10)", ["0.9999999999", "-0.0000000001"]),
    "ch": ("CHAR(5)", ["'ab  '", "' a'", "'abcde'"]),
    "vc": ("VARCHAR(50)", ["'héllo 😀'", "''", "'tab\\tnl\\n'", "'it''s \\\\ \"q\"'"]),
    "vlat": ("VARCHAR(20) CHARACTER SET latin1", ["'café'", "'ÿ'"]),
    "vbin": ("VARCHAR(20) COLLATE utf8mb4_bin", ["'Bin'", "'bin'"]),
    "tx": ("TEXT", ["REPEAT('x', 20000)", "''"]),
    "ttx": ("TINYTEXT", ["'t'"]),
    "mtx": ("MEDIUMTEXT", ["'m'"]),
    "ltx": ("LONGTEXT", ["'l😀'"]),
    "en": ("ENUM('a','b','ü')", ["'ü'", "'a'"]),
    "st": ("SET('x','y','z')", ["'x,z'", "''", "'x,y,z'"]),
    "js": ("JSON", ["'{\"a\": 1.50, \"big\": 12345678901234567890}'", "'null'", "'[]'"]),
    "dat": ("DATE", ["'1000-01-01'", "'9999-12-31'", "'2024-02-29'", "'1970-01-01'"]),
    "dtm": ("DATETIME", ["'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'", "'1677-09-21 00:12:43'"]),
    "dtm6": ("DATETIME(6)", ["'1000-01-01 00:00:00.000001'", "'9999-12-31 23:59:59.999999'",
                             "'1969-12-31 23:59:59.999999'", "'2262-04-11 23:47:16.854776'"]),
    "dtm3": ("DATETIME(3)", ["'2020-01-01 00:00:00.123'"]),
    "ts": ("TIMESTAMP NULL", ["'2000-01-15 12:00:00'", "'2038-01-18 03:14:07'"]),
    "ts6": ("TIMESTAMP(6) NULL", ["'2000-02-29 12:34:56.000001'", "'2037-12-31 23:59:59.999999'"]),
}
UNFIT = {  # in table order: what arrow_unfit must name
    "biu": ("BIGINT UNSIGNED", ["18446744073709551615", "9223372036854775808"]),
    "fl": ("FLOAT", ["3.14159"]),
    "fl73": ("FLOAT(7,3)", ["1.5"]),
    "dbl124": ("DOUBLE(12,4)", ["1.2345"]),
    "d19_0": ("DECIMAL(19,0)", ["9999999999999999999"]),
    "d12_11": ("DECIMAL(12,11)", ["9.99999999999"]),
    "d30_20": ("DECIMAL(30,20)", ["0.12345678901234567890"]),
    "d65_30": ("DECIMAL(65,30)", ["12345678901234567890123456789012345.123456789012345678901234567890"]),
    "tm": ("TIME", ["'-838:59:59'", "'838:59:59'"]),
    "tm6": ("TIME(6)", ["'25:00:00.000001'"]),
    "yr": ("YEAR", ["1901", "2155", "0"]),
    "bt": ("BIT(8)", ["b'10101010'"]),
    "bl": ("BLOB", ["x'00ff'"]),
    "vb": ("VARBINARY(20)", ["x'00'"]),
    "bn": ("BINARY(4)", ["x'01'"]),
    "uu": ("UUID", ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"]),
    "i4": ("INET4", ["'10.0.0.1'"]),  # SQLAlchemy does not know it: NullType
}
COLUMNS = {**ALLOWED, **UNFIT}
ROWS = max(len(values) for _, values in COLUMNS.values()) + 1  # the last row: NULL everywhere


def _ddl() -> list[str]:
    columns = ", ".join(f"`{name}` {ddl}" for name, (ddl, _) in COLUMNS.items())
    rows = []
    for row in range(ROWS):
        literals = [values[row] if row < len(values) else "NULL" for _, values in COLUMNS.values()]
        rows.append(f"({row + 1}, {', '.join(literals)})")
    return [
        f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4",
        f"CREATE TABLE `{DATABASE}`.parents (id INT PRIMARY KEY, name VARCHAR(20))",
        f"INSERT INTO `{DATABASE}`.parents VALUES (1, 'one'), (2, 'two'), (3, 'none')",
        f"CREATE TABLE `{DATABASE}`.cells (id INT PRIMARY KEY, {columns})",
        f"INSERT INTO `{DATABASE}`.cells (id, {', '.join(f'`{n}`' for n in COLUMNS)}) VALUES {', '.join(rows)}",
        # Zero dates: MariaDB's default sql_mode lets them in; PyMySQL returns them as text.
        "SET SESSION sql_mode = ''",
        f"CREATE TABLE `{DATABASE}`.zeros (id INT PRIMARY KEY, d DATE, t DATETIME)",
        (f"INSERT INTO `{DATABASE}`.zeros VALUES (1, '0000-00-00', '0000-00-00 00:00:00'), "
         "(2, '2020-01-01', '2020-01-01 10:00:00')"),
        f"CREATE TABLE `{DATABASE}`.listed (id INT PRIMARY KEY, d DATE)",
    ]


MODELS = {
    "Parent": {"database": "exact", "table": "parents",
               "associations": {"cells": {"has_many": "Cell", "foreign_key": "parent_id"}}},
    "Cell": {"database": "exact", "table": "cells"},
    "Zero": {"database": "exact", "table": "zeros"},
    "Listed": {"database": "exact", "table": "listed", "columns": ["id", "d"]},
}


@pytest.fixture(scope="module")
def exact():
    """(config, server url of the database) for a database holding every type above; dropped after."""
    pytest.importorskip("connectorx")
    engine = sa.create_engine(MYSQL_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if "mariadb" not in connection.exec_driver_sql("SELECT VERSION()").scalar().lower():
                pytest.skip("the Arrow allow-list is verified on MariaDB (UUID, INET4 are MariaDB types)")
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    try:
        with engine.connect() as connection:
            for statement in _ddl():
                connection.exec_driver_sql(statement)
        url = sa.engine.make_url(MYSQL_SERVER).set(database=DATABASE).render_as_string(hide_password=False)
        config = explorer.load_config({"databases": {"exact": {"url": url}}, "models": MODELS})
        with warnings.catch_warnings():  # "Did not recognize type 'inet4'": that is the point
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            config.table("Cell")
        yield config, url
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{DATABASE}`")
        engine.dispose()


def truth(url: str, sql: str) -> list[tuple]:
    """What PyMySQL itself returns (the raw driver, as SQLAlchemy connects it)."""
    engine = sa.create_engine(url)
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            connection.close()
    finally:
        engine.dispose()


def compiled_for(config, query: dict):
    return compile_query(config, parse_query(config, query))


def run_arrow(config, compiled, max_rows: int = 1000):
    return fast.execute_arrow(config, compiled, {}, databases_of(config, compiled), 30.0, max_rows)


def same(a, b) -> bool:
    """Equal in type and value; decimals digit for digit (scale included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, decimal.Decimal):
        return a.as_tuple() == b.as_tuple()
    return a == b


def assert_same_columns(got: list, expected: list, labels: list[str]) -> None:
    assert len(got) == len(expected) == len(labels)
    for label, values, wanted in zip(labels, got, expected):
        differing = [(row, want, value) for row, (value, want) in enumerate(zip(values, wanted))
                     if not same(value, want)]
        assert len(values) == len(wanted) and not differing, (label, differing[:3])


# -- the allow-list


@MYSQL
@pytest.mark.parametrize("column", list(ALLOWED))
def test_allowed_column_reads_exactly(exact, column):
    config, url = exact
    compiled = compiled_for(config, {"from": "Cell", "attributes": ["id", column], "order": [["id", "asc"]]})
    assert fast.arrow_unfit(config, compiled) == []
    execution = run_arrow(config, compiled)
    assert execution.reader == "arrow" and execution.rows is None and execution.arrow is not None
    assert execution.labels == ["id", column] and execution.row_count == ROWS
    expected = [row[0] for row in truth(url, f"SELECT `{column}` FROM cells ORDER BY id")]
    assert expected[-1] is None  # the all-NULL row
    assert_same_columns([execution.columns[1]], [expected], [column])


@MYSQL
def test_decimal_keeps_the_column_scale(exact):
    config, _ = exact
    execution = run_arrow(config, compiled_for(config, {"from": "Cell", "attributes": ["id", "d10_2", "d10_0"],
                                                        "order": [["id", "asc"]]}))
    assert execution.columns[1][0].as_tuple() == decimal.Decimal("500000.00").as_tuple()
    assert execution.columns[2][2].as_tuple() == decimal.Decimal(0).as_tuple()
    assert type(execution.arrow.column(1).type).__name__ == "Decimal128Type"  # the table is kept as read


@MYSQL
def test_values_are_plain_python(exact):
    config, _ = exact
    execution = run_arrow(config, compiled_for(config, {"from": "Cell", "attributes": ["id", "bi", "dtm6", "dat"],
                                                        "order": [["id", "asc"]]}))
    ids, big, stamps, dates = execution.columns
    assert type(ids[0]) is int and type(big[0]) is int
    assert type(stamps[1]) is dt.datetime and stamps[1] == dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
    assert stamps[1].tzinfo is None
    assert type(dates[0]) is dt.date and dates[0] == dt.date(1000, 1, 1)


@MYSQL
def test_join_with_left_join_nulls_matches_the_driver(exact):
    config, _ = exact
    query = {"from": "Parent", "include": [{"cells": {"attributes": list(ALLOWED)}}],
             "order": [["id", "asc"], ["cells.id", "asc"]], "strategy": "join"}
    compiled = compiled_for(config, query)
    assert compiled.strategy == "join" and fast.arrow_unfit(config, compiled) == []
    arrow = run_arrow(config, compiled)
    driver = execute(config, compiled, reader="driver")  # PyMySQL: the truth
    assert arrow.labels == driver.labels
    expected = [list(column) for column in driver.driver_columns()]
    assert_same_columns(arrow.columns, expected, arrow.labels)
    assert arrow.columns[arrow.labels.index("cells.id")][-1] is None  # parent 3 has no cells


@MYSQL
def test_json_strategy_text_passes_through(exact):
    config, _ = exact
    # Unfit columns too: inside the JSON strategy they travel as JSON text.
    attributes = [*ALLOWED, "fl", "dbl124", "d65_30", "tm", "tm6", "yr", "bt", "bl"]
    query = {"from": "Parent", "include": [{"cells": {"attributes": attributes}}], "strategy": "json"}
    compiled = compiled_for(config, query)
    assert compiled.strategy == "json" and fast.arrow_unfit(config, compiled) == []
    arrow = run_arrow(config, compiled)
    driver = execute(config, compiled, reader="driver")
    assert arrow.labels == driver.labels == ["id", "name", "cells"]
    assert arrow.rows is None
    assert_same_columns(arrow.columns, [list(column) for column in driver.driver_columns()], arrow.labels)
    assert isinstance(arrow.columns[2][0], str | bytes)


# -- the unfit types


@MYSQL
def test_unfit_columns_are_named(exact):
    config, _ = exact
    compiled = compiled_for(config, {"from": "Cell"})
    assert fast.arrow_unfit(config, compiled) == list(UNFIT)
    included = compiled_for(config, {"from": "Parent", "include": [{"cells": {"attributes": ["id", "tm", "vc"]}}],
                                     "strategy": "join"})
    assert fast.arrow_unfit(config, included) == ["cells.tm"]


@MYSQL
def test_listed_columns_have_no_type_and_are_unfit(exact):
    config, _ = exact
    compiled = compiled_for(config, {"from": "Listed"})
    assert fast.arrow_unfit(config, compiled) == ["id", "d"]
    assert "type unknown" in str(fast.arrow_refusal(compiled, ["id", "d"]))


@MYSQL
def test_explicit_arrow_is_refused_before_connectorx_runs(exact, monkeypatch):
    config, _ = exact

    def never(self):
        raise AssertionError("connectorx ran")

    monkeypatch.setattr(fast._ArrowRun, "__call__", never)
    compiled = compiled_for(config, {"from": "Cell", "attributes": ["id", "d65_30", "tm", "fl", "vc"]})
    with pytest.raises(explorer.ExecutionError) as raised:
        run_arrow(config, compiled)
    message = str(raised.value)
    assert not isinstance(raised.value, fast.ArrowReadError)
    assert message.startswith("reader: arrow cannot carry these columns exactly: d65_30 (DECIMAL(65, 30)")
    assert "tm (TIME" in message and "fl (FLOAT" in message and "vc" not in message.split(";")[0]
    assert message.endswith("use reader: driver (or auto, which reads them with the driver).")


def test_arrow_refusal_names_label_and_type():
    table = sa.Table("cells", sa.MetaData(), sa.Column("price", sa.dialects.mysql.DECIMAL(65, 30)),
                     sa.Column("spent", sa.dialects.mysql.TIME()), sa.Column("x", sa.types.NullType()))
    statement = sa.select(table.c.price.label("cells.price"), table.c.spent.label("cells.spent"),
                          table.c.x.label("cells.x"), (table.c.price + 1).label("plus"))

    class Compiled:  # only .statement is read
        pass

    compiled = Compiled()
    compiled.statement = statement
    assert fast.arrow_unfit(None, compiled) == ["cells.price", "cells.spent", "cells.x", "plus"]
    error = fast.arrow_refusal(compiled, fast.arrow_unfit(None, compiled))
    assert isinstance(error, explorer.ExecutionError)
    text = str(error)
    assert "cells.price (DECIMAL(65, 30): " in text and "cells.spent (TIME: " in text
    assert "cells.x (type unknown" in text and "plus (DECIMAL, an expression" in text


# -- connectorx failures, panics included, are ExecutionErrors


@MYSQL
def test_zero_dates_read_as_the_driver_reads_them(exact):
    """connectorx panics on a zero date; the Arrow statement reads dates as text, which PyMySQL's
    own converters turn into what the driver gives (the text itself for a zero date)."""
    config, url = exact
    assert truth(url, "SELECT d FROM zeros ORDER BY id")[0] == ("0000-00-00",)  # what the driver reads
    compiled = compiled_for(config, {"from": "Zero"})
    assert fast.arrow_unfit(config, compiled) == []
    assert "CAST(" in run_arrow(config, compiled).sql
    driver = execute(config, compiled, reader="driver").driver_columns()
    assert [list(column) for column in run_arrow(config, compiled).columns] == [list(column) for column in driver]
    assert driver[1][0] == "0000-00-00"


def _connectorx_run(url: str, sql: str):
    backend_url = sa.engine.make_url(url).set(drivername="mysql", query={}).render_as_string(hide_password=False)
    return fast._ArrowRun(backend_url, sql, [], cancel=lambda: None)


@MYSQL
@pytest.mark.parametrize("sql", ["SELECT tm FROM cells", "SELECT d65_30 FROM cells",
                                 "SELECT CAST('-838:59:59' AS TIME) AS t"])
def test_panicking_reads_become_execution_errors(exact, sql):
    config, url = exact
    run = _connectorx_run(url, sql)
    with pytest.raises(BaseException) as raw:  # the premise: connectorx's panic is no Exception
        run()
    assert not isinstance(raw.value, Exception) and type(raw.value).__name__ == "PanicException"
    with pytest.raises(fast.ArrowReadError) as raised:
        fast.read_table(config, config.databases["exact"], run, sql, 30.0)
    assert "use reader: driver" in str(raised.value)


@MYSQL
def test_plain_connectorx_errors_stay_execution_errors(exact):
    config, url = exact
    run = _connectorx_run(url, "SELECT d38 FROM no_such_table")
    with pytest.raises(explorer.ExecutionError, match="Arrow reader"):
        fast.read_table(config, config.databases["exact"], run, "SELECT ...", 30.0)


class _Raises:
    def __init__(self, error: BaseException):
        self.error = error

    def __call__(self):
        raise self.error

    def cancel(self):
        pass

    def abandon(self):
        pass


class _OddBaseException(BaseException):
    pass


@MYSQL
def test_only_interrupts_and_exits_pass_through(exact):
    config, _ = exact
    database = config.databases["exact"]
    for passing in (KeyboardInterrupt(), SystemExit(3), explorer.ExecutionError("as is")):
        with pytest.raises(type(passing)):
            fast.read_table(config, database, _Raises(passing), "SELECT 1", 30.0)
    with pytest.raises(fast.ArrowReadError, match="odd"):
        fast.read_table(config, database, _Raises(_OddBaseException("odd")), "SELECT 1", 30.0)
    with pytest.raises(explorer.ExecutionError, match="plain"):
        fast.read_table(config, database, _Raises(RuntimeError("plain")), "SELECT 1", 30.0)


# -- the conversion itself (no server)


def test_repeated_decimals_and_chunks_convert_like_to_pylist():
    pa = pytest.importorskip("pyarrow")
    values = [decimal.Decimal(f"{i % 7}.5000000000") if i % 5 else None for i in range(200)]
    chunked = pa.chunked_array([pa.array(values[:120], pa.decimal128(38, 10)),
                                pa.array(values[120:], pa.decimal128(38, 10))])
    selected = sa.column("price", sa.dialects.mysql.DECIMAL(10, 2))
    got = fast.column_values(chunked, selected)
    want = [None if v is None else v.quantize(decimal.Decimal("0.01")) for v in values]
    assert [None if v is None else v.as_tuple() for v in got] == [None if v is None else v.as_tuple() for v in want]


def test_a_decimal_that_would_round_is_an_error():
    pa = pytest.importorskip("pyarrow")
    column = pa.chunked_array([pa.array([decimal.Decimal("1.2345678901")], pa.decimal128(38, 10))])
    with pytest.raises(pa.ArrowInvalid):  # ArrowColumns (its caller) makes it an ExecutionError
        fast.column_values(column, sa.column("price", sa.dialects.mysql.DECIMAL(10, 2)))


def test_an_unexpected_arrow_type_is_an_error_not_a_guess():
    pa = pytest.importorskip("pyarrow")
    column = pa.chunked_array([pa.array([1.5], pa.float32())])
    with pytest.raises(explorer.ExecutionError, match="cannot be turned back"):
        fast.column_values(column, sa.column("n", sa.dialects.mysql.INTEGER()))


def test_datetimes_and_dates_come_back_as_python_objects():
    pa = pytest.importorskip("pyarrow")
    stamps = [dt.datetime(1000, 1, 1), None, dt.datetime(9999, 12, 31, 23, 59, 59, 999999)]
    dates = [dt.date(1000, 1, 1), None, dt.date(9999, 12, 31)]
    got = fast.column_values(pa.chunked_array([pa.array(stamps, pa.timestamp("us"))]),
                             sa.column("t", sa.dialects.mysql.DATETIME(fsp=6)))
    assert got == stamps and all(v is None or type(v) is dt.datetime for v in got)
    got = fast.column_values(pa.chunked_array([pa.array(dates, pa.date32())]), sa.column("d", sa.DATE()))
    assert got == dates and all(v is None or type(v) is dt.date for v in got)


# -- the driver path parses some columns' text after the read (engines.mysql: _DEFERRED)


@MYSQL
@pytest.mark.parametrize("query", [
    {"from": "Cell", "order": [["id", "asc"]]},  # every type, one row each
    {"from": "Parent", "include": ["cells"], "order": [["id", "asc"], ["cells.id", "asc"]],
     "strategy": "join"},  # the parent's columns repeated per cell
], ids=["cells", "parents-and-cells"])
def test_driver_values_parsed_after_the_read_are_pymysqls_own(exact, query):
    """PyMySQL leaves decimals, dates, times, datetimes, timestamps and integers as their text while
    it reads; each distinct text is parsed after by the connection's converter: every value must
    be what PyMySQL itself returns, type, value and scale."""
    config, url = exact
    compiled = compiled_for(config, query)
    execution = execute(config, compiled, reader="driver")
    kinds = {COLUMNS.get(label.rsplit(".", 1)[-1], ("INT",))[0].split("(")[0] for label in
             (execution.labels[i] for i in execution.deferred)}
    assert {"DECIMAL", "DATE", "DATETIME", "TIMESTAMP", "TIME", "INT", "BIGINT", "YEAR"} <= kinds
    assert all(isinstance(execution.rows[0][i], str | None) for i in execution.deferred)  # as read
    raw = [list(column) for column in zip(*truth(url, compiled_sql(config, compiled)))]
    assert_same_columns(execution.driver_columns(), raw, execution.labels)


@MYSQL
def test_the_pooled_session_gets_its_converters_back(exact):
    config, _ = exact
    explorer.run(config, {"from": "Zero"}, reader="driver").frame  # noqa: B018
    engine = config.engine("exact")
    with engine.connect() as connection:  # the pool's session the runs used
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute(f"SELECT t, id FROM `{DATABASE}`.zeros WHERE id = 2")
        assert cursor.fetchall() == ((dt.datetime(2020, 1, 1, 10, 0), 2),)


def compiled_sql(config, compiled) -> str:
    from explorer.statement import Statement

    return Statement(config, compiled, {}).sql
