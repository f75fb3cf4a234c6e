"""The Arrow fast path: the same ONE statement read by connectorx (Rust) straight into Arrow.

PyMySQL decodes every value in Python, which dominates large results (about 6x
slower than the C client for 1M rows, see shared/MEASURED.md). connectorx reads
the same statement into Arrow columns. It keeps the driver path's promises:

* one statement: with ``return_type="arrow"`` connectorx sends no count query;
* read-only: the session is set read-only before the statement runs;
* timeout: the same bounded statement as the driver path (``SET STATEMENT ... FOR``);
* row cap: ``sql_select_limit`` stops the server after max_rows + 1 rows;
* Ctrl-C: the statement carries a marker comment, and KILL QUERY finds it by it;
* secrets: connectorx errors are scrubbed of the password;
* exact values: only columns whose type connectorx carries exactly are read here
  (``arrow_unfit``), and the Arrow columns are turned back into what PyMySQL
  returns for them (``Execution.columns``).

connectorx has no parameter API, so values are inlined as SQL literals by
SQLAlchemy with the server's own escaping rules. ``reader: auto`` therefore
takes this path only for statements without values; ``reader: arrow`` asks
for it always.

What connectorx 0.4.6 does with MariaDB 10.11's types (it reads with the binary
protocol; the truth is PyMySQL's text protocol), as measured for the allow-list below:

* integers: exact (int8 ... int64, uint8 ... uint64);
* ``DOUBLE``: exact (the text protocol prints the shortest round-trip digits);
  ``DOUBLE(M,D)`` is not: the text protocol shows D decimals, the binary one the
  stored double (-0.061754 vs -0.061753999999999976);
* ``FLOAT``: widened to double (3.14159 -> 3.141590118408203);
* ``DECIMAL(p,s)``: parsed into rust_decimal (96 bits) and rescaled to scale 10:
  exact only for s <= 10 and p - s <= 18 (then cast back to scale s here); a
  larger scale is rounded silently, more integer digits fail or panic;
* ``DATE``, ``DATETIME``, ``TIMESTAMP``: exact (microseconds, years 1000-9999,
  the session's time zone as PyMySQL sees it), but a zero date ('0000-00-00')
  panics, where PyMySQL returns the text: that run fails with ``ArrowReadError``;
* ``TIME``: panics outside 00:00:00-23:59:59.999999;
* text, ENUM, SET, MariaDB JSON (LONGTEXT): exact;
* ``YEAR``, ``BIT``, ``BLOB``/``BINARY``/``VARBINARY``, ``BIGINT UNSIGNED``: exact too,
  but kept off the fast path for now (the shaping code reads ``Execution.arrow``
  for speed and does not handle them yet; see ``_HELD_BACK``).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.expression import ColumnClause

from ..compile import Compiled
from ..config import Config
from ..decode import DATE_TEXT, DATETIME_TEXT
from ..diagnose import statement_error
from ..errors import ExecutionError
from ..statement import render, schema_map
from .base import server_error
from .run import Execution, interruptible, row_cap_error

# Decimals: connectorx keeps s <= 10 fraction digits and p - s <= 18 integer digits exactly.
DECIMAL_MAX_SCALE = 10
DECIMAL_MAX_INTEGER_DIGITS = 18

_SIGNED_INTEGERS = (mysql.TINYINT, mysql.SMALLINT, mysql.MEDIUMINT, mysql.INTEGER, mysql.BIGINT)
_UNSIGNED_INTEGERS = (mysql.TINYINT, mysql.SMALLINT, mysql.MEDIUMINT, mysql.INTEGER)  # fit int64
_TEXT = (mysql.CHAR, mysql.VARCHAR, mysql.NCHAR, mysql.NVARCHAR, mysql.TINYTEXT, mysql.TEXT,
         mysql.MEDIUMTEXT, mysql.LONGTEXT, mysql.ENUM, mysql.SET)
_DECIMALS = (mysql.DECIMAL, mysql.NUMERIC)
# Verified exact through connectorx, but not offered until the shaping code reads them exactly.
_HELD_BACK = (mysql.YEAR, mysql.BIT, mysql.BLOB, mysql.TINYBLOB, mysql.MEDIUMBLOB, mysql.LONGBLOB,
              mysql.BINARY, mysql.VARBINARY)

# Why a column is refused, by type (the first match wins).
_REASONS = (
    (mysql.FLOAT, "connectorx widens FLOAT to double"),
    ((mysql.DOUBLE, mysql.REAL), "connectorx gives the stored double, not the D decimals PyMySQL shows"),
    (_DECIMALS, (f"connectorx keeps at most {DECIMAL_MAX_SCALE} decimals and "
                 f"{DECIMAL_MAX_INTEGER_DIGITS} integer digits exactly")),
    (sa.Time, "connectorx fails on durations outside 00:00-24:00"),
    (mysql.BIGINT, "not offered on the Arrow reader yet (values past 2**63)"),
    (_HELD_BACK, "not offered on the Arrow reader yet"),
)


class ArrowReadError(ExecutionError):
    """connectorx failed to read or convert a value that the driver reads (a zero date, say).

    ``kind`` is ``"arrow_value"``: the statement is fine, the driver path reads it.
    """

    kind = "arrow_value"


# -- which columns the Arrow reader may carry


def has_connectorx() -> bool:
    import importlib.util

    return importlib.util.find_spec("connectorx") is not None


def arrow_unfit(config: Config, compiled: Compiled) -> list[str]:
    """The labels of the statement's columns that connectorx cannot carry exactly (empty: all fit).

    Decided from the reflected SQLAlchemy types of ``compiled.statement``'s columns
    against an allow-list verified on MariaDB 10.11 (see the module doc). A column
    that is not a plain table column (an expression, an aggregate) is unfit, since
    its SQLAlchemy type need not be what the server sends; the JSON strategy's
    include columns are JSON text, which connectorx passes through as the driver does.
    """
    aggregates = _aggregates_by_label(compiled)
    return [label for label, column in compiled.statement.selected_columns.items()
            if not (_aggregate_fits(config, aggregates[label]) if label in aggregates else _fits(column))]


def _aggregates_by_label(compiled: Compiled) -> dict:
    """label -> Aggregate, for the statement's aggregate columns (see explorer.aggregates)."""
    found = {}
    for node in getattr(compiled, "layout", ()):  # a bare statement (tests) has no aggregates
        found.update({label: compiled.query.aggregate(node.path, column)
                      for column, label in zip(node.columns, node.labels) if column in node.aggregates})
    return found


