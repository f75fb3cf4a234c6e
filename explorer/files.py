"""Results as files: a Parquet or CSV file per frame, an Excel workbook with a sheet per frame,
or the records as one JSON file.

What a user reads is what the database holds (SPEC "Exact values"), in every format:

* Parquet: each column gets an explicit Arrow type, never pandas' guess: decimals are
  ``decimal128``/``decimal256`` wide enough for every value, tz-aware timestamps keep their
  zone, ``UInt64`` stays ``uint64`` past 2**63, bytes are ``binary``, durations ``duration``;
  JSON documents, PostgreSQL ``timetz``, UUIDs and addresses are their text.
* CSV: ``--format csv``'s rules (``textout.frame_csv``) for every frame.
* Excel: numbers, booleans and naive dates and times where Excel holds them exactly; a
  column with a value it cannot hold is written as its CSV text: decimals and integers of
  more than 15 significant digits (all Excel keeps of a number), NaN and infinities, dates
  before 1900 or finer than a millisecond, and every tz-aware datetime (Excel has no time
  zones: ISO 8601 with the offset, never a shifted wall clock). The ``index`` sheet names
  the frame on each sheet and the columns written as text.

A value that no form of the format holds exactly is an error naming the frame and the
column, never a changed value.

>>> explorer.files.to_parquet(result, "out")  # doctest: +SKIP
{'User': PosixPath('out/User.parquet'), 'orders': PosixPath('out/orders.parquet')}
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from .kinds import kind_of
from .textout import OutputError, column_values, csv_text, document_text, frame_csv, records_json

__all__ = ["OutputError", "json_labels", "sheet_names", "to_csv", "to_excel", "to_json", "to_parquet"]

# Servers whose driver parses JSON columns (psycopg); PyMySQL and sqlite3 give the stored text.
PARSED_JSON_DIALECTS = ("postgresql",)
INDEX_SHEET = "index"
EXCEL_DIGITS = 15                       # significant digits Excel keeps of a number
EXCEL_MAX, EXCEL_MIN = 9.99999999999999e307, 2.2250738585072014e-308
EXCEL_ROWS, EXCEL_TEXT = 1_048_576, 32_767
ARROW_DIGITS = 76                       # decimal256's widest precision
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10))}


# -- the public functions


def to_parquet(result, folder: str | Path) -> dict[str, Path]:
    """Write one Parquet file per frame, ``<folder>/<frame>.parquet``; return frame -> file.

    Every frame is converted before any file is written, so a value Parquet cannot hold
    leaves no half-written folder. ``pandas.read_parquet`` gives the frames' dtypes back.
    """
    pq = _require("pyarrow.parquet", "to_parquet", "fast")
    info = frame_columns(result)
    tables = {name: arrow_table(frame, name, *info[name]) for name, frame in result.frames.items()}
    paths = file_paths(folder, list(tables), ".parquet")
    for name, path in paths.items():
        with _writing(path):
            pq.write_table(tables[name], path)
    return paths


def to_csv(result, folder: str | Path) -> dict[str, Path]:
    """Write one CSV file per frame, ``<folder>/<frame>.csv`` (UTF-8); return frame -> file.

    As ``crossquery run --format csv``: NULL an empty field, an empty string ``""``, decimals
    with every digit, datetimes ISO 8601 (with the offset when tz-aware), JSON as JSON text.
    """
    info = frame_columns(result)
    texts = {name: frame_csv(frame, info[name][1]) for name, frame in result.frames.items()}
    paths = file_paths(folder, list(texts), ".csv")
    for name, path in paths.items():
        with _writing(path):
            path.write_text(texts[name], encoding="utf-8", newline="")
    return paths


def to_json(result, path: str | Path) -> Path:
    """Write ``result.records`` as the strict JSON ``crossquery run --format json`` prints."""
    path = Path(path).expanduser()
    text = records_json(result.records) + "\n"
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


def to_excel(result, path: str | Path) -> Path:
    """Write one sheet per frame and a last sheet, ``index``, saying which sheet is which frame.

    Sheet names are the frame names made legal for Excel (see ``sheet_names``). A column
    Excel cannot hold exactly as numbers or dates is written as text, listed in the index.
    """
    openpyxl = _require("openpyxl", "to_excel", "excel")
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    sheets, info = sheet_names(list(result.frames)), frame_columns(result)
    index = [("sheet", "frame", "rows", "columns written as text")]
    for name, frame in result.frames.items():
        as_text = write_sheet(workbook.create_sheet(sheets[name]), frame, name, *info[name])
        index.append((sheets[name], name, len(frame), ", ".join(as_text) or None))
    _write_rows(workbook.create_sheet(INDEX_SHEET), index)
    path = Path(path).expanduser()
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        workbook.save(path)
    return path


# -- what each frame column is


def json_labels(result) -> list[str]:
    """Flat labels of the columns holding parsed JSON documents, which text forms write as JSON
    text throughout (a JSON string too, with its quotes)."""
    config, types = result.config, result.compiled.column_types(result.config)
    parsed = {node.model for node in result.compiled.layout  # models whose driver parses JSON
              if config.backend(config.models[node.model].database).name in PARSED_JSON_DIALECTS}
    models = {label: node.model for node in result.compiled.layout for label in node.labels}
    return [label for label, sql_type in types.items()
            if isinstance(sql_type, sa.JSON) and models.get(label) in parsed]


def frame_columns(result) -> dict[str, tuple[dict[str, Any], set[str]]]:
    """Frame -> (its columns' SQLAlchemy types, the parent's key too; the columns holding JSON)."""
    types, documents = result.compiled.column_types(result.config), set(json_labels(result))
    layout = {node.path: node for node in result.compiled.layout}
    info: dict = defaultdict(lambda: ({}, set()))  # a frame the layout does not name: nothing known
    for node in layout.values():
        labels = dict(zip(node.columns, node.labels))
        parent = layout.get(node.parent) if node.parent is not None else None
        for label in parent.key_labels if parent else ():  # named <parent frame>.<key> (see shape)
            labels[f"{parent.frame_name}.{label.rsplit('.', 1)[-1]}"] = label
        info[node.frame_name] = ({column: types.get(label) for column, label in labels.items()},
                                 {column for column, label in labels.items() if label in documents})
    return info


_VALUE_KINDS = (  # first match wins: bool before int, datetime before date
    ((bool, np.bool_), "bool"), ((int, np.integer), "int"), ((float, np.floating), "float"),
    (Decimal, "decimal"), (str, "string"), ((bytes, bytearray, memoryview), "bytes"),
    (dt.datetime, "datetime"), (dt.date, "date"), (dt.time, "time"), (dt.timedelta, "duration"),
)


def value_kinds(values: list) -> set[str]:
    """The kinds of a column's non-NULL values; ``text`` for the rest (dicts, lists, UUIDs,
    addresses, ranges: what textout writes as text), ``aware`` when a datetime or time has a zone."""
    kinds = set()
    for value in values:
        if value is not None:
            kind = next((kind for cls, kind in _VALUE_KINDS if isinstance(value, cls)), "text")
            if kind in ("datetime", "time") and value.utcoffset() is not None:
                kind += " aware"
            kinds.add(kind)
    return kinds


# -- Parquet


def arrow_table(frame: pd.DataFrame, name: str, types: dict[str, Any], documents: set[str]):
    """The frame as a pyarrow Table, each column with the Arrow type that holds it exactly."""
    import pyarrow as pa

    arrays = [arrow_array(frame.iloc[:, i], f"frame {name!r}, column {column!r}", types.get(column),
                          column in documents) for i, column in enumerate(frame.columns)]
    schema = pa.schema([pa.field(str(column), array.type) for column, array in zip(frame.columns, arrays)])
    metadata = {**_pandas_metadata(frame, schema), b"crossquery.frame": name.encode("utf-8")}
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(metadata))


def _pandas_metadata(frame: pd.DataFrame, schema) -> dict:
    """pandas' own metadata for the schema, so read_parquet gives back Int64, UInt64, string..."""
    import pyarrow as pa

    try:
        return dict(pa.Table.from_pandas(frame.iloc[:0], schema=schema, preserve_index=False).schema.metadata)
    except (pa.ArrowException, TypeError, ValueError):  # only a convenience for pandas readers
        return {}


