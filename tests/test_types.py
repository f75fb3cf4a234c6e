"""Exact values (SPEC "Results", "Exact values"): a type matrix on MariaDB, PostgreSQL and SQLite.

For every cell of ``cells`` (tests/typematrix.py), what explorer gives must be what
the server's own DBAPI driver gives for a plain ``SELECT column FROM cells``: PyMySQL,
psycopg 3 (same session settings), sqlite3 read by the column's declared type. The
truth is read here with the raw driver, never through explorer.

Each (backend, column, query form, reader) is its own test, so failures read as a list:

* ``join`` / ``json``: ``Parent`` including ``cells`` with that strategy;
  ``siblings``: ``cells`` and ``tags`` side by side, strategy auto (which takes json);
* readers: MariaDB ``driver``, ``arrow`` and ``auto``; PostgreSQL and SQLite ``auto``.

An explicit ``reader: arrow`` or ``strategy: json`` may refuse a column it cannot carry
exactly, with an ExplorerError naming it; ``auto`` must give exact values. Any other
exception (a connectorx PanicException included) is a failure. When the query over
every column fails without naming a column, that column is judged by the same query
asking for it alone, so each failure lands on the column that causes it.

Also: frame dtypes and values, NULL printed as <NA> only, records holding only the
listed attributes, and ``crossquery run --format json|csv``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import io
import ipaddress
import json
import math
import os
import re
import sqlite3
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from conftest import MYSQL_SERVER, PREFIX, _ensure_postgres_database, _unavailable, postgres_url
from typematrix import (
    MATRIX,
    PARENTS,
    POSTGRESQL_ENUM,
    TAGS,
    Col,
    insert_statements,
    null_row,
    parent_of,
)

import explorer
from explorer.display import frame_html
import explorer.cli

A, B = "types_a", "types_b"  # the logical databases: parents in A, cells and tags in B
MARKS = {"sqlite": (), "mysql": (pytest.mark.mysql,), "postgresql": (pytest.mark.postgresql,)}
# Who reads: a reader of the server engine, or ``engine:<name>``, the whole matrix through a
# federating engine (DuckDB, Spark) that must hand back the same values as the server.
ENGINES = tuple(f"engine:{name}" for name in os.environ.get("CROSSQUERY_MATRIX_ENGINES", "duckdb spark").split())
READERS = {"sqlite": ("auto", *ENGINES), "mysql": ("driver", "arrow", "auto", *ENGINES),
           "postgresql": ("auto", *ENGINES)}
FORMS = ("join", "json", "siblings")
MODELS = {
    "Parent": {"database": A, "table": "parents", "associations": {
        "cells": {"has_many": "Cell", "foreign_key": "parent_id"},
        "tags": {"has_many": "Tag", "foreign_key": "parent_id"},
    }},
    "Cell": {"database": B, "table": "cells"},
    "Tag": {"database": B, "table": "tags"},
}


def query_for(form: str, cell_attributes: list[str] | None = None) -> dict:
    cells = {"attributes": cell_attributes} if cell_attributes else {}
    if form == "siblings":
        return {"from": "Parent", "include": [{"cells": cells}, {"tags": {}}]}
    return {"from": "Parent", "include": [{"cells": cells}], "strategy": form}


# ---------------------------------------------------------------------------
# The databases, and the truth read back with the raw driver


@dataclass
class Typed:
    backend: str
    columns: tuple[Col, ...]
    config_dict: dict
    truth: dict[int, dict[str, Any]]            # cell id -> column -> the driver's value
    config: Any = None
    cache: dict = field(default_factory=dict)  # explorer runs and CLI outputs, by key

    def column(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)


def _finish(backend: str, config_dict: dict, truth: dict) -> Typed:
    typed = Typed(backend, MATRIX[backend], config_dict, truth)
    typed.config = explorer.load_config(config_dict)
    return typed


def _truth(cursor, columns: tuple[Col, ...], table: str, convert=lambda column, value: value) -> dict:
    truth: dict[int, dict[str, Any]] = {}
    for column in columns:
        cursor.execute(f"SELECT id, {column.name} FROM {table}")
        for cell_id, value in cursor.fetchall():
            truth.setdefault(cell_id, {})[column.name] = convert(column, value)
    return truth


def _cell_ddl(columns, quote) -> str:
    return ", ".join([f"{quote('id')} INT PRIMARY KEY", f"{quote('parent_id')} INT",
                      *(f"{quote(c.name)} {c.ddl}" for c in columns)])


def _fill(cursor, columns, quote, table_a: str, table_b: str) -> None:
    """parents in A; cells and tags in B (table names already qualified)."""
    cursor.execute(f"CREATE TABLE {table_a('parents')} (id INT PRIMARY KEY, name VARCHAR(100))")
    cursor.execute(f"CREATE TABLE {table_b('cells')} ({_cell_ddl(columns, quote)})")
    cursor.execute(f"CREATE TABLE {table_b('tags')} (id INT PRIMARY KEY, parent_id INT, label VARCHAR(100))")
    for parent_id, name in PARENTS:
        cursor.execute(f"INSERT INTO {table_a('parents')} (id, name) VALUES ({parent_id}, '{_sql_text(name)}')")
    for tag in TAGS:
        cursor.execute(f"INSERT INTO {table_b('tags')} (id, parent_id, label) VALUES ({tag[0]}, {tag[1]}, '{tag[2]}')")
    for statement in insert_statements(columns, quote):
        cursor.execute(statement.replace("{table}", table_b("cells"), 1))


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


@pytest.fixture(scope="session")
def types_sqlite(tmp_path_factory) -> Typed:
    directory = tmp_path_factory.mktemp("types")
    paths = {A: directory / "types_a.db", B: directory / "types_b.db"}
    connection = sqlite3.connect(paths[B])
    connection.execute(f"ATTACH DATABASE '{paths[A]}' AS a")
    columns = MATRIX["sqlite"]
    _fill(connection.cursor(), columns, lambda n: f'"{n}"', lambda t: f"a.{t}", lambda t: f"main.{t}")
    connection.execute("CREATE TABLE bad_dates (id INTEGER PRIMARY KEY, parent_id INTEGER, c_bad_date DATE)")
    connection.execute("INSERT INTO bad_dates VALUES (1, 1, 'not a date')")
    connection.commit()
    truth = _truth(connection.cursor(), columns, "cells", sqlite_value)
    connection.close()
    models = {**MODELS, "Parent": {**MODELS["Parent"], "associations": {
        **MODELS["Parent"]["associations"], "bad_dates": {"has_many": "BadDate", "foreign_key": "parent_id"}}},
        "BadDate": {"database": B, "table": "bad_dates"}}
    config = {"databases": {name: {"url": f"sqlite:///{path}"} for name, path in paths.items()}, "models": models}
    return _finish("sqlite", config, truth)


def sqlite_value(column: Col, value: Any) -> Any:
    """sqlite3's value read by the declared type, as SQLAlchemy Core's result processors do."""
    if value is None:
        return None
    kind = column.ddl.split("(")[0].strip().upper()
    if kind in ("NUMERIC", "DECIMAL"):
        scale = int(column.ddl.split(",")[1].rstrip(")"))
        return Decimal(f"{value:.{scale}f}")  # SQLAlchemy's "%.*f" % (scale, value)
    if kind == "BOOLEAN":
        if isinstance(value, str):  # stored as text: what the text says
            return {"true": True, "false": False}[value.lower()]
        return bool(value)
    if kind == "DATE":
        return dt.date.fromisoformat(value)
    if kind == "DATETIME":
        return dt.datetime.fromisoformat(value)
    return value


def _server_names() -> dict[str, str]:
    return {A: PREFIX + A, B: PREFIX + B}


def _pymysql_connect(url: sa.URL, database: str | None = None):
    import pymysql

    return pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.username,
                           password=url.password or "", database=database, charset="utf8mb4")


@pytest.fixture(scope="session")
def types_mysql() -> Typed:
    server = sa.engine.make_url(MYSQL_SERVER)
    names = _server_names()
    try:
        _pymysql_connect(server).close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    columns = MATRIX["mysql"]
    try:
        connection = _pymysql_connect(server)
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")  # no silent clipping
            for name in names.values():
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            _fill(cursor, columns, lambda n: f"`{n}`", lambda t: f"`{names[A]}`.`{t}`",
                  lambda t: f"`{names[B]}`.`{t}`")
        connection.commit()
        connection.close()
        # The truth: a fresh PyMySQL session, as explorer's (utf8mb4, read-only, server defaults).
        reader = _pymysql_connect(server, names[B])
        with reader.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            truth = _truth(cursor, columns, "cells")
        reader.close()
        urls = {logical: {"url": server.set(database=real).render_as_string(hide_password=False)}
                for logical, real in names.items()}
        yield _finish("mysql", {"databases": urls, "models": MODELS}, truth)
    finally:
        connection = _pymysql_connect(server)
        with connection.cursor() as cursor:
            for name in names.values():
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()


def _psycopg_connect():
    import psycopg

    url = sa.engine.make_url(postgres_url())
    # explorer's session: autocommit, read-only by default (see backends.PostgreSQLBackend)
    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                           password=url.password, dbname=url.database, autocommit=True)


@pytest.fixture(scope="session")
def types_postgresql() -> Typed:
    names = _server_names()
    try:
        _ensure_postgres_database()
        _psycopg_connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable("PostgreSQL at " + postgres_url(), exc)
    enum = f'"{names[B]}".mood'
    columns = MATRIX["postgresql"]
    ddl_columns = tuple(dataclasses.replace(c, ddl=c.ddl.replace("{enum}", enum)) for c in columns)
    try:
        with _psycopg_connect() as connection, connection.cursor() as cursor:
            for name in names.values():
                cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
                cursor.execute(f'CREATE SCHEMA "{name}"')
            values = ", ".join(f"'{_sql_text(v)}'" for v in POSTGRESQL_ENUM)
            cursor.execute(f"CREATE TYPE {enum} AS ENUM ({values})")
            _fill(cursor, ddl_columns, lambda n: f'"{n}"', lambda t: f'"{names[A]}"."{t}"',
                  lambda t: f'"{names[B]}"."{t}"')
        # The truth: a fresh psycopg session, as explorer's (autocommit, read-only, server defaults).
        with _psycopg_connect() as reader:
            reader.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            truth = _truth(reader.cursor(), columns, f'"{names[B]}".cells')
        databases = {logical: {"url": postgres_url(), "schema": real} for logical, real in names.items()}
        yield _finish("postgresql", {"databases": databases, "models": MODELS}, truth)
    finally:
        with _psycopg_connect() as connection:
            for name in names.values():
                connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def typed_for(request, backend: str) -> Typed:
    return request.getfixturevalue(f"types_{backend}")


# ---------------------------------------------------------------------------
# Running explorer once per (form, reader), and judging what came back


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def refused(self) -> bool:
        return isinstance(self.error, explorer.ExplorerError)


def run_once(typed: Typed, form: str, reader: str, column: str | None = None) -> Outcome:
    """explorer.run for this form and reader (cached); ``column``: only that cells column."""
    key = (form, reader, column)
    if key not in typed.cache:
        query = query_for(form, ["id", "parent_id", column] if column else None)
        try:
            typed.cache[key] = Outcome(explorer.run(typed.config, query, **run_options(reader)))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a connectorx PanicException is a BaseException
            typed.cache[key] = Outcome(error=exc)
    return typed.cache[key]


def run_options(reader: str) -> dict:
    """run() keywords for a reader of this matrix: reader=... or engine=... (``engine:duckdb``)."""
    if reader.startswith("engine:"):
        return {"engine": reader.removeprefix("engine:")}
    return {"reader": reader}


def read(typed: Typed, form: str, reader: str, what: str, column: str | None = None) -> Outcome:
    """``result.<what>`` (records, frames, frame), with any error it raises."""
    outcome = run_once(typed, form, reader, column)
    if outcome.error is not None:
        return outcome
    try:
        return Outcome(getattr(outcome.value, what))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001
        return Outcome(error=exc)


def names_column(error: BaseException, column: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(column)}(?![\w])", str(error)) is not None


def judged(typed: Typed, form: str, reader: str, what: str, column: str) -> Outcome | None:
    """The value to check, or None for an accepted refusal; fails on any other error.

    When the query over every column fails without naming this one, this column is
    judged by the same query asking for it alone (test_records_shape reports the
    failure of the whole query), so each failure lands on the column that causes it.
    """
    may_refuse = reader == "arrow" or form == "json" or reader.startswith("engine:")
    outcome = read(typed, form, reader, what)
    if outcome.error is not None and not names_column(outcome.error, column):
        outcome = read(typed, form, reader, what, column)
    if outcome.error is None:
        return outcome
    error = outcome.error
    text = f"{type(error).__module__}.{type(error).__name__}: {error}"
    if not isinstance(error, explorer.ExplorerError):
        pytest.fail(f"not an ExplorerError: {text}"[:2000], pytrace=False)
    if not may_refuse:
        pytest.fail(f"reader {reader}, {form}: must give exact values, refused instead: {text}"[:2000],
                    pytrace=False)
    if not names_column(error, column):
        pytest.fail(f"a refusal must name the column {column!r}: {text}"[:2000], pytrace=False)
    return None  # an explicit reader or strategy said it cannot carry this column: allowed


# ---------------------------------------------------------------------------
# Exact comparison: type and value


def same(a: Any, b: Any) -> bool:
    """``type(a) is type(b) and a == b``, with Decimal scale, NaN, tz offsets and containers."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (dt.datetime, dt.time)):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:120]}{'...' if len(text) > 120 else ''}"


