"""The JSON, CSV and table writers on hand-built values of every kind (SPEC "Exact values")."""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import json
import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from explorer.errors import ExplorerError
from explorer.textout import duration, frame_csv, frame_table, json_value, records_json

UTC = dt.UTC
PLUS2 = dt.timezone(dt.timedelta(hours=2))
TICKET = uuid.UUID("12345678-1234-5678-1234-567812345678")


def strict_loads(text: str):
    """json.loads that refuses bare NaN/Infinity and keeps every digit of a number."""
    def refuse(name):
        raise ValueError(f"bare {name} is not JSON")
    return json.loads(text, parse_constant=refuse, parse_float=Decimal)


def one(value):
    """``value`` written in a record and read back strictly."""
    return strict_loads(records_json([{"v": value}]))[0]["v"]


# JSON

@pytest.mark.parametrize("value, text", [
    (Decimal("500000.00"), "500000.00"),
    (Decimal("0.12345678901234567890"), "0.12345678901234567890"),
    (Decimal("-0.001"), "-0.001"),
    (Decimal("1E+3"), "1E+3"),
    (2**64 - 1, "18446744073709551615"),
    (-(2**63), "-9223372036854775808"),
    (0.1, "0.1"),
    (True, "true"),
    (None, "null"),
])
def test_numbers_keep_every_digit(value, text):
    out = records_json([{"v": value}], indent=None)
    assert out == '[{"v": ' + text + "}]"
    strict_loads(out)


def test_decimals_read_back_equal_with_their_scale():
    back = one(Decimal("500000.00"))
    assert back == Decimal("500000.00") and str(back) == "500000.00"
    assert str(one(Decimal("0.12345678901234567890"))) == "0.12345678901234567890"