def arrow_array(column: pd.Series, where: str, sql_type=None, document: bool = False):
    """One frame column as a pyarrow Array of an explicit type; OutputError if none holds it."""
    import pyarrow as pa

    values = column_values(column)
    if document:
        values, arrow_type = [document_text(v, where) for v in values], pa.string()
    else:
        arrow_type = _dtype_arrow_type(column.dtype)
    if arrow_type is None:
        values, arrow_type = _object_arrow_type(values, sql_type, where)
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowException, UnicodeError, OverflowError, TypeError) as exc:
        raise OutputError(f"{where}: Parquet cannot hold a value as {arrow_type}: {exc}") from None


def _dtype_arrow_type(dtype):
    """The Arrow type of a frame dtype other than object (Int64, UInt64, boolean, Float64,
    string, datetime64 with or without a zone), or None to look at the values."""
    import pyarrow as pa

    if isinstance(dtype, pd.ArrowDtype):
        return dtype.pyarrow_dtype
    if isinstance(dtype, pd.StringDtype):
        return pa.string()
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pa.timestamp(dtype.unit, tz=pa.lib.tzinfo_to_string(dtype.tz))
    if pd.api.types.is_extension_array_dtype(dtype) and hasattr(dtype, "numpy_dtype"):  # Int64, boolean...
        return pa.from_numpy_dtype(dtype.numpy_dtype)
    if isinstance(dtype, np.dtype) and dtype.kind in "biufmM":
        return pa.from_numpy_dtype(dtype)
    return None