def mismatches(pairs) -> list[str]:
    return [f"cell {cell_id}: got {show(got)}, expected {show(want)}" for cell_id, got, want in pairs
            if not same(got, want)]


def expected_cells(typed: Typed) -> dict[int, list[int]]:
    by_parent: dict[int, list[int]] = {parent_id: [] for parent_id, _ in PARENTS}
    for cell_id in sorted(typed.truth):
        by_parent[parent_of(cell_id, typed.columns)].append(cell_id)
    return by_parent


def cells_of(records: list[dict]) -> dict[int, dict]:
    return {cell["id"]: cell for parent in records for cell in parent["cells"]}


# ---------------------------------------------------------------------------
# Parametrization: one test per (backend, column, form, reader)


def value_cases():
    for backend, columns in MATRIX.items():
        for column in columns:
            for form in FORMS:
                for reader in READERS[backend]:
                    yield pytest.param(backend, column.name, form, reader, marks=MARKS[backend],
                                       id=f"{backend}-{column.name}-{form}-{reader}")


def run_cases(forms=FORMS):
    for backend in MATRIX:
        for form in forms:
            for reader in READERS[backend]:
                yield pytest.param(backend, form, reader, marks=MARKS[backend], id=f"{backend}-{form}-{reader}")


def backend_cases():
    return [pytest.param(backend, marks=MARKS[backend], id=backend) for backend in MATRIX]