def _aggregate_fits(config: Config, aggregate) -> bool:
    """Counts are BIGINT and avg a DOUBLE on MariaDB; min and max have their column's type. A sum
    is a DECIMAL whose width connectorx picks for itself (decimal128(38, 10) for integers): the
    driver reads it."""
    if aggregate.function in ("count", "count_distinct", "avg"):
        return True
    if aggregate.function in ("min", "max"):
        return _type_fits(config.column_type(aggregate.model, aggregate.column))
    return False


def arrow_refusal(compiled: Compiled, labels: Sequence[str]) -> ExecutionError:
    """The error for ``reader: arrow`` on a statement with the unfit columns ``labels``."""
    columns = compiled.statement.selected_columns
    described = [f"{label} ({_describe(columns[label])})" if label in columns else label for label in labels]
    return ExecutionError(
        f"reader: arrow cannot carry these columns exactly: {', '.join(described)}; "
        "use reader: driver (or auto, which reads them with the driver)."
    )


def _fits(column) -> bool:
    from ..compile_json import json_text

    element = getattr(column, "element", column)  # a Label's column
    if isinstance(element, json_text):
        return True  # the JSON strategy's include: text (or bytes), passed through unchanged
    if not isinstance(element, ColumnClause) or getattr(element, "is_literal", False):
        return False
    return _type_fits(column.type)