def _object_arrow_type(values: list, sql_type, where: str) -> tuple[list, Any]:
    """(values, Arrow type) for an object column, from what it holds (its SQL type if only NULLs)."""
    import pyarrow as pa

    kinds = value_kinds(values)
    if len(kinds) > 1:
        raise OutputError(f"{where}: holds values of several kinds ({', '.join(sorted(kinds))}); "
                          "a Parquet column has one type. Leave the column out, or write the result as CSV or JSON.")
    kind = kinds.pop() if kinds else _empty_kind(sql_type)
    if kind in ("text", "time aware"):  # no Arrow type: their exact text (time with its offset)
        return [csv_text(v, where) for v in values], pa.string()
    if kind == "bytes":
        return [None if v is None else bytes(v) for v in values], pa.binary()
    if kind == "datetime aware":
        return values, _zoned_type(values, where)
    unit = _unit(values)
    simple = {"bool": pa.bool_(), "float": pa.float64(), "string": pa.string(), "date": pa.date32(),
              "datetime": pa.timestamp(unit), "time": pa.time64("us"), "duration": pa.duration(unit),
              "null": pa.null()}
    if kind in simple:
        return values, simple[kind]
    if kind == "int":
        return values, _integer_type(values, where)
    return values, decimal_type(values, sql_type, where)


def _unit(values: list) -> str:
    """``ns`` for pandas' Timestamps and Timedeltas with nanoseconds (Arrow would cut them), else ``us``."""
    return "ns" if any(getattr(v, "nanosecond", 0) or getattr(v, "nanoseconds", 0) for v in values) else "us"


def _empty_kind(sql_type) -> str:
    """The kind of a column holding only NULLs, from its SQL type: a decimal stays a decimal."""
    kind = kind_of(sql_type)
    known = {"decimal", "bytes", "date", "time", "duration"}
    return kind if kind in known else ("string" if kind in ("string", "json", "array", "other") else "null")


def _integer_type(values: list, where: str):
    import pyarrow as pa

    numbers = [int(v) for v in values if v is not None]
    if -2**63 <= min(numbers) and max(numbers) < 2**63:
        return pa.int64()
    if min(numbers) >= 0 and max(numbers) < 2**64:
        return pa.uint64()
    raise OutputError(f"{where}: integers from {min(numbers)} to {max(numbers)} need more than "
                      "64 bits; Parquet has no such integer type.")


def _zoned_type(values: list, where: str):
    """A tz-aware timestamp type, when every value is in the one zone Arrow allows a column."""
    import pyarrow as pa

    try:
        zone = pd.DatetimeIndex([v for v in values if v is not None]).tz
    except (TypeError, ValueError):
        raise OutputError(f"{where}: its datetimes have several UTC offsets; an Arrow timestamp "
                          "column has one time zone, and converting them would change the values.") from None
    return pa.timestamp(_unit(values), tz=pa.lib.tzinfo_to_string(zone))


def decimal_type(values: list, sql_type, where: str):
    """decimal128 (up to 38 digits) or decimal256 (up to 76) with the largest scale among the
    values and the column's declared one, and the digits every value needs before the point.

    >>> decimal_type([Decimal("1.50"), Decimal("-12345")], None, "x")
    Decimal128Type(decimal128(7, 2))
    """
    import pyarrow as pa

    numbers = [v for v in values if v is not None]
    odd = next((v for v in numbers if not v.is_finite()), None)
    if odd is not None:
        raise OutputError(f"{where}: holds {odd}, which an Arrow decimal cannot; leave the column out "
                          "or write the result as CSV or JSON.")
    scale = max([max(-v.as_tuple().exponent, 0) for v in numbers], default=0)
    whole = max([max(len(v.as_tuple().digits) + v.as_tuple().exponent, 0) for v in numbers], default=0)
    declared = (getattr(sql_type, "precision", None), getattr(sql_type, "scale", None))
    if all(isinstance(n, int) for n in declared) and declared[0] <= ARROW_DIGITS:  # the schema says more
        whole, scale = max(whole, declared[0] - declared[1]), max(scale, declared[1])
    precision = max(whole + scale, 1)
    if precision > ARROW_DIGITS:
        raise OutputError(f"{where}: needs {precision} digits ({scale} after the point); an Arrow "
                          f"decimal holds at most {ARROW_DIGITS}. Write the result as CSV or JSON.")
    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


