"""Junction attributes, top-N per parent and soft deletes, on the lending library (tests/library.py).

Every query runs on SQLite, MariaDB and PostgreSQL, both strategies where the JSON
strategy can express it, and is checked three ways: against the independent oracle
(tests/oracle.py), against SQL written here by hand, and by the statements the server
received (one). Errors for options in the wrong place name the query path.
"""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER
from oracle import Oracle, normalize
from test_oracle import frame_rows, frames_from_records, strategies_for
from test_statement_count import com_select, engine_of, on_checkout, traced_postgresql

import explorer

QUERIES: dict[str, dict] = {
    # top-N per parent
    "latest_three_loans": {"from": "Member", "attributes": ["id", "name"],
                           "include": [{"loans": {"attributes": ["id", "loaned_at"],
                                                  "order": [["loaned_at", "desc"]], "limit": 3}}]},
    "latest_loans_deleted_shown": {"from": "Member", "attributes": ["id"],
                                   "include": [{"loans": {"attributes": ["id"], "order": [["loaned_at", "desc"]],
                                                          "limit": 3, "paranoid": False}}]},
    "deleted_members_shown": {"from": "Member", "attributes": ["id"], "paranoid": False,
                              "include": [{"loans": {"attributes": ["id"], "order": ["loaned_at"],
                                                     "limit": 2, "offset": 1}}]},
    "offsets_at_two_levels": {"from": "Author", "attributes": ["id"],
                              "include": [{"books": {"attributes": ["id", "year"], "order": [["year", "desc"]],
                                                     "limit": 2, "offset": 1,
                                                     "include": [{"loans": {"attributes": ["id"],
                                                                            "order": [["loaned_at", "asc"]],
                                                                            "limit": 1, "offset": 1}}]}}]},
    "top_n_of_children_with_a_required_child": {
        "from": "Member", "attributes": ["id"],
        "include": [{"loans": {"attributes": ["id"], "order": [["loaned_at", "desc"]], "limit": 3,
                               "include": [{"book": {"required": True, "attributes": ["title"]}}]}}]},
    "limit_zero": {"from": "Member", "attributes": ["id"], "include": [{"loans": {"limit": 0}}]},
    "limit_zero_required": {"from": "Member", "attributes": ["id"],
                            "include": [{"loans": {"limit": 0, "required": True}}]},
    "offset_past_the_list_required": {"from": "Member", "attributes": ["id"],
                                      "include": [{"loans": {"attributes": ["id"], "offset": 2, "required": True}}]},
    "top_n_under_a_root_limit": {"from": "Member", "attributes": ["id"], "order": [["id", "desc"]],
                                 "limit": 3, "offset": 1,
                                 "include": [{"loans": {"attributes": ["id"], "order": [["loaned_at", "desc"]],
                                                        "limit": 2, "required": True}}]},
    "top_n_then_nested_filter": {"from": "Member", "attributes": ["id"],
                                 "where": {"$loans.book_id$": {"in": [1, 3, 8]}},
                                 "include": [{"loans": {"attributes": ["id", "book_id"],
                                                        "order": [["loaned_at", "desc"]], "limit": 3}}]},
    "own_order_without_limit": {"from": "Member", "attributes": ["id"],
                                "include": [{"loans": {"attributes": ["id"],
                                                       "order": [["returned_on", "desc"], ["loaned_at", "asc"]]}}]},
    "top_n_of_a_scoped_association": {"from": "Member", "attributes": ["id"],
                                      "include": [{"recent_loans": {"attributes": ["id"],
                                                                    "order": [["loaned_at", "desc"]], "limit": 2}}]},
    "top_n_belongs_to_many": {"from": "Author", "attributes": ["name"],
                              "include": [{"books": {"attributes": ["title"], "order": [["year", "desc"]], "limit": 2,
                                                     "through": {"attributes": ["role"]}}}]},
    "siblings_with_own_lists": {"from": "Book", "attributes": ["id"],
                                "include": [{"loans": {"attributes": ["id"], "order": [["loaned_at", "desc"]],
                                                       "limit": 1}},
                                            {"authors": {"attributes": ["id"], "order": [["id", "desc"]],
                                                         "limit": 1}}]},
    # junction attributes
    "junction_attributes_with_a_where": {"from": "Book", "attributes": ["id", "title"],
                                         "include": [{"authors": {"attributes": ["name"], "through": {
                                             "attributes": ["role", "position"],
                                             "where": {"role": {"ne": "translator"}}}}}]},
    "junction_attributes_under_a_root_limit": {"from": "Book", "attributes": ["id"], "order": [["title", "asc"]],
                                               "limit": 3, "offset": 1,
                                               "include": [{"authors": {"required": True, "attributes": ["name"],
                                                                        "through": {"attributes": ["role"]}}}]},
    "junction_where_without_attributes": {"from": "Author", "attributes": ["id"],
                                          "include": [{"books": {"attributes": ["id"],
                                                                 "through": {"where": {"position": 1}}}}]},
    "deleted_links_shown": {"from": "Book", "attributes": ["id"],
                            "include": [{"authors": {"attributes": ["id"],
                                                     "through": {"attributes": ["role"], "paranoid": False}}}]},
    # soft deletes
    "paranoid_everywhere": {"from": "Member", "attributes": ["id"],
                            "include": [{"loans": {"attributes": ["id"], "include": [
                                {"book": {"attributes": ["id"], "include": [
                                    {"authors": {"attributes": ["id"], "through": {"attributes": ["role"]}}}]}}]}}]},
    "paranoid_off_at_each_level": {"from": "Loan", "attributes": ["id"], "paranoid": False,
                                   "include": [{"book": {"attributes": ["id"], "paranoid": False}},
                                               {"member": {"attributes": ["id"], "paranoid": False}}]},
    "paranoid_required_include": {"from": "Member", "attributes": ["id"],
                                  "include": [{"loans": {"attributes": ["id"], "required": True,
                                                         "include": [{"book": {"attributes": ["id"],
                                                                               "required": True}}]}}]},
}