def _type_fits(sql_type) -> bool:
    cls = type(sql_type)
    if cls in _SIGNED_INTEGERS:
        return not getattr(sql_type, "unsigned", False) or cls in _UNSIGNED_INTEGERS
    if cls is mysql.DOUBLE:
        return sql_type.scale is None
    if cls in _DECIMALS:
        precision, scale = sql_type.precision, sql_type.scale
        return (precision is not None and scale is not None and scale <= DECIMAL_MAX_SCALE
                and precision - scale <= DECIMAL_MAX_INTEGER_DIGITS)
    if cls in _TEXT:
        return getattr(sql_type, "charset", None) != "binary"
    return cls in (sa.DATE, mysql.DATE, mysql.DATETIME, mysql.TIMESTAMP)


def _describe(column) -> str:
    """``DECIMAL(65, 30): why`` for the refusal message."""
    sql_type = column.type
    if isinstance(sql_type, sa.types.NullType):
        return ("type unknown: the model lists columns: (not reflected), or SQLAlchemy does not know "
                "the server's type")
    try:
        name = sql_type.compile(dialect=mysql.dialect())
    except Exception:  # noqa: BLE001 - a type without a MySQL spelling
        name = type(sql_type).__name__
    element = getattr(column, "element", column)
    if not isinstance(element, ColumnClause):
        return f"{name}, an expression whose server type is not known here"
    reason = next((why for classes, why in _REASONS if isinstance(sql_type, classes)),
                  "not verified to read exactly through connectorx")
    return f"{name}: {reason}"


# -- the read


class _ArrowRun:
    """One connectorx read, shaped like the driver path's run so Ctrl-C handling is shared."""

    def __init__(self, url: str, sql: str, setup: list[str], cancel):
        self.url, self.sql, self.setup, self._cancel = url, sql, setup, cancel

    def __call__(self):
        import connectorx

        return connectorx.read_sql(self.url, self.sql, return_type="arrow", pre_execution_query=self.setup)

    def cancel(self) -> None:
        self._cancel()

    def abandon(self) -> None:
        pass  # connectorx's session is its own; the KILL QUERY above ends its statement


def execute_arrow(config: Config, compiled: Compiled, values: dict[str, Any], databases: list[str],
                  timeout: float, max_rows: int) -> Execution:
    """Run the statement through connectorx; ``Execution.columns`` holds the driver's values.

    Refuses (``arrow_refusal``) a statement with columns that connectorx cannot carry
    exactly; every connectorx failure, a Rust panic included, is an ExecutionError.
    """
    unfit = arrow_unfit(config, compiled)
    if unfit:
        raise arrow_refusal(compiled, unfit)
    backend, engine = config.backend(databases[0]), config.engine(databases[0])
    database = config.databases[databases[0]]
    try:
        with engine.connect() as connection:  # the driver's session tells MariaDB from MySQL
            sql = render(config, dates_as_text(compiled), values, connection.dialect,
                         schema_map(config, databases), literal=True).sql
            setup, sent = backend.bounded(connection, sql, timeout)
    except sa.exc.DBAPIError as exc:
        raise server_error(database, exc, "connect to", config.secrets) from None
    marker = f"crossquery:{uuid.uuid4().hex}"
    sent = f"/* {marker} */ {sent}"
    session = [*backend.session_setup(), *setup, f"SET SESSION sql_select_limit = {max_rows + 1}"]
    run = _ArrowRun(backend.arrow_url(database.url), sent, session,
                    cancel=lambda: backend.cancel_marked(engine, marker))
    started = time.perf_counter()
    table = read_table(config, database, run, sql, timeout, compiled)
    if table.num_rows > max_rows:
        raise row_cap_error(max_rows)
    labels = [label for node in compiled.layout for label in node.labels] \
        if compiled.strategy == "join" else table.column_names
    columns = ArrowColumns(config, database, table, list(compiled.statement.selected_columns))
    return Execution(labels, None, sql, {}, engine.dialect.name, databases, time.perf_counter() - started,
                     extra={"sent": sent, "setup": session}, arrow=table, reader="arrow", columns=columns)


