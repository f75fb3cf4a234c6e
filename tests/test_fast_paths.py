"""The speed work of issue 12 keeps every value: dates parsed in C inside JSON documents, the C JSON
decoder, records made by a generated constructor, and the garbage collector paused while rows and
records are built. Each case compares with the driver's own values or the slow path's."""

from __future__ import annotations

import datetime as dt
import gc
import json
import sqlite3
from decimal import Decimal

import pytest
from conftest import MYSQL_SERVER, PREFIX, scratch_mysql_database
from pymysql.converters import convert_date, convert_datetime

import explorer
from explorer.decode import _mysql_date, _mysql_datetime
from explorer.pausegc import gc_paused
from explorer.shape import record_maker
from explorer.unnest import _decode

MYSQL_DB = PREFIX + "fastpaths"

DATETIME_TEXTS = ["2020-01-01 10:00:00", "2020-01-01 10:00:00.5", "2020-01-01 10:00:00.123",
                  "2020-01-01 10:00:00.123456", "9999-12-31 23:59:59.999999", "0099-01-01 00:00:00",
                  "0000-00-00 00:00:00", "2024-02-31 10:00:00", "2024-02-29 00:00:00", "2020-01-01T10:00:00",
                  "2020-1-1 1:2:3", "2020-01-01 10:00:00\n", "2020-01-01 10:00:00.1234567", "garbage"]
DATE_TEXTS = ["2020-01-01", "0000-00-00", "2024-02-31", "0001-01-01", "9999-12-31", "2020-1-1",
              "2020-01-01\n", "٢٠٢٠-01-01", "garbage"]


@pytest.mark.parametrize("text", DATETIME_TEXTS)
def test_datetime_text_reads_as_pymysql_reads_it(text):
    got, want = _mysql_datetime(text), convert_datetime(text)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("text", DATE_TEXTS)
def test_date_text_reads_as_pymysql_reads_it(text):
    got, want = _mysql_date(text), convert_date(text)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("text", [
    '[18446744073709551615, -9223372036854775808, 123456789012345678901234567890]',
    '[1.50, 1e5, -0.0, 1.0E+2, "a\\u00e9\\ud83d\\ude00"]', '{"a": 1, "a": 2}', '"\\ud800"', '[null, true]'])
def test_json_documents_decode_as_the_standard_library_with_exact_decimals(text):
    want = json.JSONDecoder(parse_float=Decimal).decode(text)
    for given in (text, text.encode("utf-8", "surrogatepass")):
        got = _decode(given, None)
        assert got == want and repr(got) == repr(want)


def test_a_cut_document_is_still_an_error_naming_the_include():
    from explorer.compile import NodeLayout

    node = NodeLayout(path=("orders",), frame_name="orders", model="Order", to_many=True, columns=("id",),
                      labels=("orders.id",), key_labels=("orders.id",), parent=(), shown=("id",))
    with pytest.raises(explorer.ExecutionError, match="include orders: .*cut short"):
        _decode('[{"id": 1}, {"id"', node)


@pytest.mark.parametrize("names", [["id"], ["id", "name", "k0", "v0", "class", "a b", "x'y\"z", "é", ""],
                                   [f"c{i}" for i in range(300)]])
def test_record_maker_keeps_every_name_and_its_order(names):
    values = [object() for _ in names]
    record = record_maker(names)(*values)
    assert list(record) == names and all(record[n] is v for n, v in zip(names, values))


def test_collection_is_paused_then_resumed_even_on_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a pause it did not make is left as it was
    finally:
        gc.enable()


def test_resuming_does_not_walk_again_what_the_pause_made_and_still_frees_its_cycles():
    import weakref

    class Node:
        pass

    with gc_paused():
        made = [{"i": [i]} for i in range(200_000)]
        cycle = Node()
        cycle.me = cycle
        dead = weakref.ref(cycle)
        del cycle
    # The 200k dicts are not young any more (other threads may have made a few objects since).
    assert gc.isenabled() and gc.get_count()[0] < 20_000 and gc.get_freeze_count() == 0
    gc.collect()
    assert dead() is None and len(made) == 200_000


def test_objects_the_user_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            [[i] for i in range(1000)]
        # Not thawed (that would make it 0); a frozen object another thread frees leaves the count.
        assert gc.isenabled() and gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()