def load(config_dict: dict) -> explorer.Config:
    return explorer.load_config(config_dict)


def backend(config: explorer.Config) -> str:
    return next(iter(config.databases.values())).url.get_backend_name()


def check(config: explorer.Config, query: dict) -> list[dict]:
    """Both strategies give the oracle's records (and frames) for the query."""
    oracle = Oracle(config, backend(config))
    want = normalize(oracle.records(query))
    with_keys = normalize(oracle.records(query, keys=True))
    for strategy in strategies_for(config, query):
        result = explorer.run(config, {**query, "strategy": strategy})
        assert normalize(result.records) == want, f"records differ for strategy {strategy}"
        assert frame_rows(result) == frames_from_records(config, result.query, with_keys), \
            f"frames differ for strategy {strategy}"
    return want


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_oracle_agrees(library_dict, name):
    check(load(library_dict), QUERIES[name])


def test_the_answers_are_the_ones_the_data_was_made_for(library_sqlite_dict):
    config = load(library_sqlite_dict)
    loans = {m["id"]: [loan["id"] for loan in m["loans"]] for m in check(config, QUERIES["latest_three_loans"])}
    # Ada's latest loan (6) is soft-deleted, 3 and 4 tie on loaned_at (the key decides), Frank is deleted.
    assert loans == {1: [5, 3, 4], 2: [10, 9, 8], 3: [12, 11], 4: [13], 5: [], 7: [20, 19, 17], 8: []}
    shown = {m["id"]: [loan["id"] for loan in m["loans"]] for m in check(config, QUERIES["latest_loans_deleted_shown"])}
    assert shown[1] == [6, 5, 3] and shown[8] == [21]
    assert [m["id"] for m in check(config, QUERIES["deleted_members_shown"])] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert check(config, QUERIES["limit_zero_required"]) == []
    assert all(m["loans"] == [] for m in check(config, QUERIES["limit_zero"]))
    books = {b["id"]: b["authors"] for b in check(config, QUERIES["junction_attributes_with_a_where"])}
    assert 5 not in books and books[8] == [] and books[6] == []
    assert books[3] == [{"name": "Edith Grossman", "BookAuthor": {"role": "editor's note", "position": 2}},
                        {"name": "Tove Jansson", "BookAuthor": {"role": "author", "position": 1}}]


