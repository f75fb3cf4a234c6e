"""Exact values: every column as the server's own driver gives it, then a pandas array that holds it.

Three steps per column, each chosen once from the column's kind (``kinds``):

1. ``from_json``: the JSON strategy's values back to what the driver would have
   returned for the plain column (the same text converters PyMySQL and psycopg use);
2. ``exact``: SQLite's declared types read as SQLAlchemy users expect (ISO text as
   datetime/date, NUMERIC(p, s) as Decimal with its scale, BOOLEAN 0/1/'true'/'false'
   as bool); a value that cannot be read is an error naming the column, never None.
   Other servers' drivers already give the exact values;
3. ``frame_array``: a pandas array with a dtype that holds every value exactly, and
   ``<NA>`` as the one spelling of NULL.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from .errors import ExecutionError
from .kinds import FRAME_DTYPES, IntegralSum, is_tz_aware, json_encoding, kind_of, postgres_type_name

# -- 1. JSON strategy values -> driver values


@dataclass
class Decoding:
    """What reading values back needs from the session that read the rows, taken while it was
    open (a pooled session may be closed by the time a frame is built)."""

    timezone: Any = None                                    # PostgreSQL's TimeZone, as psycopg gives it
    loaders: dict[str, Any] = field(default_factory=dict)   # psycopg type name -> its text loader


def postgres_decoding(connection, sql_types) -> Decoding:
    """psycopg's text loaders for these column types, made in the reading session's context
    (DateStyle, IntervalStyle, time zone, registered types)."""
    from psycopg.adapt import Transformer

    transformer = Transformer(connection)
    loaders = {}
    for name in dict.fromkeys(filter(None, map(postgres_type_name, sql_types))):
        loaders[name] = _loader(transformer, connection.adapters, name)
    return Decoding(connection.info.timezone, loaders)


def _loader(transformer, adapters, name: str):
    from psycopg.pq import Format

    info = adapters.types.get(name.removesuffix("[]"))
    return transformer.get_loader(info.array_oid if name.endswith("[]") else info.oid, Format.TEXT)


def json_reader(sql_type, dialect: str, decoding: Decoding | None = None) -> Callable[[Any], Any] | None:
    """A function from one JSON-carried value (never NULL: callers keep None as None) to the value
    the driver gives for the column; None where JSON carries it as it is. ``decoding``: the
    reading session's context (``native``: an engine that hands over the driver's values)."""
    if dialect == "native":
        return None
    encoding = json_encoding(sql_type, dialect)
    if encoding == "tagged":
        return _untag
    if encoding == "hex":
        return bytes.fromhex
    if encoding in ("text", "output"):
        if dialect == "mysql" and kind_of(sql_type) in ("string", "json"):
            return None  # the text is the value PyMySQL gives
        load = _postgres_loader(sql_type, decoding) if dialect == "postgresql" else _mysql_converter(sql_type)
        return load
    return None


def read_each(convert: Callable[[Any], Any], values: Sequence) -> np.ndarray:
    """``convert(value)`` of every non-NULL value, as an object array (NULL stays None).

    Where the values repeat (a flat join repeats its parents' values; dates and amounts repeat
    anyway) and all are text, each distinct text is converted once: equal texts are the same
    value, which equal numbers are not (1 == 1.0 == True, Decimal('1.0') == Decimal('1.00')).
    """
    listed = values if isinstance(values, list) else list(values)
    if _repeat(listed[:_SAMPLE]):  # a quarter or more repeat: hashing pays
        codes, uniques = pd.factorize(object_array(listed))  # in C; NULL's code is -1
        if all(type(value) in (str, bytes) for value in uniques):
            table = np.fromiter(itertools.chain(map(convert, uniques), (None,)), dtype=object,
                                count=len(uniques) + 1)
            return table.take(codes)  # code -1 takes the None at the end
    if None in listed:
        return np.fromiter((None if value is None else convert(value) for value in listed), dtype=object,
                           count=len(listed))
    return np.fromiter(map(convert, listed), dtype=object, count=len(listed))  # no NULL: map in C


_SAMPLE = 4096  # the first values, to tell whether a column's values repeat


def _repeat(head: list) -> bool:
    try:
        return len(set(head)) * 4 <= len(head) * 3
    except TypeError:  # a list (SQLite's tagged values in JSON) does not hash
        return False


def _untag(value):
    if isinstance(value, list):  # ["r", "<digits>"] or ["b", "<hex>"], see kinds
        tag, text = value
        if tag == "R":
            raise ValueError(f"a REAL of about {text} is beyond what SQLite's printf writes exactly")
        return float(text) if tag == "r" else bytes.fromhex(text)
    return value


# MySQL's text of a DATE / DATETIME value in its plain form (what CAST(... AS CHAR) writes).
DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
_PLAIN_DATE, _PLAIN_DATETIME = re.compile(DATE_TEXT, re.ASCII), re.compile(DATETIME_TEXT, re.ASCII)


def _mysql_converter(sql_type) -> Callable[[str], Any]:
    """PyMySQL's own converter for the column's field type (the text protocol's values)."""
    from pymysql import converters
    from sqlalchemy.dialects import mysql

    kind = kind_of(sql_type)
    if isinstance(sql_type, mysql.YEAR) or kind == "int":
        return int
    return {"decimal": decimal.Decimal, "float": float, "datetime": _mysql_datetime,
            "date": _mysql_date, "time": converters.convert_timedelta}.get(kind, str)


def _plain_first(plain: re.Pattern, parse: Callable[[str], Any], converter: str) -> Callable[[str], Any]:
    """PyMySQL's ``converters.<converter>``, with text in the plain form parsed in C by ``parse``
    (the same digits, a fraction padded to microseconds); anything else (a zero or invalid
    date, which PyMySQL keeps as text) goes to PyMySQL's converter itself."""

    def read(text: str):
        if plain.fullmatch(text):
            try:
                return parse(text)
            except ValueError:
                pass
        from pymysql import converters

        return getattr(converters, converter)(text)

    return read


_mysql_datetime = _plain_first(_PLAIN_DATETIME, dt.datetime.fromisoformat, "convert_datetime")
_mysql_date = _plain_first(_PLAIN_DATE, dt.date.fromisoformat, "convert_date")


def pymysql_converter(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` itself, or for PyMySQL's own DATETIME and DATE converters the equal one above
    that parses the plain form in C (5x faster; tests/test_fast_paths.py holds them equal)."""
    from pymysql import converters

    return {converters.convert_datetime: _mysql_datetime, converters.convert_date: _mysql_date}.get(convert, convert)


def _postgres_loader(sql_type, decoding: Decoding | None) -> Callable[[str], Any]:
    """psycopg's text loader for the column's type, from the reading session where it was made."""
    import psycopg
    from psycopg.adapt import Transformer

    name = postgres_type_name(sql_type)
    loader = (decoding.loaders.get(name) if decoding else None) or \
        _loader(Transformer(), psycopg.adapters, name)
    return lambda text: loader.load(text.encode())


# -- 2. exact values


def exact_reader(sql_type, dialect: str) -> Callable[[Sequence, str], list] | None:
    """A function (values, where) -> exact values for the column; None when the driver's are exact."""
    if isinstance(sql_type, IntegralSum):
        return _each(_whole_number, "a whole number")
    if dialect != "sqlite":
        return None
    kind = kind_of(sql_type)
    if kind == "datetime":
        return _each(_sqlite_datetime, "a datetime")
    if kind == "date":
        return _each(_sqlite_date, "a date")
    if kind == "time":
        return _each(_sqlite_time, "a time")
    if kind == "bool":
        return _each(_sqlite_bool, "a boolean (0, 1, 'true' or 'false')")
    if kind == "decimal":
        quantum = decimal.Decimal(1).scaleb(-sql_type.scale) if getattr(sql_type, "scale", None) else None
        return _each(lambda v: _sqlite_decimal(v, quantum), "a decimal number")
    return None


def _whole_number(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | decimal.Decimal | float):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    whole = int(value)
    if whole != value:  # a sum of integers is whole: anything else is not what it claims
        raise ValueError(value)
    return whole


def _each(convert, what: str):
    def read(values: Sequence, where: str) -> np.ndarray:
        def checked(value):
            try:
                return convert(value)
            except (ValueError, TypeError, decimal.InvalidOperation):
                raise ExecutionError(f"{where}: the value {value!r} cannot be read as {what}; "
                                     "fix the stored value, or declare the column with the type "
                                     "it holds.") from None

        return read_each(checked, values)  # a flat join repeats its parents' texts: each read once

    return read


_BEYOND_MICROSECONDS = re.compile(r"[.,]\d{6}\d*[1-9]")


def _sqlite_datetime(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or _BEYOND_MICROSECONDS.search(value):  # datetime keeps 6 digits
        raise ValueError(value)
    return dt.datetime.fromisoformat(value)  # offsets ('+02:00', 'Z') give tz-aware values


def _sqlite_date(value) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    return dt.date.fromisoformat(value)


def _sqlite_time(value) -> dt.time:
    if not isinstance(value, str):
        raise ValueError(value)
    return dt.time.fromisoformat(value)


_TRUE, _FALSE = {"1", "true", "t"}, {"0", "false", "f"}


def _sqlite_bool(value) -> bool:
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(value)


_WIDE = decimal.Context(prec=1000)  # quantizing a big REAL must not overflow the default 28 digits


def _sqlite_decimal(value, quantum) -> decimal.Decimal:
    # SQLite keeps NUMERIC as INTEGER or REAL and enforces no scale: the declared scale is shown
    # where it adds only zeros (31.4 -> 31.40); a stored 1.234 stays 1.234, never rounded.
    if isinstance(value, bool) or not isinstance(value, int | float | str | decimal.Decimal):
        raise ValueError(value)
    number = decimal.Decimal(repr(value) if isinstance(value, float) else value)
    if quantum is None or not number.is_finite():
        return number
    padded = number.quantize(quantum, context=_WIDE)
    return padded if padded == number else number


# -- 3. frames

# What pandas.api.types.infer_dtype must say of a column's values for its dtype to hold them as
# they are ("empty": only NULLs); anything else stays object, so nothing is cast silently.
_INFERRED = {"int": {"integer"}, "uint64": {"integer"}, "bool": {"boolean"}, "float": {"floating"},
             "string": {"string"}, "datetime": {"datetime"}}


def frame_array(values: Sequence, sql_type, zone=None) -> Any:
    """A pandas array holding ``values`` exactly, with <NA> (NaT for datetimes) for NULL.

    ``zone``: the session's time zone, for a tz-aware column that holds only NULLs."""
    values = object_array(values)
    kind = kind_of(sql_type)
    inferred = infer_dtype(values, skipna=True)
    if kind == "unknown":
        kind = next((k for k in ("int", "string") if inferred in _INFERRED[k]), "other")
    if kind in _INFERRED and inferred in _INFERRED[kind] | {"empty"}:
        try:
            if kind == "float":
                return _floats(values)
            if kind in ("int", "uint64"):
                return _integers(values, np.int64 if kind == "int" else np.uint64)
            if kind == "datetime":
                return _datetimes(values, is_tz_aware(sql_type), zone)
            return pd.array(values, dtype=FRAME_DTYPES[kind])
        except (TypeError, ValueError, OverflowError):
            pass  # e.g. integers beyond the dtype, several time zones: keep the objects
    return _objects(values)


def object_array(values: Sequence) -> np.ndarray:
    """``values`` as a 1-d object array (element-wise, so lists and dicts stay single values)."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    if isinstance(values, list):  # iterated in C; slice assignment probes every date and Decimal (10x)
        return np.fromiter(values, dtype=object, count=len(values))
    array = np.empty(len(values), dtype=object)  # an array of numbers: Python numbers, not numpy's
    array[:] = values
    return array


def transpose(rows: list[tuple], width: int) -> list[np.ndarray]:
    """Row tuples to one object array per column, in C (a Python zip is several times slower)."""
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(width)]
    matrix = np.empty((len(rows), width), dtype=object)
    matrix[:] = rows  # element-wise, so tuples holding lists or dicts stay single values
    return [matrix[:, i] for i in range(width)]


def _objects(values: np.ndarray) -> Any:
    array = values.copy()
    array[_nones(array)] = pd.NA
    return pd.arrays.NumpyExtensionArray(array)


def na_as_none(objects: np.ndarray) -> np.ndarray:
    """An object array with pandas' <NA> as None (the driver's NULL); NaN, a value, stays.
    pandas' C null check finds the candidates; only those few are looked at one by one."""
    missing = np.flatnonzero(pd.isna(objects))
    if len(missing):
        objects = objects.copy()
        objects[missing] = [None if v is pd.NA else v for v in objects[missing]]
    return objects


def _nones(values: np.ndarray) -> np.ndarray:
    """Where ``values`` holds None (not NaN, which is a value): pandas' C null check, then a look
    at the few it found (``== None`` would call every value's __eq__)."""
    missing = pd.isna(values)
    if missing.any():
        found = np.flatnonzero(missing)
        missing[found] = [v is None for v in values[found]]
    return missing


def _integers(values: np.ndarray, dtype) -> Any:
    """Int64 / UInt64 from Python ints, converted in C (``pd.array`` takes one object at a time,
    10x slower). A value beyond the dtype, or a NaN, raises: the caller keeps the objects."""
    missing = _nones(values)
    data = values.copy()
    data[missing] = 0
    return pd.arrays.IntegerArray(data.astype(dtype), missing)


def _floats(values: np.ndarray) -> Any:
    """Float64 that keeps NaN (a value the server holds) apart from <NA> (NULL)."""
    missing = _nones(values)
    data = values.copy()
    data[missing] = 0.0
    return pd.arrays.FloatingArray(data.astype(float), missing)


def _datetimes(values: np.ndarray, aware: bool, zone=None) -> Any:
    index = pd.DatetimeIndex(values)  # raises on naive and aware mixed
    if index.tz is None and aware:
        index = index.tz_localize(zone or "UTC")  # only NULLs: still the column's tz-aware dtype
    return index.as_unit("us").array


def arrow_frame_array(column, sql_type) -> Any:
    """The frame array straight from an Arrow column, for the kinds Arrow hands over without a
    Python object per value; None for the others (they go through ``frame_array``)."""
    import pyarrow as pa

    kind, arrow_type = kind_of(sql_type), column.type
    if kind == "int" and pa.types.is_integer(arrow_type):
        return column.to_pandas(types_mapper=lambda t: pd.Int64Dtype()).array.astype("Int64")
    if kind == "float" and pa.types.is_float64(arrow_type):
        return column.to_pandas(types_mapper=lambda t: pd.Float64Dtype()).array
    if kind == "string" and (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)):
        return column.to_pandas(types_mapper=lambda t: pd.StringDtype("python")).array
    if kind == "datetime" and pa.types.is_timestamp(arrow_type) and arrow_type.tz is None:
        return pd.DatetimeIndex(column.to_pandas()).as_unit("us").array
    return None