def column_cases(select=lambda column: True):
    return [pytest.param(backend, column.name, marks=MARKS[backend], id=f"{backend}-{column.name}")
            for backend, columns in MATRIX.items() for column in columns if select(column)]


# ---------------------------------------------------------------------------
# records


@pytest.mark.parametrize("backend, form, reader", list(run_cases()))
def test_records_shape(request, backend, form, reader):
    """Every parent once, its cells (an empty list for parent 3), each cell with every column."""
    typed = typed_for(request, backend)
    outcome = read(typed, form, reader, "records")
    if outcome.error is not None:
        if outcome.refused and (reader == "arrow" or form == "json" or reader.startswith("engine:")):
            pytest.skip(f"refused (allowed for reader {reader}, strategy {form}): {outcome.error}"[:300])
        pytest.fail(f"{type(outcome.error).__name__}: {outcome.error}"[:2000], pytrace=False)
    records = outcome.value
    assert [(p["id"], p["name"]) for p in records] == list(PARENTS)
    assert {p["id"]: [c["id"] for c in p["cells"]] for p in records} == expected_cells(typed)
    columns = {"id", "parent_id", *(c.name for c in typed.columns)}
    for cell in cells_of(records).values():
        assert set(cell) == columns
    if form == "siblings":
        assert {p["id"]: [t["label"] for t in p["tags"]] for p in records} == {
            1: ["first", "second"], 2: ["only"], 3: []}