@pytest.mark.parametrize("value, text", [
    (Decimal("NaN"), "NaN"), (Decimal("sNaN"), "NaN"),
    (Decimal("Infinity"), "Infinity"), (Decimal("-Infinity"), "-Infinity"),
    (float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"),
    (np.float32("nan"), "NaN"),
])
def test_nan_and_infinities_are_strings(value, text):
    assert one(value) == text


@pytest.mark.parametrize("value, text", [
    (b"\x00", "AA=="), (bytearray(b"\x00\xff"), "AP8="), (memoryview(b"abc"), "YWJj"), (b"", ""),
])
def test_binary_is_base64(value, text):
    assert one(value) == text


@pytest.mark.parametrize("value, text", [
    (dt.datetime(2024, 1, 2, 12, 30), "2024-01-02T12:30:00"),
    (dt.datetime(2024, 1, 2, 12, 30, 0, 5, tzinfo=UTC), "2024-01-02T12:30:00.000005+00:00"),
    (dt.datetime(2024, 1, 2, 12, 30, tzinfo=PLUS2), "2024-01-02T12:30:00+02:00"),
    (pd.Timestamp("2024-01-02 12:30", tz="UTC"), "2024-01-02T12:30:00+00:00"),
    (dt.date(2024, 1, 2), "2024-01-02"),
    (dt.time(23, 59, 59, 999999), "23:59:59.999999"),
    (dt.time(1, 2, 3, tzinfo=PLUS2), "01:02:03+02:00"),
])
def test_dates_and_times_are_iso_8601(value, text):
    assert one(value) == text


@pytest.mark.parametrize("value, text", [
    (dt.timedelta(days=-35, seconds=3600, microseconds=999999), "-838:59:59.000001"),
    (dt.timedelta(hours=25), "25:00:00"),
    (dt.timedelta(0), "00:00:00"),
    (dt.timedelta(hours=838, minutes=59, seconds=59), "838:59:59"),
    (dt.timedelta(seconds=-1), "-00:00:01"),
    (dt.timedelta(microseconds=-1), "-00:00:00.000001"),
    (dt.timedelta(days=1, seconds=5, microseconds=120), "24:00:05.000120"),
    (pd.Timedelta(1, "ns"), "00:00:00.000000001"),
    (pd.Timedelta(hours=-25), "-25:00:00"),
])
def test_durations_are_hours_minutes_seconds(value, text):
    assert duration(value) == text
    assert one(value) == text


def test_json_documents_and_strings():
    postgres_json = {"a": [1, None, {"b": Decimal("1.10")}], "ok": True, "s": "x"}
    assert one(postgres_json) == {"a": [1, None, {"b": Decimal("1.10")}], "ok": True, "s": "x"}
    mariadb_json = '{"a": [1, 2]}'  # MariaDB hands JSON columns back as text: it stays text
    assert one(mariadb_json) == mariadb_json
    assert one((1, "two")) == [1, "two"]


def test_uuid_addresses_and_sets():
    assert one(TICKET) == "12345678-1234-5678-1234-567812345678"
    assert one(ipaddress.ip_address("192.168.0.1")) == "192.168.0.1"
    assert one(ipaddress.ip_address("::1")) == "::1"
    assert one(ipaddress.ip_network("10.0.0.0/8")) == "10.0.0.0/8"
    assert one(ipaddress.ip_interface("10.0.0.1/8")) == "10.0.0.1/8"
    assert one({"b", "c", "a"}) == ["a", "b", "c"]
    assert one(frozenset({3, 1, 2})) == [1, 2, 3]
    assert one({1, "a"}) == ["a", 1]  # mixed kinds: still one stable order (by their JSON text)


def test_numpy_and_pandas_scalars():
    assert one(np.int64(7)) == 7 and one(np.uint64(2**64 - 1)) == 2**64 - 1
    assert one(np.bool_(False)) is False
    assert one(np.float64(1.5)) == Decimal("1.5")
    assert one(pd.NA) is None and one(pd.NaT) is None


def test_non_ascii_is_kept_and_output_is_strict():
    out = records_json([{"name": "Zoë 张伟 🌱", "x": float("nan"), "d": Decimal("Infinity")}])
    assert "Zoë 张伟 🌱" in out and "\\u" not in out
    assert strict_loads(out) == [{"name": "Zoë 张伟 🌱", "x": "NaN", "d": "Infinity"}]


def test_nested_records():
    order = {"id": 10, "total": Decimal("31.40"), "at": dt.date(2024, 1, 10), "products": []}
    records = [{"id": 1, "orders": [order], "address": None}]
    assert strict_loads(records_json(records)) == [
        {"id": 1, "orders": [{**order, "at": "2024-01-10"}], "address": None}]


class Opaque:
    def __repr__(self):
        return "Opaque()"


@pytest.mark.parametrize("value", [Opaque(), np.datetime64("2024-01-02"), 1 + 2j, object()])
def test_an_unknown_type_is_an_error_naming_it(value):
    with pytest.raises(ExplorerError) as info:
        records_json([{"id": 1, "orders": [{"odd": value}]}])
    message = str(info.value)
    assert type(value).__qualname__ in message
    assert "records[0].orders[0].odd" in message


def test_json_value_is_json_ready():
    assert json_value({"at": dt.date(2024, 1, 2), "n": Decimal("2.50"), "b": b"\x01"}) == {
        "at": "2024-01-02", "n": Decimal("2.50"), "b": "AQ=="}
    with pytest.raises(ExplorerError, match="key of type"):
        json_value({(1, 2): "tuple key"})


# CSV

def every_kind_frame() -> pd.DataFrame:
    return pd.DataFrame({
        # NaN stored as data (mask False), 1.0, then NULL (mask True)
        "real": pd.arrays.FloatingArray(np.array([np.nan, 1.0, 0.0]),
                                        np.array([False, False, True])),
        "text": pd.array(["", None, "a,b"], dtype="string"),
        "count": pd.array([1, None, 3], dtype="Int64"),
        "big": pd.array([2**64 - 1, None, 0], dtype="UInt64"),
        "mixed": pd.Series([Decimal("500000.00"), b"\x00\xff", {"a": [1, None], "q": 'say "hi"'}],
                           dtype=object),
        "at": pd.Series([dt.datetime(2024, 1, 2, 12, 30, tzinfo=UTC), None,
                         dt.datetime(2024, 1, 2, 12, 30, 0, 500000, tzinfo=UTC)],
                        ).astype("datetime64[us, UTC]"),
        "took": pd.Series([dt.timedelta(hours=25), None,
                           dt.timedelta(days=-35, seconds=3600, microseconds=999999)]),
        "flag": pd.array([True, None, False], dtype="boolean"),
        "amount": pd.Series([Decimal("NaN"), None, Decimal("0.12345678901234567890")],
                            dtype=object),
    })


def test_csv_writes_every_kind_exactly():
    assert frame_csv(every_kind_frame()).splitlines() == [
        "real,text,count,big,mixed,at,took,flag,amount",
        'NaN,"",1,18446744073709551615,500000.00,2024-01-02T12:30:00+00:00,25:00:00,true,NaN',
        "1.0,,,,AP8=,,,,",
        (',"a,b",3,0,"{""a"":[1,null],""q"":""say \\""hi\\""""}",2024-01-02T12:30:00.500000+00:00,'
         "-838:59:59.000001,false,0.12345678901234567890"),
    ]


def test_csv_null_is_empty_and_empty_string_is_quoted():
    frame = pd.DataFrame({"s": pd.array(["", None, "x"], dtype="string"),
                          "o": pd.Series(["", None, float("nan")], dtype=object),
                          "i": pd.array([None, 2, None], dtype="Int64")})
    assert frame_csv(frame) == 's,o,i\n"","",\n,,2\nx,,\n'


def test_csv_reads_back_with_the_csv_module():
    frame = pd.DataFrame({"a,b": ["x\ny", 'q"q', "plain"], "n": [1, 2, 3]})
    rows = list(csv.reader(io.StringIO(frame_csv(frame))))
    assert rows == [["a,b", "n"], ["x\ny", "1"], ['q"q', "2"], ["plain", "3"]]


def test_csv_json_values_are_json_text():
    documents = [{"k": [1, 2.5, None]}, ["a"], '{"as": "text"}']  # the last as MariaDB gives it
    frame = pd.DataFrame({"doc": pd.Series(documents, dtype=object)})
    rows = list(csv.reader(io.StringIO(frame_csv(frame))))
    assert [json.loads(row[0]) for row in rows[1:]] == [documents[0], documents[1], {"as": "text"}]


def test_csv_unknown_type_names_the_column():
    frame = pd.DataFrame({"odd": pd.Series([Opaque()], dtype=object)})
    with pytest.raises(ExplorerError, match=r"column 'odd'.*Opaque"):
        frame_csv(frame)


def test_csv_plain_float_nan_is_pandas_missing_marker():
    frame = pd.DataFrame({"x": [float("nan"), float("inf"), 2.5]})
    assert frame_csv(frame).splitlines() == ["x", "", "Infinity", "2.5"]


# table

def test_table_spells_every_null_na_and_keeps_data_nan():
    frame = every_kind_frame().drop(columns="mixed")  # a dict's repr would hold a None
    frame["other"] = pd.Series([dt.time(1, 2), pd.NaT, None], dtype=object)
    text = frame_table(frame)
    lines = text.splitlines()
    assert "None" not in text and "NaT" not in text
    assert lines[0].split() == list(frame.columns)
    assert lines[2].split() == ["1.0"] + ["<NA>"] * 8
    assert lines[1].split()[0] == "NaN" and lines[3].split()[0] == "<NA>"  # the same Float64 column
    assert lines[1].split()[-2] == "NaN"  # Decimal('NaN') is data too


def test_table_shows_every_float_digit():
    frame = pd.DataFrame({"n": pd.array([1.25, None, 3.141592653589793, 1e-30], dtype="Float64"),
                          "s": ["a", None, "b", "c"]})
    assert frame_table(frame).split() == ["n", "s", "1.25", "a", "<NA>", "<NA>", "3.141592653589793", "b",
                                          "1e-30", "c"]


def test_csv_parsed_json_columns_write_strings_as_json_text():
    documents = [{"a": 1}, "text", Decimal("1.10"), None, True]  # PostgreSQL json as psycopg parses it
    frame = pd.DataFrame({"doc": pd.Series(documents, dtype=object),
                          "raw": pd.Series(['"text"'] * 5, dtype=object)})  # MariaDB's stored text
    assert frame_csv(frame, json_columns={"doc"}).splitlines() == [
        "doc,raw", '"{""a"":1}","""text"""', '"""text""","""text"""', '1.10,"""text"""',
        ',"""text"""', 'true,"""text"""']


def test_postgres_ranges_and_lone_surrogates_have_json_forms():
    from psycopg.types.range import Range

    records = [{"r": Range(1, 5, "[)"), "e": Range(empty=True), "m": [Range(1, 2, "[]")], "s": "\ud800"}]
    text = records_json(records, indent=None)
    text.encode("utf-8")  # printable: the surrogate is escaped
    assert json.loads(text) == [{"r": {"lower": 1, "upper": 5, "bounds": "[)"}, "e": "empty",
                                 "m": [{"lower": 1, "upper": 2, "bounds": "[]"}], "s": "\ud800"}]