# ---------------------------------------------------------------------------
# The same answers from SQL written by hand


def hand_sql(config_dict: dict, sql: str) -> list[tuple]:
    """Run ``sql`` with ``{lending}``/``{catalog}`` standing for each database's qualifier."""
    urls = {name: sa.engine.make_url(db["url"]) for name, db in config_dict["databases"].items()}
    kind = next(iter(urls.values())).get_backend_name()
    if kind == "sqlite":
        connection = sqlite3.connect(":memory:")
        try:
            for name, url in urls.items():
                connection.execute(f"ATTACH DATABASE '{url.database}' AS {name}")
            return connection.execute(sql.format(lending="lending", catalog="catalog")).fetchall()
        finally:
            connection.close()
    if kind == "mysql":
        names = {name: f"`{url.database}`" for name, url in urls.items()}
    else:
        names = {name: f'"{db["schema"]}"' for name, db in config_dict["databases"].items()}
    engine = sa.create_engine(next(iter(urls.values())), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql.format(**names))]
    finally:
        engine.dispose()


def test_top_three_loans_match_a_hand_written_window(library_dict):
    config = load(library_dict)
    rows = hand_sql(library_dict, """
        SELECT r.member_id, r.id FROM (
            SELECT l.member_id, l.id, ROW_NUMBER() OVER (PARTITION BY l.member_id
                                                         ORDER BY l.loaned_at DESC, l.id) AS rn
            FROM {lending}.loans l WHERE l.deleted_at IS NULL) r
        JOIN {lending}.members m ON m.id = r.member_id
        WHERE m.deleted_at IS NULL AND r.rn <= 3 ORDER BY r.member_id, r.rn""")
    want: dict[int, list[int]] = {}
    for member, loan in rows:
        want.setdefault(member, []).append(loan)
    for strategy in ("join", "json"):
        records = explorer.run(config, {**QUERIES["latest_three_loans"], "strategy": strategy}).records
        assert {m["id"]: [loan["id"] for loan in m["loans"]] for m in records if m["loans"]} == want


def test_offsets_at_two_levels_match_hand_written_windows(library_dict):
    config = load(library_dict)
    rows = hand_sql(library_dict, """
        SELECT b.author_id, b.book_id, l.id FROM (
            SELECT ba.author_id, ba.book_id, ROW_NUMBER() OVER (PARTITION BY ba.author_id
                                                                ORDER BY k.year DESC, k.id) AS rn
            FROM {catalog}.book_authors ba JOIN {catalog}.books k ON k.id = ba.book_id
            WHERE ba.deleted_at IS NULL AND k.deleted_at IS NULL) b
        LEFT JOIN (
            SELECT x.book_id, x.id, ROW_NUMBER() OVER (PARTITION BY x.book_id ORDER BY x.loaned_at, x.id) AS rn
            FROM {lending}.loans x WHERE x.deleted_at IS NULL) l ON l.book_id = b.book_id AND l.rn = 2
        WHERE b.rn BETWEEN 2 AND 3 ORDER BY b.author_id, b.rn""")
    want = {(author, book): [loan] if loan is not None else [] for author, book, loan in rows}
    for strategy in ("join", "json"):
        records = explorer.run(config, {**QUERIES["offsets_at_two_levels"], "strategy": strategy}).records
        got = {(a["id"], b["id"]): [loan["id"] for loan in b["loans"]] for a in records for b in a["books"]}
        assert got == want
        order = [(a["id"], b["id"]) for a in records for b in a["books"]]
        assert order == list(want)  # each author's books in the window's order