@pytest.mark.parametrize("backend, column, form, reader", list(value_cases()))
def test_record_values(request, backend, column, form, reader):
    """records hold what the driver returns: same type, same value (Decimal scale, NaN, tz offset)."""
    typed = typed_for(request, backend)
    outcome = judged(typed, form, reader, "records", column)
    if outcome is None:
        return
    cells = cells_of(outcome.value)
    missing = sorted(set(typed.truth) - set(cells))
    assert not missing, f"cells {missing} missing from records"
    absent = sorted(cell_id for cell_id in typed.truth if column not in cells[cell_id])
    assert not absent, f"cells {absent} have no key {column!r}"
    problems = mismatches((cell_id, cells[cell_id][column], want[column]) for cell_id, want in typed.truth.items())
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# frames: dtypes that hold every value, the same values, one spelling of NULL


def dtype_problem(dtype, wanted: tuple[str, ...]) -> str | None:
    for name in wanted:
        if name == "string" and isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
            return None
        if name == "object" and dtype == object:
            return None
        if name in ("datetime64", "datetime64tz") and pd.api.types.is_datetime64_any_dtype(dtype):
            tz = getattr(dtype, "tz", None) or getattr(getattr(dtype, "pyarrow_dtype", None), "tz", None)
            if (tz is not None) == (name == "datetime64tz"):
                return None
        if name in ("Int64", "UInt64", "boolean", "Float64") and str(dtype) == name:
            return None
    return f"dtype {dtype} ({dtype!r}), expected {' or '.join(wanted)}"