# -- Excel


def sheet_names(frame_names: list[str]) -> dict[str, str]:
    """Frame -> a sheet name Excel accepts: ``[]:*?/\\`` become ``_``, at most 31 characters,
    no apostrophe at either end, unique regardless of case (``~2``, ``~3``... when cut to the
    same name), never ``index`` (the index sheet) or ``History`` (reserved by Excel).

    >>> sheet_names(["User", "orders.products", "a" * 40])
    {'User': 'User', 'orders.products': 'orders.products', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}
    """
    used, names = {INDEX_SHEET, "history"}, {}
    for frame in frame_names:
        base = re.sub(r"[\[\]:*?/\\]", "_", frame).strip("'") or "frame"
        name, number = _excel_cut(base, ""), 1
        while name.lower() in used:
            number += 1
            name = _excel_cut(base, f"~{number}")
        used.add(name.lower())
        names[frame] = name
    return names


def _excel_cut(base: str, suffix: str) -> str:
    """``base`` cut so that base + suffix is at most 31 UTF-16 units (Excel counts those)."""
    while len((base + suffix).encode("utf-16-le")) > 62:
        base = base[:-1]
    return base.rstrip("'") + suffix


def write_sheet(sheet, frame: pd.DataFrame, name: str, types: dict[str, Any], documents: set[str]) -> list[str]:
    """The frame on ``sheet``, a header row then one row per frame row; returns the columns
    written as text that are not text in the frame (decimals of many digits, tz-aware datetimes...)."""
    if len(frame) >= EXCEL_ROWS:
        raise OutputError(f"frame {name!r}: {len(frame)} rows; an Excel sheet holds {EXCEL_ROWS - 1} "
                          "below its header. Write the result as Parquet or CSV.")
    columns = [excel_column(frame.iloc[:, i], f"frame {name!r}, column {column!r}", types.get(column),
                            column in documents) for i, column in enumerate(frame.columns)]
    _write_rows(sheet, [[str(c) for c in frame.columns], *zip(*(cells for cells, _, _ in columns))],
                [number_format for _, number_format, _ in columns])
    sheet.freeze_panes = "A2"
    return [str(c) for c, (_, _, as_text) in zip(frame.columns, columns) if as_text]


class Digits(str):
    """A number's exact digits, written into the cell as they are: openpyxl would print a
    float with 16 significant digits, and a double may need 17."""


def _write_rows(sheet, rows: list, number_formats: list | None = None) -> None:
    """Rows of cells; a str is always text (openpyxl would take ``=...`` for a formula)."""
    from openpyxl.cell.rich_text import CellRichText

    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            is_text = isinstance(value, str) and not isinstance(value, Digits)
            # openpyxl writes "" as an empty cell, NULL's spelling: a rich text of "" stays ""
            cell = sheet.cell(row=r, column=c, value=CellRichText([""]) if value == "" else value)
            if isinstance(value, str):
                cell.data_type = "s" if is_text else "n"
            if number_formats and r > 1 and number_formats[c - 1] and not is_text:
                cell.number_format = number_formats[c - 1]


def excel_column(column: pd.Series, where: str, sql_type=None, document: bool = False) -> tuple[list, str | None, bool]:
    """(cells, number format, written as text though not text in the frame) for one frame
    column; None is an empty cell. A column Excel cannot hold exactly as numbers, booleans or
    dates is written as its text, as CSV writes it."""
    values = [_unboxed(v) for v in column_values(column)]
    if document:
        return _excel_texts([document_text(v, where) for v in values], where), None, True
    kinds = value_kinds(values)
    kind = (kinds.pop() if len(kinds) == 1 else "mixed") if kinds else "null"
    holds = _EXCEL_HOLDS.get(kind)
    if holds and all(holds(v) for v in values if v is not None):
        number_format = _number_format(kind, values, sql_type)
        if kind in ("float", "decimal"):
            values = [None if v is None else Digits(repr(v) if kind == "float" else str(v)) for v in values]
        return values, number_format, False
    texts = _excel_texts([csv_text(v, where) for v in values], where)
    return texts, None, kind not in ("string", "null")