def test_junction_attributes_match_a_hand_written_join(library_dict):
    config = load(library_dict)
    rows = hand_sql(library_dict, """
        SELECT ba.book_id, a.name, ba.role, ba.position FROM {catalog}.book_authors ba
        JOIN {catalog}.authors a ON a.id = ba.author_id JOIN {catalog}.books b ON b.id = ba.book_id
        WHERE ba.deleted_at IS NULL AND b.deleted_at IS NULL AND ba.role <> 'translator'
        ORDER BY ba.book_id, a.id""")
    for strategy in ("join", "json"):
        result = explorer.run(config, {**QUERIES["junction_attributes_with_a_where"], "strategy": strategy})
        got = [(b["id"], a["name"], a["BookAuthor"]["role"], a["BookAuthor"]["position"])
               for b in result.records for a in b["authors"]]
        assert got == [tuple(row) for row in rows]
        frame = result.frames["authors.BookAuthor"]
        assert list(frame.columns) == ["authors.id", "book_id", "author_id", "role", "position"]
        assert sorted(frame["role"]) == sorted(row[2] for row in rows)


def test_soft_deleted_rows_match_hand_written_filters(library_dict):
    config = load(library_dict)
    visible = [row[0] for row in hand_sql(library_dict,
                                          "SELECT id FROM {lending}.members WHERE deleted_at IS NULL ORDER BY id")]
    every = [row[0] for row in hand_sql(library_dict, "SELECT id FROM {lending}.members ORDER BY id")]
    assert [m["id"] for m in explorer.run(config, {"from": "Member", "attributes": ["id"]}).records] == visible
    assert [m["id"] for m in explorer.run(config, {"from": "Member", "attributes": ["id"],
                                                   "paranoid": False}).records] == every
    loans = hand_sql(library_dict, """
        SELECT l.id FROM {lending}.loans l JOIN {catalog}.books b ON b.id = l.book_id
        WHERE l.deleted_at IS NULL AND b.deleted_at IS NULL ORDER BY l.id""")
    result = explorer.run(config, {"from": "Loan", "attributes": ["id"],
                                   "include": [{"book": {"attributes": ["id"], "required": True}}]})
    assert [loan["id"] for loan in result.records] == [row[0] for row in loans]
    assert "deleted_at IS NULL" in " ".join(result.sql.split())


# ---------------------------------------------------------------------------
# One statement, as the servers count them

ONE_STATEMENT = {"from": "Member", "attributes": ["id"], "limit": 4,
                 "include": [{"loans": {"attributes": ["id"], "order": [["loaned_at", "desc"]], "limit": 2,
                                        "include": [{"book": {"attributes": ["id"], "include": [
                                            {"authors": {"attributes": ["id"], "limit": 1,
                                                         "through": {"attributes": ["role"]}}}]}}]}}]}


@pytest.mark.parametrize("strategy", ["join", "json"])
def test_sqlite_runs_one_statement(library_sqlite_dict, strategy):
    config = load(library_sqlite_dict)
    query = {**ONE_STATEMENT, "strategy": strategy}
    explorer.run(config, query)
    statements: list[str] = []
    with on_checkout(engine_of(config), lambda c: c.set_trace_callback(statements.append),
                     lambda c: c.set_trace_callback(None)):
        explorer.run(config, query)
    assert len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]) == 1, statements


@pytest.mark.mysql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_mariadb_runs_one_statement(library_mysql_dict, strategy):
    config = load(library_mysql_dict)
    config.reader = "driver"
    query = {**ONE_STATEMENT, "strategy": strategy}
    explorer.run(config, query)
    watcher = sa.create_engine(MYSQL_SERVER, poolclass=sa.pool.NullPool)
    deltas = []
    with watcher.connect() as connection:
        for _ in range(5):  # other sessions can only add to the server's counter
            before = com_select(connection)
            explorer.run(config, query)
            deltas.append(com_select(connection) - before)
            if deltas[-1] == 1:
                break
    watcher.dispose()
    assert min(deltas) == 1, deltas


