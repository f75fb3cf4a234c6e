"""A small lending library over two databases, for paranoid, through and top-N include tests.

``lending`` holds members and their loans, ``catalog`` the books, authors and
the junction ``book_authors``; a loan belongs_to a book across the databases.
Members, loans, books and book_authors are paranoid (``deleted_at``).

The builders return the config dict (``{"databases": ..., "models": ...}``) and
never load it, so they work whatever explorer's loader accepts; tests load it.

Notable rows (ids), so tests can say what they expect:

* loans per member, counting visible (not soft-deleted) loans: Ada (1) 6 and
  one soft-deleted (loan 6, her latest), Björn (2) 3, Chidi (3) 2, Dana (4) 1,
  Émile (5) 0, Frank (6, soft-deleted member) 2, Grace (7) 5, Hal (8) 0 and one
  soft-deleted (loan 21);
* loaned_at ties: Ada's loans 3 and 4 (2024-03-01 09:00), Grace's loans 17
  and 18 (2024-04-05 15:00; loan 18 is inserted before 17);
* each member's 3 latest loans (loaned_at desc, ties by id): Ada [5, 3, 4]
  ([6, 5, 3] with ``paranoid: false``: the tie then decides that 4 is out),
  Björn [10, 9, 8], Chidi [12, 11], Dana [13], Grace [20, 19, 17] (the tie at
  the cut keeps 17), Émile and Hal []; Frank [15, 14] once the root shows him;
* book 5 "Withdrawn Atlas" is soft-deleted and borrowed (loans 5 and 9);
  books.year has NULLs (books 2, 6) and ties (1943: books 1, 8; 1946: 3, 5);
* book 6 has no authors; author 5 (Zoë Quill) has no books; book 8's only
  junction row is soft-deleted, as is book 2's illustrator row (author 4);
* roles: author, translator, illustrator and ``editor's note``.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import sqlalchemy as sa

LENDING = "lending"
CATALOG = "catalog"


def _tables() -> dict[str, list[sa.Table]]:
    metadata = sa.MetaData()
    text = sa.String(200)

    def key(name: str) -> sa.Column:
        return sa.Column(name, sa.Integer, primary_key=True, autoincrement=False)

    lending = [
        sa.Table("members", metadata, key("id"), sa.Column("name", text), sa.Column("joined_on", sa.Date),
                 sa.Column("deleted_at", sa.DateTime, nullable=True)),
        sa.Table("loans", metadata, key("id"), sa.Column("member_id", sa.Integer),
                 sa.Column("book_id", sa.Integer), sa.Column("loaned_at", sa.DateTime, nullable=False),
                 sa.Column("returned_on", sa.Date, nullable=True),
                 sa.Column("deleted_at", sa.DateTime, nullable=True)),
    ]
    catalog = [
        sa.Table("books", metadata, key("id"), sa.Column("title", text),
                 sa.Column("year", sa.Integer, nullable=True), sa.Column("deleted_at", sa.DateTime, nullable=True)),
        sa.Table("authors", metadata, key("id"), sa.Column("name", text)),
        sa.Table("book_authors", metadata, key("book_id"), key("author_id"), sa.Column("role", sa.String(50)),
                 sa.Column("position", sa.Integer), sa.Column("deleted_at", sa.DateTime, nullable=True)),
    ]
    return {LENDING: lending, CATALOG: catalog}


LIBRARY_TABLES: dict[str, list[sa.Table]] = _tables()


def _at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, minute)


def _on(month: int, day: int, year: int = 2024) -> dt.date:
    return dt.date(year, month, day)


LIBRARY_ROWS: dict[str, list[tuple]] = {
    # (id, name, joined_on, deleted_at)
    "members": [
        (1, "Ada Lovelace", _on(1, 5, 2023), None),
        (2, "Björn Ødegård", _on(2, 11, 2023), None),
        (3, "Chidi O'Connor", _on(2, 11, 2023), None),      # joined the same day as Björn
        (4, "Dana Whitfield", _on(3, 1, 2023), None),
        (5, "Émile 陈", _on(4, 18, 2023), None),             # no loans
        (6, "Frank Gone", _on(5, 2, 2023), _at(2, 1)),       # soft-deleted, with loans
        (7, "Grace Hopper", _on(6, 30, 2023), None),
        (8, "Hal Incandenza", _on(7, 7, 2023), None),        # only a soft-deleted loan
    ],
    # (id, member_id, book_id, loaned_at, returned_on, deleted_at)
    "loans": [
        (1, 1, 1, _at(2, 1), _on(2, 10), None),
        (2, 1, 2, _at(2, 5), _on(2, 20), None),
        (3, 1, 3, _at(3, 1, 9), None, None),                 # tie with loan 4
        (4, 1, 4, _at(3, 1, 9), _on(3, 15), None),
        (5, 1, 5, _at(3, 10, 12), None, None),               # a soft-deleted book
        (6, 1, 7, _at(3, 20, 12), None, _at(3, 21, 8)),      # soft-deleted: Ada's latest
        (7, 1, 8, _at(1, 15, 16, 45), _on(1, 30), None),
        (8, 2, 1, _at(2, 15, 11), _on(2, 28), None),
        (9, 2, 5, _at(5, 1, 14), None, None),
        (10, 2, 8, _at(5, 2, 14), _on(5, 3), None),
        (11, 3, 2, _at(3, 3), None, None),
        (12, 3, 2, _at(6, 1), None, None),                   # the same book again
        (13, 4, 7, _at(6, 10, 18), _on(6, 20), None),
        (14, 6, 4, _at(1, 20), None, None),
        (15, 6, 6, _at(1, 22), _on(1, 25), None),
        (16, 7, 1, _at(4, 1), _on(4, 15), None),
        (18, 7, 3, _at(4, 5, 15), _on(4, 20), None),         # inserted before 17, its tie
        (17, 7, 6, _at(4, 5, 15), None, None),
        (19, 7, 8, _at(4, 8, 9, 30), None, None),
        (20, 7, 4, _at(4, 10, 13), _on(4, 11), None),
        (21, 8, 3, _at(7, 1), None, _at(7, 2)),              # soft-deleted
    ],
    # (id, title, year, deleted_at)
    "books": [
        (1, "Le Petit Prince", 1943, None),
        (2, "Don Quixote", None, None),
        (3, "Comet in Moominland", 1946, None),
        (4, "Night Flight", 1931, None),
        (5, "Withdrawn Atlas", 1946, _at(1, 31)),            # soft-deleted, borrowed
        (6, "Anonymous Ballads", None, None),                # no authors
        (7, "Moominsummer Madness", 1954, None),
        (8, "The Prince's Sketchbook", 1943, None),          # its only junction row is soft-deleted
    ],
    # (id, name)
    "authors": [
        (1, "Antoine de Saint-Exupéry"),
        (2, "Miguel de Cervantes"),
        (3, "Edith Grossman"),
        (4, "Tove Jansson"),
        (5, "Zoë Quill"),                                    # no books
    ],
    # (book_id, author_id, role, position, deleted_at)
    "book_authors": [
        (1, 1, "author", 1, None),
        (1, 3, "translator", 2, None),
        (2, 2, "author", 1, None),
        (2, 3, "translator", 2, None),
        (2, 4, "illustrator", 3, _at(1, 10)),                # soft-deleted
        (3, 4, "author", 1, None),
        (3, 3, "editor's note", 2, None),
        (4, 1, "author", 1, None),
        (5, 2, "author", 1, None),                           # of the soft-deleted book
        (7, 4, "author", 1, None),
        (7, 1, "illustrator", 2, None),
        (8, 1, "illustrator", 1, _at(2, 2)),                 # soft-deleted
    ],
}

LIBRARY_MODELS: dict = {
    "Member": {
        "database": LENDING, "table": "members", "paranoid": "deleted_at",
        "associations": {
            "loans": {"has_many": "Loan", "foreign_key": "member_id"},
            "recent_loans": {"has_many": "Loan", "foreign_key": "member_id", "scope": {"returned_on": None}},
        },
    },
    "Loan": {
        "database": LENDING, "table": "loans", "paranoid": "deleted_at",
        "associations": {
            "book": {"belongs_to": "Book", "foreign_key": "book_id"},
            "member": {"belongs_to": "Member", "foreign_key": "member_id"},
        },
    },
    "Book": {
        "database": CATALOG, "table": "books", "paranoid": "deleted_at",
        "associations": {
            "authors": {"belongs_to_many": "Author", "through": "BookAuthor",
                        "foreign_key": "book_id", "other_key": "author_id"},
            "loans": {"has_many": "Loan", "foreign_key": "book_id"},
        },
    },
    "Author": {
        "database": CATALOG, "table": "authors",
        "associations": {
            "books": {"belongs_to_many": "Book", "through": "BookAuthor",
                      "foreign_key": "author_id", "other_key": "book_id"},
        },
    },
    "BookAuthor": {"database": CATALOG, "table": "book_authors", "primary_key": ["book_id", "author_id"],
                   "paranoid": "deleted_at"},
}


def library_config(urls: dict[str, str], schemas: dict[str, str] | None = None) -> dict:
    """The library's config dict for the given database URLs (and PostgreSQL schemas)."""
    databases = {}
    for name, url in urls.items():
        databases[name] = {"url": url, **({"schema": schemas[name]} if schemas and name in schemas else {})}
    return {"databases": databases, "models": copy.deepcopy(LIBRARY_MODELS)}