def read_table(config: Config, database, run, sql: str, timeout: float, compiled: Compiled | None = None):
    """``run()`` (a connectorx read) in the interruptible worker; every failure an ExecutionError.

    connectorx panics (pyo3's PanicException, a BaseException) on values it cannot
    convert, e.g. a zero date or a TIME past 24 h: those escape ``except Exception``
    everywhere, so they are caught here. Only Ctrl-C (KeyboardInterrupt, which
    QueryInterrupted is) and SystemExit pass through.
    """
    try:
        return interruptible(run)
    except (KeyboardInterrupt, SystemExit, ExecutionError):
        raise
    except Exception as exc:  # noqa: BLE001 - connectorx raises plain RuntimeErrors
        raise statement_error(config, compiled, database, exc, "run the query (Arrow reader) on", sql,
                              timeout) from None
    except BaseException as exc:  # noqa: BLE001 - a Rust panic inside connectorx
        raise _unreadable(config, database, exc, sql) from None


def _unreadable(config: Config, database, exc: BaseException, sql: str | None,
                label: str | None = None) -> ArrowReadError:
    where = f"column {label} of the result" if label else "the result"
    error = server_error(database, exc, f"read {where} (Arrow reader) of", config.secrets, sql=sql,
                         detail="connectorx could not convert a value that the driver reads (a zero "
                                "date such as '0000-00-00' does this); use reader: driver")
    return ArrowReadError(str(error), sql=sql)


# -- Arrow columns -> the driver's values


def dates_as_text(compiled: Compiled) -> Compiled:
    """The statement with DATE/DATETIME/TIMESTAMP columns read as their text.

    connectorx panics on values MySQL keeps but Python's dates cannot hold (zero dates
    such as '0000-00-00', invalid ones under ALLOW_INVALID_DATES); as text, PyMySQL's own
    converters read them back exactly as the driver path does (a zero date stays a str).
    """
    columns = [sa.cast(column.element, sa.CHAR).label(column.name)
               if isinstance(column.type, sa.DateTime | sa.Date) and isinstance(column, sa.Label) else column
               for column in compiled.statement.selected_columns]
    statement = compiled.statement.with_only_columns(*columns, maintain_column_froms=False)
    return dataclasses.replace(compiled, statement=statement)


class ArrowColumns:
    """The Arrow table's columns as the driver's values, each converted on first access: the
    frames take most columns straight from Arrow and never need the Python values."""

    def __init__(self, config: Config, database, table, selected: list):
        if table.num_columns != len(selected):
            raise ExecutionError(f"The Arrow reader returned {table.num_columns} columns for a "
                                 f"statement of {len(selected)}; use reader: driver.")
        self._args, self._table, self._selected = (config, database), table, selected
        self._done: dict[int, list] = {}

    def __len__(self) -> int:
        return self._table.num_columns

    def __getitem__(self, index: int) -> list:
        if index not in self._done:
            self._done[index] = _converted(*self._args, self._table.column(index), self._selected[index])
        return self._done[index]

    def __iter__(self):
        return (self[index] for index in range(len(self)))


def _converted(config: Config, database, column, selected) -> list:
    try:
        return column_values(column, selected)
    except ExecutionError:
        raise
    except Exception as exc:  # noqa: BLE001 - an Arrow cast that would lose data
        raise _unreadable(config, database, exc, None, getattr(selected, "name", None)) from None