@pytest.mark.postgresql
@pytest.mark.parametrize("strategy", ["join", "json"])
def test_postgresql_runs_one_statement(library_postgresql_dict, strategy):
    config = load(library_postgresql_dict)
    query = {**ONE_STATEMENT, "strategy": strategy}
    explorer.run(config, query)
    tags = [rest.strip('"').split()[0] for direction, kind, rest in traced_postgresql(config, query)
            if direction == "B" and kind == "CommandComplete"]
    assert tags.count("SELECT") == 1, tags


# ---------------------------------------------------------------------------
# Options in the wrong place: errors that name the query path


@pytest.mark.parametrize("query, message", [
    ({"from": "Loan", "include": [{"book": {"limit": 2}}]},
     r"include\.book\.limit: Loan\.book is a belongs_to .*has_many and belongs_to_many"),
    ({"from": "Member", "include": [{"loans": {"through": {"attributes": ["id"]}}}]},
     r"include\.loans\.through: Member\.loans is a has_many; only a belongs_to_many"),
    ({"from": "Book", "include": [{"authors": {"through": {"attributes": ["rank"]}}}]},
     r"include\.authors\.through\.attributes: BookAuthor has no column 'rank'.*role"),
    ({"from": "Book", "include": [{"authors": {"through": {"colour": 1}}}]},
     r"include\.authors\.through\.colour: unknown option"),
    ({"from": "Member", "include": [{"loans": {"order": [["loaned", "desc"]]}}]},
     r"include\.loans\.order\.0: Loan has no column 'loaned'.*loaned_at"),
    ({"from": "Member", "include": [{"loans": {"order": [["book.title", "desc"]]}}]},
     r"include\.loans\.order\.0: 'book' is not an included path"),
    ({"from": "Member", "include": [{"loans": {"limit": -1}}]},
     r"include\.loans\.limit: expected a whole number >= 0"),
    ({"from": "Member", "paranoid": "no"}, r"^paranoid: expected true or false"),
    ({"from": "Member", "include": [{"loans": {"paranoid": 0}}]}, r"include\.loans\.paranoid: expected true or false"),
])
def test_misplaced_options_name_the_path(library_sqlite_dict, query, message):
    with pytest.raises(explorer.QueryError, match=message):
        explorer.prepare(load(library_sqlite_dict), query)


def test_a_paranoid_column_the_table_lacks_is_a_config_error(library_sqlite_dict):
    library_sqlite_dict = {**library_sqlite_dict, "models": {**library_sqlite_dict["models"]}}
    library_sqlite_dict["models"]["Author"] = {**library_sqlite_dict["models"]["Author"], "paranoid": "removed_at"}
    config = load(library_sqlite_dict)
    with pytest.raises(explorer.ConfigError, match=r"models\.Author\.paranoid: table 'authors' \(Author\).*"
                                                   r"has no column 'removed_at'"):
        explorer.prepare(config, {"from": "Author"})
    with pytest.raises(explorer.ConfigError, match=r"models\.Author\.paranoid: expected the name of the "
                                                   r"soft-delete column"):
        load({**library_sqlite_dict, "models": {**library_sqlite_dict["models"],
                                                "Author": {"database": "catalog", "table": "authors",
                                                           "paranoid": True}}})


def test_a_junction_named_like_a_column_or_include_is_refused(library_sqlite_dict):
    models = dict(library_sqlite_dict["models"])
    models["Author"] = {**models["Author"], "associations": {
        **models["Author"]["associations"],
        "BookAuthor": {"has_many": "BookAuthor", "foreign_key": "author_id"}}}
    config = load({**library_sqlite_dict, "models": models})
    query = {"from": "Book", "include": [{"authors": {"through": {"attributes": ["role"]}, "include": ["BookAuthor"]}}]}
    with pytest.raises(explorer.QueryError, match=r"include\.authors\.through\.attributes: .*'BookAuthor'"):
        explorer.prepare(config, query)
