"""Results as text: JSON for ``records``, CSV and a table for the flat ``frame``.

What a user reads is what the database holds (SPEC "Exact values"): decimals keep every
digit, bytes are base64, datetimes ISO 8601, durations ``[-]HH:MM:SS[.ffffff]``, NaN and
infinities the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; a value of any other
type is an error naming it, never its Python repr.

>>> records_json([{"price": Decimal("500000.00"), "raw": b"\\x00"}], indent=None)
'[{"price": 500000.00, "raw": "AA=="}]'
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import math
import uuid
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import simplejson

from .errors import ExplorerError

_STRINGED = (uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network,
             ipaddress.IPv6Network, ipaddress.IPv4Interface, ipaddress.IPv6Interface)
_NULLS = (type(None), type(pd.NA), type(pd.NaT))


class OutputError(ExplorerError):
    """A value of the result has a type that cannot be written as JSON or CSV."""


def records_json(records: Any, indent: int | None = 2) -> str:
    """``records`` as strict JSON text (no bare NaN), non-ASCII kept as is.

    >>> records_json([{"n": 2**64 - 1, "x": float("nan")}], indent=None)
    '[{"n": 18446744073709551615, "x": "NaN"}]'
    """
    return _dumps(json_value(records, "records"), indent)


def json_value(value: Any, where: str = "value") -> Any:
    """``value`` as what JSON can hold: dict, list, str, int, bool, None, finite float or Decimal.

    ``where`` names the value in the error for a type that has no JSON form.

    >>> json_value({"at": dt.date(2024, 1, 2), "tags": {"b", "a"}})
    {'at': '2024-01-02', 'tags': ['a', 'b']}
    """
    if isinstance(value, dict):
        return {_key(key, where): json_value(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if _is_range(value):  # psycopg's Range: its bounds, exactly, and which ends are included
        if value.isempty:
            return "empty"
        return {"lower": json_value(value.lower, where), "upper": json_value(value.upper, where),
                "bounds": value.bounds}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray, memoryview)):  # multirange
        return [json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return _sorted([json_value(item, where) for item in value])
    if isinstance(value, _NULLS):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating, Decimal)):
        return _number(value)
    return _string(value, where)


def _is_range(value: Any) -> bool:
    return all(hasattr(value, name) for name in ("lower", "upper", "bounds", "isempty"))


def _string(value: Any, where: str) -> str:
    """The text of a value that JSON writes as a string (a str, date, duration, bytes, UUID...)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date; pandas' Timestamp a datetime
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return duration(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, _STRINGED):
        return str(value)
    kind = type(value)
    raise OutputError(f"{where}: cannot write a value of type {kind.__module__}.{kind.__qualname__}"
                      " as text; crossquery explorer knows no exact text form for it.")