def frame_value(value: Any) -> Any:
    """A frame's scalar as the Python value records would hold (numpy/pandas scalars unboxed)."""
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, pd.Timedelta):
        return value.to_pytimedelta()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def frame_problems(where: str, ids: pd.Series, values: pd.Series, typed: Typed, column: str) -> list[str]:
    """``values`` (one per row, ``ids`` the cell ids) against the truth: dtype, values, NULL as <NA>."""
    problems = []
    problem = dtype_problem(values.dtype, typed.column(column).dtypes)
    if problem:
        problems.append(f"{where}: {problem}")
    for cell_id, want in typed.truth.items():
        rows = [i for i, found in enumerate(ids) if found is not pd.NA and found == cell_id]
        if not rows:
            problems.append(f"{where}: cell {cell_id}: no row")
        for raw in (values.iloc[i] for i in rows):  # the flat frame may repeat a cell (sibling rows)
            if want[column] is None and raw is not pd.NA and raw is not pd.NaT:
                problems.append(f"{where}: cell {cell_id}: NULL as {show(raw)}, expected <NA>")
                break
            if not same(frame_value(raw), want[column]):
                problems.append(f"{where}: cell {cell_id}: got {show(raw)}, expected {show(want[column])}")
                break
    return problems


@pytest.mark.parametrize("backend, column, form, reader", list(value_cases()))
def test_frame_dtypes_and_values(request, backend, column, form, reader):
    """frames['cells'] and the flat frame: a dtype that holds every value exactly, the driver's values."""
    typed = typed_for(request, backend)
    outcome = judged(typed, form, reader, "frames", column)
    if outcome is None:
        return
    cells = outcome.value["cells"]
    problems = frame_problems("frames['cells']", cells["id"], cells[column], typed, column)
    flat = judged(typed, form, reader, "frame", column)
    if flat is not None:
        flat = flat.value
        problems += frame_problems("frame", flat["cells.id"], flat[f"cells.{column}"], typed, column)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("backend, column, form, reader", list(value_cases()))
def test_null_shows_as_na(request, backend, column, form, reader):
    """result.frame: the all-NULL row and the parent without cells show <NA>, never NaN/None/NaT, in
    the notebook's table (datetime64 columns hold NaT, which the table spells <NA> too)."""
    typed = typed_for(request, backend)
    outcome = judged(typed, form, reader, "frame", column)
    if outcome is None:
        return
    frame = outcome.value
    ids = frame["cells.id"]
    rows = frame.loc[ids.isna() | (ids == null_row(typed.columns)), [f"cells.{column}"]]
    assert len(rows) == 2, rows
    text = frame_html(rows)
    assert not re.search(r"\b(NaN|None|NaT|nan)\b", text), f"NULL must show as <NA>:\n{text}"
    assert text.count("&lt;NA&gt;") == 2, f"NULL must show as <NA>:\n{text}"