@pytest.fixture(scope="module")
def repeated_rows(tmp_path_factory):
    """Identical rows under a declared key that the table does not enforce, at the root and below."""
    path = tmp_path_factory.mktemp("repeated") / "shelves.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE shelves (id INTEGER, name TEXT); CREATE TABLE books (id INTEGER, shelf_id INTEGER, title TEXT);"
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, book_id INTEGER);"
        "INSERT INTO shelves VALUES (1, 'a'), (1, 'a'), (2, 'b');"
        "INSERT INTO books VALUES (10, 1, 'x'), (10, 1, 'x'), (11, 1, 'y'), (12, 2, 'z');"
        "INSERT INTO notes VALUES (100, 10), (101, 11), (102, 10);")
    connection.commit()
    connection.close()
    return {"databases": {"s": f"sqlite:///{path}"}, "models": {
        "Shelf": {"table": "shelves", "primary_key": "id",
                  "associations": {"books": {"has_many": "Book", "foreign_key": "shelf_id"}}},
        "Book": {"table": "books", "primary_key": "id",
                 "associations": {"notes": {"has_many": "Note", "foreign_key": "book_id"}}},
        "Note": {"table": "notes"}}}


@pytest.mark.parametrize("strategy", ["join", "json"])
def test_repeated_identical_rows_come_once_with_their_children_once(repeated_rows, strategy):
    query = {"from": "Shelf", "include": [{"books": {"include": ["notes"]}}], "strategy": strategy}
    result = explorer.run(repeated_rows, query)
    x_notes = [{"id": 100, "book_id": 10}, {"id": 102, "book_id": 10}]
    assert result.records == [
        {"id": 1, "name": "a", "books": [{"id": 10, "shelf_id": 1, "title": "x", "notes": x_notes},
                                         {"id": 11, "shelf_id": 1, "title": "y", "notes": [{"id": 101, "book_id": 11}]}]},
        {"id": 2, "name": "b", "books": [{"id": 12, "shelf_id": 2, "title": "z", "notes": []}]}]
    assert result.frames["books.notes"]["id"].tolist() == [100, 102, 101]


# -- on MariaDB: dates inside JSON documents, every reader and strategy, against PyMySQL's own values


@pytest.fixture(scope="module")
def mysql_db():
    yield from scratch_mysql_database(MYSQL_DB, [
        f"CREATE TABLE `{MYSQL_DB}`.parents (id INT PRIMARY KEY)",
        f"INSERT INTO `{MYSQL_DB}`.parents VALUES (1), (2), (3)",
        f"CREATE TABLE `{MYSQL_DB}`.events (id INT PRIMARY KEY, parent_id INT, d DATE, "
        "t0 DATETIME, t2 DATETIME(2), t6 DATETIME(6))",
        f"INSERT INTO `{MYSQL_DB}`.events VALUES "
        "(1, 1, '2024-01-05', '2024-01-05 10:11:12', '2024-01-05 10:11:12.5', "
        " '2024-01-05 10:11:12.000001'), "
        "(2, 1, '0000-00-00', '0000-00-00 00:00:00', '2024-02-31 10:00:00.25', "
        " '9999-12-31 23:59:59.999999'), "
        "(3, 2, '0001-01-01', '1000-01-01 00:00:00', NULL, '2024-02-29 23:59:59.100000'), "
        "(4, 2, NULL, NULL, '2024-02-30 00:00:00', NULL)",
        f"CREATE TABLE `{MYSQL_DB}`.notes (id INT PRIMARY KEY, event_id INT)",
        f"INSERT INTO `{MYSQL_DB}`.notes VALUES (1, 1), (2, 3), (3, 3)",
    ])


def _config() -> dict:
    return {"databases": {"fast": f"{MYSQL_SERVER}/{MYSQL_DB}"}, "models": {
        "Parent": {"table": "parents", "associations": {"events": {"has_many": "Event", "foreign_key": "parent_id"}}},
        "Event": {"table": "events", "associations": {"note": {"has_one": "Note", "foreign_key": "event_id"}}},
        "Note": {"table": "notes"}}}


@pytest.mark.mysql
@pytest.mark.parametrize("strategy", ["join", "json"])
@pytest.mark.parametrize("reader", ["driver", "arrow"])
def test_dates_inside_includes_read_as_pymysql_reads_them(mysql_db, strategy, reader):
    with mysql_db.cursor() as cursor:
        cursor.execute(f"SELECT parent_id, id, d, t0, t2, t6 FROM `{MYSQL_DB}`.events ORDER BY parent_id, id")
        rows = cursor.fetchall()
    assert rows[1][2] == "0000-00-00" and rows[3][4] == "2024-02-30 00:00:00.00"  # PyMySQL keeps these as text
    assert isinstance(rows[1][5], dt.datetime) and isinstance(rows[1][4], str)
    query = {"from": "Parent", "include": ["events"], "strategy": strategy}
    records = explorer.run(_config(), query, reader=reader).records
    got = [(parent["id"], e["id"], e["d"], e["t0"], e["t2"], e["t6"]) for parent in records for e in parent["events"]]
    assert got == list(rows)
    assert [type(v) for row in got for v in row] == [type(v) for row in rows for v in row]
    assert records[2] == {"id": 3, "events": []}