def duration(value: dt.timedelta) -> str:
    """A TIME/INTERVAL value as ``[-]HH:MM:SS[.ffffff]``, hours past 24 if need be.

    >>> duration(dt.timedelta(days=-35, seconds=3600, microseconds=999999))
    '-838:59:59.000001'
    """
    if isinstance(value, pd.Timedelta):  # pandas' Timedelta may carry nanoseconds
        nanos = value.as_unit("ns").value
    else:
        nanos = value // dt.timedelta(microseconds=1) * 1000
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    seconds, fraction = divmod(nanos, 1_000_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction % 1000:
        return text + f".{fraction:09d}"
    return text + (f".{fraction // 1000:06d}" if fraction else "")


def frame_csv(frame: pd.DataFrame, json_columns: Collection[str] = ()) -> str:
    """``frame`` as CSV: NULL an empty field, an empty string ``""``, every other value exact.

    ``json_columns`` hold parsed JSON documents (psycopg parses json/jsonb): each value is
    written as JSON text, a JSON string too (``"text"`` with its quotes). Elsewhere only
    dicts and lists are, and a str is its own text (MariaDB gives a JSON column's text).

    >>> frame_csv(pd.DataFrame({"a": pd.array([None, ""], dtype="string")}))
    'a\\n\\n""\\n'
    """
    columns = [_csv_column(frame.iloc[:, i], f"column {name!r}", name in json_columns)
               for i, name in enumerate(frame.columns)]
    lines = [",".join(_csv_field(str(name)) for name in frame.columns)]
    lines += [",".join(row) for row in zip(*columns)]
    return "".join(line + "\n" for line in lines)


def frame_table(frame: pd.DataFrame) -> str:
    """``frame.to_string()`` for a terminal, through ``readable_frame``."""
    return readable_frame(frame).to_string(index=False, na_rep="<NA>")


def readable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as people read it: every NULL ``<NA>``, a NaN that is data ``NaN``, floats with
    every digit (``repr``: pandas would print 3.141593 and 0.0 for 1e-30).

    pandas alone writes ``None``/``NaT`` for NULLs in object columns and, given ``na_rep``,
    hides a real NaN as ``<NA>``; those columns are shown through their values.
    """
    shown = frame.copy(deep=False)
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if column.dtype == object or pd.api.types.is_float_dtype(column.dtype):
            cells = [_table_value(value) for value in column_values(column)]
            shown.isetitem(i, pd.Series(cells, index=frame.index, dtype=object))
    return shown


def _table_value(value: Any) -> Any:
    if value is None:
        return pd.NA  # an object column prints pd.NA as <NA> and None as None
    if _is_nan(value):
        return "NaN"
    return repr(float(value)) if isinstance(value, (float, np.floating)) else value


def _is_nan(value: Any) -> bool:
    return value.is_nan() if isinstance(value, Decimal) else _is_float_nan(value)


def _is_float_nan(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _csv_column(column: pd.Series, where: str, documents: bool) -> list[str]:
    text = document_text if documents else csv_text
    return [_csv_field(text(value, where)) for value in column_values(column)]


def column_values(column: pd.Series) -> list:
    """Python values of a column, None for its NULLs and a NaN kept where it is data.

    In a nullable ``Float64`` array a NaN under a False mask is data (PostgreSQL's
    ``'NaN'::real``) and ``<NA>`` is NULL; in a NumPy float or object column a float NaN is
    pandas' own missing marker, while a ``Decimal('NaN')`` there is data.
    """
    if column.dtype == object:
        return [None if isinstance(v, _NULLS) or _is_float_nan(v) else v for v in column.tolist()]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":
        return [None if math.isnan(v) else v for v in column.tolist()]
    return column.array.to_numpy(dtype=object, na_value=None).tolist()


def csv_text(value: Any, where: str) -> str | None:
    """The text of one CSV cell, None for NULL."""
    json_ready = json_value(value, where)
    if json_ready is None or isinstance(json_ready, str):
        return json_ready
    if isinstance(json_ready, (dict, list)):
        return _dumps(json_ready, None, compact=True)
    if isinstance(json_ready, bool):
        return "true" if json_ready else "false"
    return str(json_ready) if isinstance(json_ready, (int, Decimal)) else repr(json_ready)


def document_text(value: Any, where: str) -> str | None:
    return None if value is None else _dumps(json_value(value, where), None, compact=True)


def _csv_field(text: str | None) -> str:
    """RFC 4180 quoting, and "" for an empty string so it differs from NULL's empty field."""
    if text is None:
        return ""
    if text == "" or any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _dumps(value: Any, indent: int | None, compact: bool = False) -> str:
    # use_decimal writes a Decimal as its exact digits; allow_nan=False guards against a bare NaN
    options = {"use_decimal": True, "allow_nan": False, "indent": indent,
               "separators": (",", ":") if compact else None}
    text = simplejson.dumps(value, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (PostgreSQL json allows "\ud800"): escape it
        text = simplejson.dumps(value, ensure_ascii=True, **options)
    return text


def _number(value: float | Decimal) -> float | Decimal | str:
    if isinstance(value, Decimal):
        if value.is_finite():
            return value
        return "NaN" if value.is_nan() else ("-Infinity" if value.is_signed() else "Infinity")
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _key(key: Any, where: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return str(int(key))
    raise OutputError(f"{where}: a key of type {type(key).__qualname__} ({key!r}) "
                      "cannot be a JSON key.")


def _sorted(items: list) -> list:
    try:
        return sorted(items)
    except TypeError:  # mixed kinds: order by their JSON text, so the output is still stable
        return sorted(items, key=lambda item: _dumps(item, None, compact=True))