# ---------------------------------------------------------------------------
# Records hold exactly the attributes asked for; frames keep the keys


@pytest.mark.parametrize("backend, form, reader", list(run_cases(("join", "json"))))
def test_records_hold_only_the_listed_attributes(request, backend, form, reader):
    typed = typed_for(request, backend)
    first = typed.columns[0].name
    query = {"from": "Parent", "attributes": ["name"], "include": [{"cells": {"attributes": [first]}}],
             "strategy": form}
    result = explorer.run(typed.config, query, **run_options(reader))
    records = result.records
    assert [set(parent) for parent in records] == [{"name", "cells"}] * len(PARENTS)
    assert all(set(cell) == {first} for cell in (c for p in records for c in p["cells"]))
    assert [len(p["cells"]) for p in records] == [len(v) for v in expected_cells(typed).values()]
    assert "id" in result.frames["Parent"].columns
    assert {"Parent.id", "id", first} <= set(result.frames["cells"].columns)


def test_sqlite_unreadable_date_is_an_error_naming_the_column(types_sqlite):
    with pytest.raises(explorer.ExplorerError, match=r"\bc_bad_date\b"):
        _ = explorer.run(types_sqlite.config, {"from": "Parent", "include": ["bad_dates"]}).records


# ---------------------------------------------------------------------------
# crossquery run --format json | csv