@pytest.mark.mysql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_a_nested_to_one_matching_two_rows_names_its_parent(mysql_db, strategy):
    query = {"from": "Parent", "include": [{"events": {"attributes": ["id"], "include": ["note"]}}],
             "strategy": strategy}
    with pytest.raises(explorer.QueryError, match=r"Event.note is a has_one .* 2 rows of Note match the Event "
                                                  r"with id=3"):
        explorer.run(_config(), query).records
    query["where"] = {"id": 1}
    records = explorer.run(_config(), query).records
    assert records == [{"id": 1, "events": [{"id": 1, "note": {"id": 1, "event_id": 1}},
                                            {"id": 2, "note": None}]}]


# -- records built before the frames (straight from the exact columns) or after (from the frames' tables)


@pytest.mark.parametrize("case", ["demo", "has_many", "spec_example", "siblings", "self_association"])
def test_records_first_or_frames_first_give_the_same_answer(shop, case):
    from pandas.testing import assert_frame_equal
    from shopcases import CASES

    query = {**CASES[case], "strategy": "join"}
    readers = ["driver", "arrow"] if shop.backend(next(iter(shop.databases))).name == "mysql" else ["driver"]
    for reader in readers:  # the Arrow reader is MySQL/MariaDB's
        records_first = explorer.run(shop, query, reader=reader)
        records = records_first.records
        frames_first = explorer.run(shop, query, reader=reader)
        frames = frames_first.frames
        assert frames_first.records == records and len(records) > 0
        assert ([type(v) for r in frames_first.records for v in r.values()]
                == [type(v) for r in records for v in r.values()])
        for name, frame in records_first.frames.items():
            assert_frame_equal(frame, frames[name])
        assert_frame_equal(records_first.frame, frames_first.frame)


@pytest.mark.parametrize("case", ["siblings", "demo"])
def test_wide_leaf_objects_in_chunks_read_as_the_join_strategy_reads_them(shop, case, monkeypatch):
    """A leaf list is taken whole unless its objects come in chunks (more pairs than one JSON
    object takes): those are merged item by item."""
    from shopcases import CASES

    from explorer import compile_json

    want = explorer.run(shop, {**CASES[case], "strategy": "join"}).records
    monkeypatch.setattr(compile_json, "MAX_PAIRS", 3)
    got = explorer.run(shop, {**CASES[case], "strategy": "json"})
    assert "~chunk0" in got.sql
    assert got.records == want and len(want) > 0


def test_read_each_parses_each_distinct_text_once_and_keeps_every_value():
    from explorer.decode import read_each

    calls = []

    def parse(text):
        calls.append(text)
        return Decimal(text)

    texts = ["1.0", "1.00", None, "2.50"] * 3000  # repeats: each distinct text parsed once
    got = read_each(parse, texts)
    assert sorted(calls) == ["1.0", "1.00", "2.50"]
    assert [(str(v) if v is not None else None) for v in got] == texts  # Decimal('1.0') kept apart from '1.00'
    same = read_each(lambda v: v, [1, True, 1.0, Decimal("1.00")] * 3000)  # equal, not the same value
    assert [type(v) for v in same[:4]] == [int, bool, float, Decimal] and str(same[3]) == "1.00"
    assert read_each(len, [[1, 2], None] * 3000).tolist()[:2] == [2, None]  # lists do not hash
    assert read_each(int, []).tolist() == [] and read_each(int, [None, None]).tolist() == [None, None]


def test_integer_frames_cast_in_c_keep_every_value():
    import sqlalchemy as sa

    from explorer.decode import frame_array

    got = frame_array([1, None, -2**63, 2**63 - 1], sa.BigInteger())
    assert str(got.dtype) == "Int64" and got.isna().tolist() == [False, True, False, False]
    assert [int(v) for v in got[[0, 2, 3]]] == [1, -2**63, 2**63 - 1]
    unsigned = frame_array([2**64 - 1, None], sa.BigInteger().with_variant(sa.dialects.mysql.BIGINT(unsigned=True), "mysql"))
    assert list(unsigned.astype(object))[0] == 2**64 - 1  # UInt64 or objects: the value itself
    for kept in ([2**63, None], [1, float("nan")]):  # beyond int64; a NaN is a value, not NULL
        objects = frame_array(kept, sa.BigInteger())
        assert str(objects.dtype) == "object" and objects[0] == kept[0]
    nan = frame_array([1, float("nan")], sa.BigInteger())[1]
    assert isinstance(nan, float) and nan != nan  # NaN itself, not <NA>