def _unboxed(value: Any) -> Any:
    """A frame scalar as the plain Python value openpyxl writes (pandas' Timestamp is a datetime)."""
    if isinstance(value, pd.Timestamp):
        return value if value.nanosecond else value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _excel_texts(texts: list, where: str) -> list:
    """Text cells; a text Excel cannot hold (too long, control characters) is an error."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for text in texts:
        if text is not None and len(text) > EXCEL_TEXT:
            raise OutputError(f"{where}: a text of {len(text)} characters; an Excel cell holds "
                              f"{EXCEL_TEXT}. Write the result as Parquet or CSV.")
        if text is not None and ILLEGAL_CHARACTERS_RE.search(text):
            raise OutputError(f"{where}: {text[:40]!r} holds a control character that Excel cells "
                              "cannot hold. Write the result as Parquet or CSV.")
    return texts


def _fits_number(value: float) -> bool:
    return value == 0 or (math.isfinite(value) and EXCEL_MIN <= abs(value) <= EXCEL_MAX)


def _excel_decimal(value: Decimal) -> bool:
    # A decimal of at most 15 significant digits comes back from its double exactly (DBL_DIG).
    # (Not normalize(): it rounds to the context's 28 digits.)
    digits = "".join(map(str, value.as_tuple().digits)).rstrip("0") if value.is_finite() else "x" * 99
    return len(digits) <= EXCEL_DIGITS and _fits_number(float(value))


def _excel_serial(value) -> bool:
    """A date, datetime or time that Excel's serial number gives back exactly (openpyxl reads
    them to the millisecond); Excel shows no date before 1900."""
    from openpyxl.utils.datetime import from_excel, to_excel

    if isinstance(value, dt.date) and value.year < 1900:
        return False
    try:
        back = from_excel(to_excel(value))
    except OverflowError:  # 9999-12-31 23:59:59.9995 rounds past the last day
        return False
    if isinstance(value, (dt.datetime, dt.time)):
        return back == value
    return back == dt.datetime.combine(value, dt.time())


def _number_format(kind: str, values: list, sql_type) -> str | None:
    """How Excel shows the column: decimals with their scale (``0.00`` for DECIMAL(10,2)),
    dates as ISO, times with milliseconds when any has them."""
    if kind == "decimal":
        scale = max([max(-v.as_tuple().exponent, 0) for v in values if v is not None]
                    + [getattr(sql_type, "scale", None) or 0])
        return "0." + "0" * min(scale, 30) if scale else "0"
    if kind in ("datetime", "time"):
        time = "hh:mm:ss.000" if any(v is not None and v.microsecond for v in values) else "hh:mm:ss"
        return ("yyyy-mm-dd " if kind == "datetime" else "") + time
    return "yyyy-mm-dd" if kind == "date" else None


_EXCEL_HOLDS = {  # kind -> does an Excel cell hold this value exactly? (other kinds: text)
    "bool": lambda value: True,
    "int": lambda value: abs(value) < 10**EXCEL_DIGITS,
    "float": _fits_number,
    "decimal": _excel_decimal,
    "date": _excel_serial, "datetime": _excel_serial, "time": _excel_serial,
}


# -- files and folders


def file_paths(folder: str | Path, frame_names: list[str], suffix: str) -> dict[str, Path]:
    """Frame -> ``<folder>/<safe name><suffix>``, creating the folder. Safe: letters, digits,
    ``.``, ``-`` and ``_`` only, no leading dot, unique regardless of case (``~2``, ``~3``...).

    >>> {k: v.name for k, v in file_paths("/tmp/out", ["User", "orders.products"], ".csv").items()}
    {'User': 'User.csv', 'orders.products': 'orders.products.csv'}
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write into {folder}: it is a file, not a folder.")
    with _writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    used, paths = set(), {}
    for frame in frame_names:
        base = re.sub(r"[^\w.-]", "_", frame)[:120] or "_"
        if base.startswith(".") or base.split(".")[0].upper() in WINDOWS_DEVICES:
            base = "_" + base
        name, number = base, 1
        while name.lower() in used:
            number += 1
            name = f"{base}~{number}"
        used.add(name.lower())
        paths[frame] = folder / (name + suffix)
    return paths


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failing write (no such folder, no permission, a file where the folder should be) as one line."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _require(module: str, function: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise OutputError(f"{function} needs {package}: pip install 'crossquery-explorer[{extra}]'") from None