def cli_output(typed: Typed, tmp_path_factory, fmt: str, column: str | None = None) -> tuple[Any, str, str]:
    """(exit code, stdout, stderr) of ``crossquery run CONFIG QUERY --format fmt`` (cached).

    The query includes every cells column, or with ``column`` only that one.
    """
    key = ("cli", fmt, column)
    if key not in typed.cache:
        if "cli_config" not in typed.cache:
            path = tmp_path_factory.mktemp(f"cli_{typed.backend}") / "types.yaml"
            path.write_text(yaml.safe_dump(typed.config_dict, allow_unicode=True), encoding="utf-8")
            typed.cache["cli_config"] = path
        config_path = typed.cache["cli_config"]
        query = query_for("join", ["id", "parent_id", column] if column else None)
        del query["strategy"]  # the default, as a user runs it
        query_path = config_path.with_name(f"query_{column or 'all'}.yaml")
        query_path.write_text(yaml.safe_dump(query), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = explorer.cli.main(["run", str(config_path), str(query_path), "--format", fmt])
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001
                code = f"raised {type(exc).__module__}.{type(exc).__name__}: {exc}"
        typed.cache[key] = (code, out.getvalue(), err.getvalue())
    return typed.cache[key]


def _no_constant(name: str):
    raise ValueError(f"not strict JSON: {name}")


def _parse_cli(typed: Typed, tmp_path_factory, fmt: str, column: str | None, parse) -> Any:
    """The parsed output; or the error why there is none (exit code, stderr or parse error)."""
    code, out, err = cli_output(typed, tmp_path_factory, fmt, column)
    if code != 0:
        return AssertionError(f"crossquery run --format {fmt}: exit {code}: {err.strip()}"[:2000])
    try:
        return parse(out)
    except ValueError as exc:
        return AssertionError(f"--format {fmt}: cannot parse the output: {exc}")


def cli_parsed(typed: Typed, tmp_path_factory, fmt: str, parse, column: str | None = None) -> Any:
    """The output for every column; for ``column``, its own query when that fails without naming it."""
    parsed = _parse_cli(typed, tmp_path_factory, fmt, None, parse)
    if isinstance(parsed, AssertionError) and column and not names_column(parsed, column):
        parsed = _parse_cli(typed, tmp_path_factory, fmt, column, parse)
    if isinstance(parsed, AssertionError):
        pytest.fail(str(parsed), pytrace=False)
    return parsed


def strict_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def cli_records(typed: Typed, tmp_path_factory, column: str | None = None) -> list[dict]:
    return cli_parsed(typed, tmp_path_factory, "json", strict_json, column)


@pytest.mark.parametrize("backend", backend_cases())
def test_cli_json_is_strict_json(request, backend, tmp_path_factory):
    typed = typed_for(request, backend)
    records = cli_records(typed, tmp_path_factory)
    assert [p["id"] for p in records] == [p[0] for p in PARENTS]


DURATION = re.compile(r"(-?)(\d{2,}):(\d{2}):(\d{2})(?:\.(\d{6}))?")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?")


def json_problem(got: Any, want: Any) -> str | None:
    """Why ``got`` (parsed with parse_float=Decimal) is not how --format json must write ``want``."""
    bad = f"got {show(got)} for {show(want)}"
    if want is None or isinstance(want, (bool, str)):
        return None if type(got) is type(want) and got == want else bad
    if isinstance(want, int):
        return None if type(got) is int and got == want else bad
    if isinstance(want, (float, Decimal)) and not math.isfinite(want):
        name = "NaN" if math.isnan(want) else ("Infinity" if want > 0 else "-Infinity")
        return None if got == name else bad + f" (expected the string {name!r})"
    if isinstance(want, Decimal):  # every digit, the scale too
        ok = isinstance(got, (int, Decimal)) and not isinstance(got, bool) and \
            Decimal(got).as_tuple() == want.as_tuple()
        return None if ok else bad + " (expected an exact JSON number)"
    if isinstance(want, float):
        return None if isinstance(got, (int, Decimal)) and not isinstance(got, bool) and float(got) == want else bad
    if isinstance(want, bytes):
        return None if got == base64.b64encode(want).decode("ascii") else bad + " (expected base64)"
    if isinstance(want, dt.datetime):
        if not (isinstance(got, str) and ISO_DATETIME.fullmatch(got)):
            return bad + " (expected ISO 8601)"
        parsed = dt.datetime.fromisoformat(got)  # Python 3.11+ reads a trailing Z
        return None if same(parsed, want) else bad
    if isinstance(want, dt.date):
        return None if got == want.isoformat() else bad
    if isinstance(want, dt.time):
        return None if isinstance(got, str) and same(dt.time.fromisoformat(got), want) else bad
    if isinstance(want, dt.timedelta):
        match = DURATION.fullmatch(got) if isinstance(got, str) else None
        if not match:
            return bad + " (expected [-]HH:MM:SS[.ffffff])"
        sign, hours, minutes, seconds, micro = match.groups()
        value = dt.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds),
                             microseconds=int(micro or 0))
        return None if (-value if sign else value) == want and int(minutes) < 60 and int(seconds) < 60 else bad
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return bad
        return next((p for p in map(json_problem, got, want) if p), None)
    if isinstance(want, dict):
        if not isinstance(got, dict) or got.keys() != want.keys():
            return bad
        return next((p for p in (json_problem(got[k], want[k]) for k in want) if p), None)
    if isinstance(want, (uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface,
                         ipaddress.IPv6Interface, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return None if got == str(want) else bad
    raise AssertionError(f"no JSON rule for {show(want)}")  # a gap in this test


@pytest.mark.parametrize("backend, column", column_cases())
def test_cli_json_values(request, backend, column, tmp_path_factory):
    """--format json: exact decimals, base64 bytes, ISO datetimes, HH:MM:SS durations, "NaN"."""
    typed = typed_for(request, backend)
    cells = cells_of(cli_records(typed, tmp_path_factory, column))
    problems = []
    for cell_id, want in typed.truth.items():
        problem = json_problem(cells[cell_id][column], want[column]) if cell_id in cells else "missing"
        if problem:
            problems.append(f"cell {cell_id}: {problem}")
    assert not problems, "\n".join(problems)


def csv_fields(text: str) -> list[list[tuple[str, bool]]]:
    """CSV rows as (value, quoted) pairs: csv.reader cannot tell "" from an empty field."""
    rows, row, value, quoted, i = [], [], [], False, 0
    while i <= len(text):
        char = text[i] if i < len(text) else "\n"
        if char == '"' and not value and not quoted:
            quoted, i = True, i + 1
            while True:  # inside quotes: "" is a quote, a lone " ends the field
                if text[i] == '"' and text[i + 1:i + 2] == '"':
                    value.append('"')
                    i += 2
                elif text[i] == '"':
                    i += 1
                    break
                else:
                    value.append(text[i])
                    i += 1
            continue
        if char in ",\n" or (char == "\r" and text[i + 1:i + 2] == "\n"):
            row.append(("".join(value), quoted))
            value, quoted = [], False
            if char != ",":
                rows.append(row)
                row = []
                i += 1 if char == "\n" else 2
                continue
        else:
            value.append(char)
        i += 1
    return rows


def csv_rows(text: str) -> dict[str, dict[str, tuple[str, bool]]]:
    """The flat frame's CSV rows keyed by cells.id ('' for parent 3's LEFT JOIN row)."""
    header, *rows = csv_fields(text.rstrip("\n"))
    names = [name for name, _ in header]
    if "cells.id" not in names:
        raise ValueError(f"no cells.id column in {names}")
    return {dict(zip(names, row))["cells.id"][0]: dict(zip(names, row)) for row in rows}


def cli_csv(typed: Typed, tmp_path_factory, column: str | None = None) -> dict[str, dict[str, tuple[str, bool]]]:
    return cli_parsed(typed, tmp_path_factory, "csv", csv_rows, column)


@pytest.mark.parametrize("backend", backend_cases())
def test_cli_csv_null_is_an_empty_field_and_empty_text_is_quoted(request, backend, tmp_path_factory):
    typed = typed_for(request, backend)
    rows = cli_csv(typed, tmp_path_factory)
    null_id = str(null_row(typed.columns))
    for cells_column in ("cells.c_text", "cells.c_varchar"):
        if cells_column not in rows[null_id]:
            continue
        assert rows[null_id][cells_column] == ("", False), "NULL must be an empty unquoted field"
        assert rows[""][cells_column] == ("", False), "a LEFT JOIN's NULL must be an empty unquoted field"
        empty = [cell_id for cell_id, want in typed.truth.items() if want[cells_column[6:]] == ""]
        assert empty, f"{cells_column}: the matrix has no '' value"
        for cell_id in empty:
            assert rows[str(cell_id)][cells_column] == ("", True), "'' must be written as \"\""
    for name, (value, quoted) in rows[null_id].items():
        if name.startswith("cells.") and name not in ("cells.id", "cells.parent_id"):
            assert (value, quoted) == ("", False), f"{name} of the all-NULL row: {value!r} (quoted: {quoted})"


@pytest.mark.parametrize("backend, column", column_cases(lambda c: c.json_text))
def test_cli_csv_writes_json_values_as_json_text(request, backend, column, tmp_path_factory):
    typed = typed_for(request, backend)
    rows = cli_csv(typed, tmp_path_factory, column)
    problems = []
    for cell_id, want in typed.truth.items():
        if want[column] is None:
            continue
        text = rows[str(cell_id)][f"cells.{column}"][0]
        if isinstance(want[column], str) and backend == "mysql":  # MariaDB JSON: the stored text itself
            if text != want[column]:
                problems.append(f"cell {cell_id}: {text!r}, expected {want[column]!r}")
            continue
        try:
            parsed = json.loads(text, parse_float=Decimal)
        except ValueError:
            problems.append(f"cell {cell_id}: {text!r} is not JSON text")
            continue
        problem = json_problem(parsed, want[column])
        if problem:
            problems.append(f"cell {cell_id}: {text!r}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("backend, column", column_cases(lambda c: c.dtypes == ("object",)
                                                          and ("dec" in c.name or "numeric" in c.name)))
def test_cli_csv_decimals_keep_every_digit(request, backend, column, tmp_path_factory):
    typed = typed_for(request, backend)
    rows = cli_csv(typed, tmp_path_factory, column)
    problems = [f"cell {cell_id}: {rows[str(cell_id)][f'cells.{column}'][0]!r}, expected {str(want[column])!r}"
                for cell_id, want in typed.truth.items()
                if want[column] is not None and rows[str(cell_id)][f"cells.{column}"][0] != str(want[column])]
    assert not problems, "\n".join(problems)