def load_rows(connection: sa.Connection, tables: list[sa.Table], schema: str | None) -> None:
    """(Re)create ``tables`` in ``schema`` and insert their rows, in the listed order."""
    for table in tables:
        table = table.to_metadata(sa.MetaData(), schema=schema)
        table.drop(connection, checkfirst=True)
        table.create(connection)
        columns = [c.name for c in table.columns]
        connection.execute(table.insert(), [dict(zip(columns, row)) for row in LIBRARY_ROWS[table.name]])


def build_sqlite(directory: str | Path) -> dict:
    """Write lending.db and catalog.db into ``directory``; the config dict (absolute sqlite URLs)."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    urls = {}
    for name, tables in LIBRARY_TABLES.items():
        path = directory / f"{name}.db"
        path.unlink(missing_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}")
        try:
            with engine.begin() as connection:
                load_rows(connection, tables, None)
        finally:
            engine.dispose()
        urls[name] = f"sqlite:///{path}"
    return library_config(urls)


def _names(names: dict[str, str] | None) -> dict[str, str]:
    return names or {name: name for name in LIBRARY_TABLES}


def build_mysql(server_url: str, names: dict[str, str] | None = None) -> dict:
    """Create the two databases (logical name -> real name) on a MySQL/MariaDB server; the config dict."""
    names = _names(names)
    base = sa.engine.make_url(server_url).set(database=None)
    engine = sa.create_engine(base.update_query_dict({"charset": "utf8mb4"}))
    try:
        with engine.begin() as connection:
            for logical, tables in LIBRARY_TABLES.items():
                real = names[logical]
                connection.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{real}` CHARACTER SET utf8mb4")
                load_rows(connection, tables, real)
    finally:
        engine.dispose()
    return library_config({logical: base.set(database=real).render_as_string(hide_password=False)
                           for logical, real in names.items()})


def drop_mysql(server_url: str, names: dict[str, str] | None = None) -> None:
    engine = sa.create_engine(sa.engine.make_url(server_url).set(database=None))
    try:
        with engine.begin() as connection:
            for real in _names(names).values():
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{real}`")
    finally:
        engine.dispose()


def build_postgresql(database_url: str, schemas: dict[str, str] | None = None) -> dict:
    """Create the two databases as schemas (logical name -> schema) of one PostgreSQL database."""
    schemas = _names(schemas)
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            for logical, tables in LIBRARY_TABLES.items():
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schemas[logical]}" CASCADE')
                connection.exec_driver_sql(f'CREATE SCHEMA "{schemas[logical]}"')
                load_rows(connection, tables, schemas[logical])
    finally:
        engine.dispose()
    return library_config({name: database_url for name in schemas}, schemas)


def drop_postgresql(database_url: str, schemas: dict[str, str] | None = None) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            for schema in _names(schemas).values():
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        engine.dispose()
