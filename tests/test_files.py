"""Results as files (explorer/files.py): every format written, READ BACK with its own reader and
compared value for value against ``result.frames``, on the shop (three backends) and on the
type matrix of tests/test_types.py; and ``crossquery run --format ... -o PATH`` end to end.

Readers: pyarrow.parquet for Parquet, openpyxl for Excel, a quote-aware CSV parser (the csv
module cannot tell "" from an empty field) for CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import json
import math
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_cli import cli
from test_types import (  # noqa: F401 - the type matrix fixtures
    backend_cases,
    csv_fields,
    json_problem,
    query_for,
    same,
    show,
    strict_json,
    typed_for,
    types_mysql,
    types_postgresql,
    types_sqlite,
)

import explorer
from explorer import demo, files
from explorer.errors import ExplorerError

SHOP_QUERY = {"from": "User", "order": [["id", "asc"]], "include": [
    "referrer",
    {"orders": {"include": [{"lines": {"include": ["shipments"]}}, {"products": {"include": ["category"]}}]}},
]}
ADDRESSES = (uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Interface,
             ipaddress.IPv6Interface, ipaddress.IPv4Network, ipaddress.IPv6Network)
# What Parquet cannot hold exactly: NaN and infinities (c_numeric), 80 digits (c_numeric_big).
NOT_PARQUET = {"postgresql": ("c_numeric", "c_numeric_big")}


# ---------------------------------------------------------------------------
# The frames' values, the reference every file is compared with


def frame_cells(column: pd.Series) -> list:
    """A frame column as plain Python values, None for NULL (<NA>, NaT); a NaN in Float64 is data."""
    cells = []
    for value in column.array:
        if value is None or value is pd.NA or value is pd.NaT:
            cells.append(None)
        elif isinstance(value, pd.Timestamp):
            cells.append(value.to_pydatetime())
        elif isinstance(value, pd.Timedelta):
            cells.append(value.to_pytimedelta())
        else:
            cells.append(value.item() if isinstance(value, np.generic) else value)
    return cells


def is_document(want: Any, column: str, documents: set[str]) -> bool:
    return column in documents or isinstance(want, (dict, list))


def documents_of(result, frame: str) -> set[str]:
    """Frame columns holding parsed JSON (PostgreSQL json/jsonb): an independent reckoning."""
    node = next(n for n in result.compiled.layout if n.frame_name == frame)
    backend = result.config.backend(result.config.models[node.model].database).name
    return {c for c in node.columns if backend == "postgresql" and c.startswith("c_json")}


def problems_of(frames: dict[str, pd.DataFrame], read, check, result) -> list[str]:
    """Every cell of every frame against what ``read(frame name)`` gave back: rows of dicts."""
    problems = []
    for name, frame in frames.items():
        rows = read(name)
        header = list(rows[0]) if rows else list(frame.columns)
        if len(rows) != len(frame) or header != list(frame.columns):
            problems.append(f"{name}: {len(rows)} rows of {header}, expected {len(frame)} of {list(frame.columns)}")
            continue
        documents = documents_of(result, name)
        for column in frame.columns:
            wants = frame_cells(frame[column])
            for i, want in enumerate(wants):
                problem = check(rows[i][column], want, column, documents, wants)
                if problem:
                    problems.append(f"{name}.{column} row {i}: {problem}")
    return problems


# ---------------------------------------------------------------------------
# Parquet


def read_parquet(paths: dict[str, Path]):
    return lambda name: pq.read_table(paths[name]).to_pylist()


def parquet_problem(got: Any, want: Any, column: str, documents: set[str], wants: list) -> str | None:
    if want is None:
        return None if got is None else f"NULL read back as {show(got)}"
    if is_document(want, column, documents):
        return _json_text_problem(got, want)
    if isinstance(want, ADDRESSES) or (isinstance(want, dt.time) and want.utcoffset() is not None):
        want = str(want) if isinstance(want, ADDRESSES) else want.isoformat()
    if isinstance(want, Decimal):  # the column's largest scale, the same value
        scale = max(-w.as_tuple().exponent for w in wants if w is not None)
        ok = isinstance(got, Decimal) and got == want and -got.as_tuple().exponent == max(scale, 0)
        return None if ok else f"got {show(got)}, expected {show(want)} at scale {scale}"
    return None if same(got, want) else f"got {show(got)}, expected {show(want)}"


def _json_text_problem(got: Any, want: Any) -> str | None:
    if not isinstance(got, str):
        return f"got {show(got)}, expected JSON text"
    try:
        return json_problem(strict_json(got), want)
    except ValueError:
        return f"{got!r} is not JSON text"


def test_parquet_shop(shop, tmp_path):
    result = explorer.run(shop, SHOP_QUERY)
    paths = files.to_parquet(result, tmp_path / "out")
    assert list(paths) == list(result.frames)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths.values())
    problems = problems_of(result.frames, read_parquet(paths), parquet_problem, result)
    assert not problems, "\n".join(problems)
    orders = pq.read_table(paths["orders"])
    assert orders.schema.field("total").type == pa.decimal128(10, 2)
    assert orders.schema.field("User.id").type == pa.int64()
    assert orders.schema.metadata[b"crossquery.frame"] == b"orders"


def test_parquet_pandas_reads_back_the_frames_dtypes(sqlite_shop, tmp_path):
    result = explorer.run(sqlite_shop, SHOP_QUERY)
    paths = files.to_parquet(result, tmp_path)
    for name, frame in result.frames.items():  # "string": pandas may pick another storage
        dtypes = pd.read_parquet(paths[name]).dtypes
        assert dtypes.astype(str).to_dict() == frame.dtypes.astype(str).to_dict(), name


def matrix_result(request, backend: str, leave_out=()):
    typed = typed_for(request, backend)
    columns = ["id", "parent_id", *(c.name for c in typed.columns if c.name not in leave_out)]
    query = query_for("join", columns)
    del query["strategy"]  # the default, as a user runs it
    return typed, explorer.run(typed.config, query)


@pytest.mark.parametrize("backend", backend_cases())
def test_parquet_matrix(request, backend, tmp_path):
    """Every awkward type read back exactly; those Parquet cannot hold are left out here."""
    _, result = matrix_result(request, backend, NOT_PARQUET.get(backend, ()))
    paths = files.to_parquet(result, tmp_path)
    problems = problems_of(result.frames, read_parquet(paths), parquet_problem, result)
    assert not problems, "\n".join(problems)


def arrow_types(request, backend, tmp_path) -> dict[str, pa.DataType]:
    _, result = matrix_result(request, backend, NOT_PARQUET.get(backend, ()))
    return {field.name: field.type for field in pq.read_schema(files.to_parquet(result, tmp_path)["cells"])}


@pytest.mark.mysql
def test_parquet_types_mysql(request, tmp_path):
    types = arrow_types(request, "mysql", tmp_path)
    assert types["c_bigint_u"] == pa.uint64()  # 18446744073709551615 and the all-NULL row
    assert types["c_bigint"] == pa.int64()
    assert types["c_decimal"] == pa.decimal128(10, 2)
    assert types["c_decimal_65_30"] == pa.decimal256(65, 30)
    assert types["c_blob"] == pa.binary()
    assert types["c_time"] == pa.duration("us")
    assert types["c_date"] == pa.date32()
    assert types["c_datetime"] == pa.timestamp("us")
    assert types["c_json"] == pa.string()  # MariaDB's JSON: the stored text


@pytest.mark.postgresql
def test_parquet_types_postgresql(request, tmp_path):
    types = arrow_types(request, "postgresql", tmp_path)
    assert pa.types.is_timestamp(types["c_timestamptz"]) and types["c_timestamptz"].tz
    assert types["c_numeric_10_2"] == pa.decimal128(10, 2)
    assert types["c_bytea"] == pa.binary()
    assert types["c_json"] == types["c_jsonb"] == types["c_timetz"] == types["c_uuid"] == pa.string()
    assert types["c_interval"] == pa.duration("us")
    assert types["c_boolean"] == pa.bool_()


@pytest.mark.postgresql
@pytest.mark.parametrize("column, why", [("c_numeric", "NaN"), ("c_numeric_big", "80 digits")])
def test_parquet_refuses_what_an_arrow_decimal_cannot_hold(request, tmp_path, column, why):
    typed = typed_for(request, "postgresql")
    result = explorer.run(typed.config, query_for("join", ["id", "parent_id", column]))
    with pytest.raises(ExplorerError, match=rf"frame 'cells', column '{column}'.*{why}"):
        files.to_parquet(result, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written when a frame cannot be"


# ---------------------------------------------------------------------------
# CSV: NULL an empty field, '' quoted, every other value as its exact text


def read_csv(paths: dict[str, Path]):
    def read(name: str) -> list[dict]:
        with open(paths[name], encoding="utf-8", newline="") as file:
            text = file.read()
        header, *rows = fields = csv_fields(text.rstrip("\n"))
        assert list(csv.reader(io.StringIO(text))) == [[value for value, _ in row] for row in fields]
        return [dict(zip([h for h, _ in header], row)) for row in rows]

    return read


def text_problem(text: str, want: Any, document: bool) -> str | None:
    """Why ``text`` is not the exact text of ``want`` (as --format json writes it, numbers bare)."""
    if document:
        return _json_text_problem(text, want)
    if isinstance(want, bool):
        return None if text == ("true" if want else "false") else f"{text!r} for {want}"
    if isinstance(want, (int, Decimal)) and (not isinstance(want, Decimal) or want.is_finite()):
        return None if text == str(want) else f"{text!r}, expected {str(want)!r} (every digit)"
    if isinstance(want, float) and math.isfinite(want):
        return None if float(text) == want else f"{text!r} for {want!r}"
    return json_problem(text, want)  # strings, NaN, base64 bytes, ISO datetimes, durations, UUIDs


def csv_problem(got: tuple[str, bool], want: Any, column: str, documents: set[str], wants: list) -> str | None:
    text, quoted = got
    if want is None:
        return None if got == ("", False) else f"NULL written as {text!r} (quoted: {quoted})"
    if want == "" and isinstance(want, str):
        return None if got == ("", True) else "'' must be written as \"\""
    return text_problem(text, want, is_document(want, column, documents))


def test_csv_shop(shop, tmp_path):
    result = explorer.run(shop, SHOP_QUERY)
    paths = files.to_csv(result, tmp_path)
    assert [p.name for p in paths.values()] == [f"{name}.csv" for name in result.frames]
    problems = problems_of(result.frames, read_csv(paths), csv_problem, result)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("backend", backend_cases())
def test_csv_matrix(request, backend, tmp_path):
    _, result = matrix_result(request, backend)
    problems = problems_of(result.frames, read_csv(files.to_csv(result, tmp_path)), csv_problem, result)
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# Excel: numbers, booleans and dates where Excel holds them exactly, text otherwise


def read_excel(path: Path):
    workbook = openpyxl.load_workbook(path)
    index = [dict(zip(("sheet", "frame", "rows", "as_text"), row))
             for row in list(workbook["index"].iter_rows(values_only=True))[1:]]
    sheets = {entry["frame"]: workbook[entry["sheet"]] for entry in index}

    def read(name: str) -> list[dict]:
        header, *rows = sheets[name].iter_rows(values_only=True)
        return [dict(zip(header, row)) for row in rows]

    as_text = {entry["frame"]: set((entry["as_text"] or "").split(", ")) - {""} for entry in index}
    return read, as_text


def excel_checker(as_text: dict[str, set[str]], frame: str):
    def check(got: Any, want: Any, column: str, documents: set[str], wants: list) -> str | None:
        if want is None:
            return None if got is None else f"NULL read back as {show(got)}"
        if isinstance(want, str) or column in as_text[frame] or is_document(want, column, documents):
            if not isinstance(got, str):
                return f"got {show(got)}, expected text for {show(want)}"
            return text_problem(got, want, is_document(want, column, documents))
        return excel_native_problem(got, want)

    return check


def excel_native_problem(got: Any, want: Any) -> str | None:
    """A cell Excel holds natively: the same number (its digits), boolean or date and time."""
    bad = f"got {show(got)}, expected {show(want)}"
    if isinstance(want, Decimal):
        return None if isinstance(got, (int, float)) and Decimal(repr(got)) == want else bad
    if isinstance(want, (dt.datetime, dt.time)):
        return None if same(got, want) else bad
    if isinstance(want, dt.date):  # Excel has datetimes only: midnight of the day
        return None if same(got, dt.datetime.combine(want, dt.time())) else bad
    return None if same(got, want) else bad


def excel_problems(result, path: Path) -> list[str]:
    read, as_text = read_excel(path)
    problems = []
    for name, frame in result.frames.items():
        problems += problems_of({name: frame}, read, excel_checker(as_text, name), result)
    return problems


def test_excel_shop(shop, tmp_path):
    result = explorer.run(shop, SHOP_QUERY)
    path = files.to_excel(result, tmp_path / "shop.xlsx")
    problems = excel_problems(result, path)
    assert not problems, "\n".join(problems)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == [*result.frames, "index"]  # the shop's names need no change
    assert workbook["orders"]["E2"].number_format == "0.00"   # total, DECIMAL(10,2), as a number
    assert isinstance(workbook["orders"]["E2"].value, float)


@pytest.mark.parametrize("backend", backend_cases())
def test_excel_matrix(request, backend, tmp_path):
    _, result = matrix_result(request, backend)
    path = files.to_excel(result, tmp_path / "matrix.xlsx")
    problems = excel_problems(result, path)
    assert not problems, "\n".join(problems)


@pytest.mark.mysql
def test_excel_writes_what_a_double_cannot_hold_as_text(request, tmp_path):
    _, result = matrix_result(request, "mysql")
    _, as_text = read_excel(files.to_excel(result, tmp_path / "m.xlsx"))
    assert {"c_bigint_u", "c_bigint", "c_decimal_65_30", "c_decimal_30_20", "c_blob", "c_time",
            "c_date", "c_double"} <= as_text["cells"]  # 20 digits, 65 digits, year 1000, 1e308...
    assert not {"c_int", "c_decimal", "c_float", "c_tinyint", "id"} & as_text["cells"]


def workbook_of(frame: pd.DataFrame, tmp_path) -> tuple[Any, list[str]]:
    workbook = openpyxl.Workbook()
    as_text = files.write_sheet(workbook.active, frame, "f", {}, set())
    workbook.save(tmp_path / "f.xlsx")
    return openpyxl.load_workbook(tmp_path / "f.xlsx").active, as_text


def test_excel_cells_keep_text_apart_from_formulas_and_null(tmp_path):
    frame = pd.DataFrame({"s": pd.array(["=1+1", "", None], dtype="string"),
                          "x": pd.array([0.1 + 0.2, 1e-300, None], dtype="Float64"),
                          "d": pd.Series([Decimal("1234567890.12345"), Decimal("0.10"), pd.NA], dtype=object),
                          "big": pd.Series([Decimal("1234567890.123456"), Decimal(1), pd.NA], dtype=object),
                          "at": pd.Series([dt.datetime(2024, 2, 29, 12, 0, 0, 500000), dt.datetime(1899, 12, 31), None],
                                          dtype="datetime64[us]")})
    sheet, as_text = workbook_of(frame, tmp_path)
    rows = list(sheet.iter_rows(values_only=True))[1:]
    assert [row[0] for row in rows] == ["=1+1", "", None]  # text, not a formula; '' is not NULL
    assert sheet["A2"].data_type == "s"
    assert [row[1] for row in rows] == [0.30000000000000004, 1e-300, None]  # all 17 digits
    assert [row[2] for row in rows] == [1234567890.12345, 0.1, None]
    assert [row[3] for row in rows] == ["1234567890.123456", "1", None]  # 16 digits: text
    assert [row[4] for row in rows] == ["2024-02-29T12:00:00.500000", "1899-12-31T00:00:00", None]
    assert as_text == ["big", "at"]


def test_excel_refuses_control_characters(tmp_path):
    frame = pd.DataFrame({"s": pd.array(["bell\x07"], dtype="string")})
    with pytest.raises(ExplorerError, match=r"frame 'f', column 's'.*control character"):
        workbook_of(frame, tmp_path)


def test_sheet_names_are_legal_unique_and_never_the_index():
    names = files.sheet_names(["User", "a/b:c", "x" * 40, "x" * 35, "index", "History", "'q'", "USER"])
    assert names == {"User": "User", "a/b:c": "a_b_c", "x" * 40: "x" * 31, "x" * 35: "x" * 29 + "~2",
                     "index": "index~2", "History": "History~2", "'q'": "q", "USER": "USER~2"}
    assert all(len(name) <= 31 and not set(name) & set("[]:*?/\\") for name in names.values())


# ---------------------------------------------------------------------------
# File names, and writes that fail


def test_file_names_are_safe_and_unique(tmp_path):
    paths = files.file_paths(tmp_path, ["User", "user", "a/b", ".hidden", "con", "orders.products"], ".csv")
    assert [p.name for p in paths.values()] == ["User.csv", "user~2.csv", "a_b.csv", "_.hidden.csv",
                                                "_con.csv", "orders.products.csv"]
    assert all(p.parent == tmp_path for p in paths.values())


def test_a_file_where_the_folder_should_be_is_one_clear_error(sqlite_shop, tmp_path):
    (tmp_path / "taken").write_text("")
    result = explorer.run(sqlite_shop, demo.DEMO_QUERY)
    for write in (files.to_parquet, files.to_csv):
        with pytest.raises(ExplorerError, match="cannot write .*taken"):
            write(result, tmp_path / "taken")
    with pytest.raises(ExplorerError, match="cannot write .*taken"):
        files.to_excel(result, tmp_path / "taken" / "x.xlsx")


# ---------------------------------------------------------------------------
# crossquery run --format json|csv|parquet|xlsx -o PATH


@pytest.fixture
def shop_query(tmp_path) -> str:
    path = tmp_path / "query.yaml"
    path.write_text(demo.DEMO_QUERY, encoding="utf-8")
    return str(path)


def test_cli_json_to_a_file_is_what_stdout_gets(sqlite_config_path, shop_query, tmp_path):
    out = cli("run", sqlite_config_path, shop_query, "--format", "json", "-o", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    printed = cli("run", sqlite_config_path, shop_query, "--format", "json")
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == printed.stdout
    assert str(tmp_path / "r.json") in out.stdout


@pytest.mark.parametrize("fmt, suffix", [("csv", ".csv"), ("parquet", ".parquet")])
def test_cli_writes_a_folder_of_one_file_per_frame(sqlite_config_path, sqlite_shop, shop_query, tmp_path,
                                                   fmt, suffix):
    folder = tmp_path / "out"
    out = cli("run", sqlite_config_path, shop_query, "--format", fmt, "-o", str(folder))
    assert out.returncode == 0, out.stderr
    result = explorer.run(sqlite_shop, demo.DEMO_QUERY)
    assert sorted(p.name for p in folder.iterdir()) == sorted(name + suffix for name in result.frames)
    read = read_csv if fmt == "csv" else read_parquet
    check = csv_problem if fmt == "csv" else parquet_problem
    paths = {name: folder / (name + suffix) for name in result.frames}
    assert not problems_of(result.frames, read(paths), check, result)
    assert len(out.stdout.splitlines()) == len(result.frames)  # one "wrote PATH" line per file


def test_cli_writes_a_workbook(sqlite_config_path, sqlite_shop, shop_query, tmp_path):
    out = cli("run", sqlite_config_path, shop_query, "--format", "xlsx", "-o", str(tmp_path / "r.xlsx"))
    assert out.returncode == 0, out.stderr
    result = explorer.run(sqlite_shop, demo.DEMO_QUERY)
    assert not excel_problems(result, tmp_path / "r.xlsx")


@pytest.mark.parametrize("args, message", [
    (["--format", "parquet"], "--format parquet writes files: add -o FOLDER"),
    (["--format", "xlsx"], "--format xlsx writes a file: add -o FILE.xlsx"),
    (["--format", "table", "-o", "x"], ("--format table prints to the terminal; -o writes files: add "
                                        "--format json, csv, parquet or xlsx.")),
    (["-o", "x"], "-o writes files: add --format json, csv, parquet or xlsx."),
])
def test_cli_usage_errors_are_one_line(sqlite_config_path, shop_query, tmp_path, args, message):
    out = cli("run", sqlite_config_path, shop_query, *args, cwd=str(tmp_path))
    assert out.returncode == 1
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("crossquery: error: " + message), out.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "query.yaml"]  # nothing written


@pytest.mark.postgresql
def test_cli_a_value_the_format_cannot_hold_is_one_line_naming_it(request, tmp_path):
    typed = typed_for(request, "postgresql")
    config = tmp_path / "types.json"
    config.write_text(json.dumps(typed.config_dict), encoding="utf-8")
    query = json.dumps(query_for("join", ["id", "parent_id", "c_numeric"]))
    out = cli("run", str(config), query, "--format", "parquet", "-o", str(tmp_path / "out"))
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip() == ("crossquery: error: frame 'cells', column 'c_numeric': holds NaN, which an "
                                  "Arrow decimal cannot; leave the column out or write the result as CSV or JSON.")