def column_values(column, selected) -> list:
    """The driver's values for one Arrow column (a ChunkedArray) of the selected column ``selected``.

    Checks that connectorx sent the Arrow type measured for the SQL type: any other is
    an error, never a guess.
    """
    import pyarrow as pa

    from ..compile_json import json_text

    sql_type, arrow_type = selected.type, column.type
    if isinstance(getattr(selected, "element", None), json_text):  # JSON text (bytes if binary)
        _expect(_is_text(arrow_type) or pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type),
                selected, arrow_type)
        return column.to_pylist()
    if isinstance(sql_type, _DECIMALS):
        _expect(pa.types.is_decimal(arrow_type), selected, arrow_type)
        exact = column.cast(pa.decimal128(38, sql_type.scale))  # a safe cast: raises rather than rounds
        return [value for chunk in exact.chunks for value in _distinct_once(chunk)]
    if isinstance(sql_type, sa.Integer):
        _expect(pa.types.is_integer(arrow_type), selected, arrow_type)
        return column.to_pylist()
    if isinstance(sql_type, mysql.DOUBLE) or type(sql_type) is sa.Float:  # sa.Float: an avg, a DOUBLE
        _expect(pa.types.is_float64(arrow_type), selected, arrow_type)
        return column.to_pylist()
    if isinstance(sql_type, sa.DateTime | sa.Date) and _is_text(arrow_type):  # see dates_as_text
        return _dates_from_text(column, isinstance(sql_type, sa.DateTime))
    if isinstance(sql_type, sa.DateTime):
        _expect(pa.types.is_timestamp(arrow_type) and arrow_type.tz is None, selected, arrow_type)
        return _via_numpy(column.cast(pa.timestamp("us")))
    if isinstance(sql_type, sa.Date):
        _expect(pa.types.is_date(arrow_type), selected, arrow_type)
        return _via_numpy(column.cast(pa.date32()))
    if isinstance(sql_type, sa.String):
        _expect(_is_text(arrow_type), selected, arrow_type)
        return column.to_pylist()
    _expect(False, selected, arrow_type)


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _expect(condition: bool, selected, arrow_type) -> None:
    if not condition:
        raise ExecutionError(f"The Arrow reader returned {arrow_type} for {getattr(selected, 'name', '?')} "
                             f"({selected.type!r}), which cannot be turned back into the driver's "
                             "values; use reader: driver.")


def _dates_from_text(column, with_time: bool) -> list:
    """MariaDB's text of DATE / DATETIME columns as PyMySQL reads it.

    A chunk whose every text is a plain, valid date is parsed by Arrow in C (as PyMySQL
    would: the same digits, fractions padded to microseconds); a chunk holding anything
    else (a zero date '0000-00-00', an invalid one) goes value by value through PyMySQL's
    own converters, which keep such a value as its text.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pymysql.converters import convert_date, convert_datetime

    convert, target = (convert_datetime, pa.timestamp("us")) if with_time else (convert_date, pa.date32())
    values: list = []
    for chunk in column.chunks:
        plain = pc.all(pc.match_substring_regex(chunk, DATETIME_TEXT if with_time else DATE_TEXT))
        parsed = None
        if plain.as_py() is not False:  # True, or None for a chunk of only NULLs
            try:
                parsed = chunk.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a day past the month's end, ...
                parsed = None
        if parsed is None:
            values += [None if text is None else convert(text) for text in chunk.to_pylist()]
        else:
            values += _via_numpy(pa.chunked_array([parsed], type=target))
    return values


def _via_numpy(column) -> list:
    """datetime64[us] / [D] -> datetime.datetime / datetime.date (None for NULL): ~15x to_pylist."""
    values = []
    for chunk in column.chunks:
        values.extend(chunk.to_numpy(zero_copy_only=False).astype(object).tolist())
    return values


def _distinct_once(chunk) -> list:
    """``chunk.to_pylist()``, building each distinct value once where values repeat (a flat
    join repeats every parent's columns): 1M rows of 1,000 prices make 1,000 Decimals."""
    import numpy as np

    encoded = chunk.dictionary_encode()
    if len(encoded.dictionary) * 2 > len(chunk):
        return chunk.to_pylist()
    distinct = np.empty(len(encoded.dictionary) + 1, dtype=object)  # the last one: NULL
    distinct[:-1] = encoded.dictionary.to_pylist()
    indices = encoded.indices.fill_null(len(distinct) - 1).to_numpy(zero_copy_only=False)
    return distinct[indices].tolist()
