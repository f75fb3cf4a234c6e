"""explorer.introspect.draft_config (``crossquery init``) against live schemas.

The same schema is built on MariaDB (two databases, a foreign key across them), on
PostgreSQL (two schemas of crossquery_test) and on SQLite (two files): a self-reference,
a unique key (has_one), a primary key that is a foreign key, a composite key with a
composite foreign key to it, and a junction table. The draft must name every
constraint exactly as a hand-written config of the schema does, load, and give the
same records for a nested query. A second schema without constraints checks the
associations inferred from column names. Server tests skip when a server is not
answering (unless CROSSQUERY_REQUIRE_SERVERS=1); everything created is dropped.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
import yaml
from conftest import MYSQL_SERVER, PREFIX, _ensure_postgres_database, _unavailable, postgres_url

import explorer
from explorer.errors import ConfigError
from explorer.introspect import INFERRED_COMMENT, WRITE_INFERRED_KEY, draft_config, write_yaml

# (database, statement); {crm}/{cat}/{blog} qualify a table with its database (nothing on SQLite).
CONSTRAINED = [
    ("cat", "CREATE TABLE {cat}products (id INTEGER PRIMARY KEY, name VARCHAR(50), sku VARCHAR(20) UNIQUE)"),
    ("crm", "CREATE TABLE {crm}users (id INTEGER PRIMARY KEY, name VARCHAR(50), manager_id INTEGER, "
            "FOREIGN KEY (manager_id) REFERENCES {crm}users (id))"),
    ("crm", "CREATE TABLE {crm}profiles (id INTEGER PRIMARY KEY, user_id INTEGER UNIQUE, bio VARCHAR(50), "
            "FOREIGN KEY (user_id) REFERENCES {crm}users (id))"),
    ("crm", "CREATE TABLE {crm}user_settings (user_id INTEGER PRIMARY KEY, theme VARCHAR(20), "
            "FOREIGN KEY (user_id) REFERENCES {crm}users (id))"),
    ("crm", "CREATE TABLE {crm}orders (id INTEGER PRIMARY KEY, user_id INTEGER, note VARCHAR(50), "
            "FOREIGN KEY (user_id) REFERENCES {crm}users (id))"),
    ("crm", "CREATE TABLE {crm}order_lines (order_id INTEGER NOT NULL, line_no INTEGER NOT NULL, "
            "product_id INTEGER, qty INTEGER, PRIMARY KEY (order_id, line_no), "
            "FOREIGN KEY (order_id) REFERENCES {crm}orders (id), "
            "FOREIGN KEY (product_id) REFERENCES {cat}products (id))"),
    ("crm", "CREATE TABLE {crm}order_products (order_id INTEGER NOT NULL, product_id INTEGER NOT NULL, "
            "PRIMARY KEY (order_id, product_id), FOREIGN KEY (order_id) REFERENCES {crm}orders (id), "
            "FOREIGN KEY (product_id) REFERENCES {cat}products (id))"),
    ("cat", "CREATE TABLE {cat}line_notes (id INTEGER PRIMARY KEY, order_id INTEGER, line_no INTEGER, "
            "body VARCHAR(50), FOREIGN KEY (order_id, line_no) REFERENCES {crm}order_lines (order_id, line_no))"),
    ("cat", "INSERT INTO {cat}products VALUES (100, 'Pen', 'P1'), (101, 'Ink', 'I1'), (102, 'Pad', 'D1')"),
    ("crm", "INSERT INTO {crm}users VALUES (1, 'Ann', NULL), (2, 'Bob', 1), (3, 'Cy', 1)"),
    ("crm", "INSERT INTO {crm}profiles VALUES (7, 1, 'hello')"),
    ("crm", "INSERT INTO {crm}user_settings VALUES (2, 'dark')"),
    ("crm", "INSERT INTO {crm}orders VALUES (10, 1, 'first'), (11, 2, 'second'), (12, 1, 'third')"),
    ("crm", "INSERT INTO {crm}order_lines VALUES (10, 1, 100, 3), (10, 2, 101, 1), (11, 1, 100, 5)"),
    ("crm", "INSERT INTO {crm}order_products VALUES (10, 100), (10, 101), (11, 100), (12, 102)"),
    ("cat", "INSERT INTO {cat}line_notes VALUES (1, 10, 2, 'fragile'), (2, 10, 2, 'gift'), (3, 11, 1, 'late')"),
]

# No constraints at all: every association must come from a column's name.
LOOSE = [
    ("blog", "CREATE TABLE {blog}authors (id INTEGER, name VARCHAR(50))"),
    ("blog", "CREATE TABLE {blog}users (id INTEGER, name VARCHAR(50))"),
    ("blog", "CREATE TABLE {blog}categories (id INTEGER, name VARCHAR(50))"),
    ("blog", "CREATE TABLE {blog}tags (id INTEGER, label VARCHAR(50))"),
    # `category` is text, categories.id an integer: no association
    ("blog", "CREATE TABLE {blog}posts (id INTEGER, AuthorId INTEGER, title VARCHAR(50), category VARCHAR(20))"),
    # `user` names the table users; the association may not be named like the column
    ("blog", "CREATE TABLE {blog}comments (id INTEGER, post_id INTEGER, user INTEGER, body VARCHAR(50))"),
    ("blog", "CREATE TABLE {blog}post_tags (post_id INTEGER, tag_id INTEGER)"),
    ("blog", "INSERT INTO {blog}authors VALUES (1, 'Ann'), (2, 'Bob')"),
    ("blog", "INSERT INTO {blog}users VALUES (5, 'Eve')"),
    ("blog", "INSERT INTO {blog}tags VALUES (1, 'news'), (2, 'tech')"),
    ("blog", "INSERT INTO {blog}posts VALUES (20, 1, 'Hello', 'misc'), (21, 1, 'Again', 'misc'), (22, 2, 'Mine', 'x')"),
    ("blog", "INSERT INTO {blog}comments VALUES (30, 20, 5, 'nice'), (31, 20, 5, 'more')"),
    ("blog", "INSERT INTO {blog}post_tags VALUES (20, 1), (20, 2), (22, 2)"),
]


def constrained_models(crm: str, cat: str) -> dict:
    """The hand-written models of CONSTRAINED: what the draft must say, name for name."""
    return {
        "User": {"database": crm, "table": "users", "associations": {
            "manager": {"belongs_to": "User", "foreign_key": "manager_id"},
            "users": {"has_many": "User", "foreign_key": "manager_id"},
            "profile": {"has_one": "Profile", "foreign_key": "user_id"},
            "user_setting": {"has_one": "UserSetting", "foreign_key": "user_id"},
            "orders": {"has_many": "Order", "foreign_key": "user_id"}}},
        "Profile": {"database": crm, "table": "profiles", "associations": {
            "user": {"belongs_to": "User", "foreign_key": "user_id"}}},
        "UserSetting": {"database": crm, "table": "user_settings", "primary_key": "user_id", "associations": {
            "user": {"belongs_to": "User", "foreign_key": "user_id"}}},
        "Order": {"database": crm, "table": "orders", "associations": {
            "user": {"belongs_to": "User", "foreign_key": "user_id"},
            "order_lines": {"has_many": "OrderLine", "foreign_key": "order_id"},
            "order_products": {"has_many": "OrderProduct", "foreign_key": "order_id"},
            "products": {"belongs_to_many": "Product", "through": "OrderProduct",
                         "foreign_key": "order_id", "other_key": "product_id"}}},
        "OrderLine": {"database": crm, "table": "order_lines", "primary_key": ["order_id", "line_no"],
                      "associations": {
                          "order": {"belongs_to": "Order", "foreign_key": "order_id"},
                          "product": {"belongs_to": "Product", "foreign_key": "product_id"},
                          "line_notes": {"has_many": "LineNote", "foreign_key": ["order_id", "line_no"]}}},
        "OrderProduct": {"database": crm, "table": "order_products", "primary_key": ["order_id", "product_id"],
                         "associations": {
                             "order": {"belongs_to": "Order", "foreign_key": "order_id"},
                             "product": {"belongs_to": "Product", "foreign_key": "product_id"}}},
        "Product": {"database": cat, "table": "products", "associations": {
            "order_lines": {"has_many": "OrderLine", "foreign_key": "product_id"},
            "order_products": {"has_many": "OrderProduct", "foreign_key": "product_id"},
            "orders": {"belongs_to_many": "Order", "through": "OrderProduct",
                       "foreign_key": "product_id", "other_key": "order_id"}}},
        "LineNote": {"database": cat, "table": "line_notes", "associations": {
            "order_line": {"belongs_to": "OrderLine", "foreign_key": ["order_id", "line_no"]}}},
    }


def loose_models(blog: str) -> dict:
    mark = {"inferred": True} if WRITE_INFERRED_KEY else {}
    return {
        "Author": {"database": blog, "table": "authors", "associations": {
            "posts": {"has_many": "Post", "foreign_key": "AuthorId", **mark}}},
        "Category": {"database": blog, "table": "categories"},
        "Comment": {"database": blog, "table": "comments", "associations": {
            "post": {"belongs_to": "Post", "foreign_key": "post_id", **mark},
            "user_ref": {"belongs_to": "User", "foreign_key": "user", **mark}}},
        "PostTag": {"database": blog, "table": "post_tags", "primary_key": ["post_id", "tag_id"], "associations": {
            "post": {"belongs_to": "Post", "foreign_key": "post_id", **mark},
            "tag": {"belongs_to": "Tag", "foreign_key": "tag_id", **mark}}},
        "Post": {"database": blog, "table": "posts", "associations": {
            "author": {"belongs_to": "Author", "foreign_key": "AuthorId", **mark},
            "comments": {"has_many": "Comment", "foreign_key": "post_id", **mark},
            "post_tags": {"has_many": "PostTag", "foreign_key": "post_id", **mark},
            "tags": {"belongs_to_many": "Tag", "through": "PostTag", "foreign_key": "post_id",
                     "other_key": "tag_id", **mark}}},
        "Tag": {"database": blog, "table": "tags", "associations": {
            "post_tags": {"has_many": "PostTag", "foreign_key": "tag_id", **mark},
            "posts": {"belongs_to_many": "Post", "through": "PostTag", "foreign_key": "tag_id",
                      "other_key": "post_id", **mark}}},
        "User": {"database": blog, "table": "users", "associations": {
            "comments": {"has_many": "Comment", "foreign_key": "user", **mark}}},
    }


USERS_QUERY = {"from": "User", "order": [["id", "asc"], ["orders.id", "asc"], ["orders.products.id", "asc"]],
               "include": ["profile", "manager", "users", "user_setting",
                           {"orders": {"include": ["products", {"order_lines": {"include": ["product", "line_notes"]}}]}}]}
PRODUCTS_QUERY = {"from": "Product", "order": [["id", "asc"]], "include": [
    {"orders": {"include": ["user"]}}, {"order_lines": {"include": ["order"]}}]}
POSTS_QUERY = {"from": "Post", "order": [["id", "asc"], ["tags.id", "asc"]],
               "include": ["author", "tags", {"comments": {"include": ["user_ref"]}}]}


# ---------------------------------------------------------------------------
# Where the schemas live: one class per kind of server


class SQLitePlace:
    kind = "sqlite"

    def __init__(self, directory):
        self.directory = directory

    def real(self, logical: str) -> str:
        return logical  # the file's stem

    def path(self, logical: str):
        return self.directory / f"{logical}.db"

    def build(self, statements) -> None:
        for logical in dict.fromkeys(db for db, _ in statements):
            engine = sa.create_engine(f"sqlite:///{self.path(logical)}")
            with engine.begin() as connection:
                for db, sql in statements:
                    if db == logical:
                        connection.exec_driver_sql(sql.format(crm="", cat="", blog=""))
            engine.dispose()

    def urls(self, *logicals: str) -> list[str]:
        return [f"sqlite:///{self.path(name)}" for name in logicals]

    def databases(self, *logicals: str) -> dict:
        return {name: {"url": url} for name, url in zip(logicals, self.urls(*logicals))}

    def drop(self) -> None:
        pass  # tmp_path


class MySQLPlace:
    kind = "mysql"
    logicals = ("crm", "cat", "blog")

    def real(self, logical: str) -> str:
        return PREFIX + "init_" + logical

    def run(self, statements) -> None:
        engine = sa.create_engine(MYSQL_SERVER + "/")
        with engine.begin() as connection:
            for sql in statements:
                connection.exec_driver_sql(sql)
        engine.dispose()

    def build(self, statements) -> None:
        names = {name: f"`{self.real(name)}`." for name in self.logicals}
        self.run([f"CREATE DATABASE IF NOT EXISTS `{self.real(db)}`" for db in dict.fromkeys(d for d, _ in statements)]
                 + [sql.format(**names) for _, sql in statements])

    def urls(self, *logicals: str) -> list[str]:
        return [f"{MYSQL_SERVER}/{self.real(name)}" for name in logicals]

    def databases(self, *logicals: str) -> dict:
        return {self.real(name): {"url": url} for name, url in zip(logicals, self.urls(*logicals))}

    def drop(self) -> None:
        # The databases refer to each other: without the checks they drop in any order.
        self.run(["SET FOREIGN_KEY_CHECKS = 0"] +
                 [f"DROP DATABASE IF EXISTS `{self.real(name)}`" for name in self.logicals])


class PostgresPlace(MySQLPlace):
    kind = "postgresql"

    def run(self, statements) -> None:
        engine = sa.create_engine(postgres_url())
        with engine.begin() as connection:
            for sql in statements:
                connection.exec_driver_sql(sql)
        engine.dispose()

    def build(self, statements) -> None:
        names = {name: f'"{self.real(name)}".' for name in self.logicals}
        self.run([f'CREATE SCHEMA IF NOT EXISTS "{self.real(db)}"' for db in dict.fromkeys(d for d, _ in statements)]
                 + [_pg_quoted(sql.format(**names)) for _, sql in statements])

    def urls(self, *logicals: str) -> list[str]:  # one URL: the schemas of one database
        return [f"{postgres_url()}?schema={','.join(self.real(name) for name in logicals)}"]

    def databases(self, *logicals: str) -> dict:
        return {self.real(name): {"url": postgres_url(), "schema": self.real(name)} for name in logicals}

    def drop(self) -> None:
        self.run([f'DROP SCHEMA IF EXISTS "{self.real(name)}" CASCADE' for name in self.logicals])


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite"),
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
])
def place(request, tmp_path_factory):
    """Both schemas built on one kind of server, dropped afterwards (a test may ask for some kinds only)."""
    if request.param == "sqlite":
        found = SQLitePlace(tmp_path_factory.mktemp("init"))
    else:
        found = MySQLPlace() if request.param == "mysql" else PostgresPlace()
        try:
            if request.param == "postgresql":
                _ensure_postgres_database()
            found.drop()
        except Exception as exc:  # noqa: BLE001 - any failure to reach the server
            _unavailable(f"{request.param} server", exc)
    try:
        found.build(CONSTRAINED)
        found.build(LOOSE)
        yield found
    finally:
        found.drop()


def _pg_quoted(sql: str) -> str:
    # PostgreSQL folds unquoted names to lower case and reserves `user`.
    return sql.replace(" user ", ' "user" ').replace("AuthorId", '"AuthorId"')


@pytest.fixture(scope="module")
def draft(place):
    """The draft of CONSTRAINED, once per server."""
    return draft_config(place.urls("crm", "cat"))


def records(config, query) -> list:
    return json.loads(json.dumps(explorer.run(config, query).records, default=str))


# ---------------------------------------------------------------------------
# Constraints -> associations


def test_every_constraint_becomes_named_associations(place, draft):
    crm, cat = place.real("crm"), place.real("cat")
    assert list(draft.data["databases"]) == [crm, cat]
    assert draft.data["models"] == constrained_models(crm, cat)
    assert not any("Inferred" in note for note in draft.notes)
    if place.kind == "postgresql":
        assert [db["schema"] for db in draft.data["databases"].values()] == [crm, cat]
        assert all("schema=" not in db["url"] for db in draft.data["databases"].values())


def test_the_draft_loads_and_queries_like_the_hand_written_config(place, draft):
    hand = {"databases": place.databases("crm", "cat"),
            "models": constrained_models(place.real("crm"), place.real("cat"))}
    drafted = explorer.load_config(draft.yaml)  # the YAML text, comments and all
    assert set(drafted.models) == set(hand["models"])
    users = records(drafted, USERS_QUERY)
    assert users == records(hand, USERS_QUERY)
    ann = users[0]
    assert [p["name"] for p in ann["orders"][0]["products"]] == ["Pen", "Ink"]  # across databases
    assert ann["profile"]["bio"] == "hello" and [u["name"] for u in ann["users"]] == ["Bob", "Cy"]
    assert users[1]["manager"]["name"] == "Ann" and users[1]["user_setting"]["theme"] == "dark"
    notes = {n["body"] for o in ann["orders"] for line in o["order_lines"] for n in line["line_notes"]}
    assert notes == {"fragile", "gift"}  # a composite foreign key into the other database
    assert records(drafted, PRODUCTS_QUERY) == records(hand, PRODUCTS_QUERY)


def test_yaml_is_readable_databases_first_one_association_per_line(place, draft):
    text = draft.yaml
    assert text.index("databases:") < text.index("models:")
    assert yaml.safe_load(text) == draft.data
    line = next(line for line in text.splitlines() if line.strip().startswith("products:"))
    assert line.strip() == ("products: {belongs_to_many: Product, through: OrderProduct, "
                            "foreign_key: order_id, other_key: product_id}")
    assert draft_config(place.urls("crm", "cat")).yaml == text  # deterministic


def test_a_key_into_a_database_left_out_is_noted(place):
    draft = draft_config(place.urls("crm"))
    assert draft.data["models"]["OrderLine"]["associations"] == {
        "order": {"belongs_to": "Order", "foreign_key": "order_id"}}
    skipped = [n for n in draft.notes if "skipped" in n and "products" in n]
    assert len(skipped) == 2  # order_lines.product_id and order_products.product_id
    if place.kind != "sqlite":
        assert all(place.real("cat") in n and "add its URL" in n for n in skipped)


# ---------------------------------------------------------------------------
# No constraints -> associations inferred from column names


def test_associations_are_inferred_from_column_names_and_marked(place):
    draft = draft_config(place.urls("blog"))
    blog = place.real("blog")
    assert draft.data["models"] == loose_models(blog)
    marked = [line for line in draft.yaml.splitlines() if INFERRED_COMMENT in line]
    assert len(marked) == 12  # every association above, and nothing else
    assert "category" not in json.dumps(draft.data["models"]["Post"].get("associations", {}))
    assert any("Inferred Post.AuthorId -> Author.id" in note for note in draft.notes)
    assert any("PostTag" in note and "junction" in note for note in draft.notes)
    posts = records(explorer.load_config(draft.yaml), POSTS_QUERY)
    assert [p["author"]["name"] for p in posts] == ["Ann", "Ann", "Bob"]
    assert [t["label"] for t in posts[0]["tags"]] == ["news", "tech"]
    assert [c["user_ref"]["name"] for c in posts[0]["comments"]] == ["Eve", "Eve"]


# ---------------------------------------------------------------------------
# Names (SQLite: fast), passwords, errors


def _sqlite_file(path, *statements: str) -> str:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        for sql in statements:
            connection.exec_driver_sql(sql)
    engine.dispose()
    return f"sqlite:///{path}"


def test_names_follow_the_columns_and_never_collide(tmp_path):
    url = _sqlite_file(
        tmp_path / "chinook-like.db",
        "CREATE TABLE Employee (EmployeeId INTEGER PRIMARY KEY, ReportsTo INTEGER REFERENCES Employee (EmployeeId))",
        "CREATE TABLE Customer (CustomerId INTEGER PRIMARY KEY, SupportRepId INTEGER REFERENCES Employee (EmployeeId))",
        "CREATE TABLE invoice_lines (id INTEGER PRIMARY KEY, category_id INTEGER REFERENCES categories (id), "
        "category TEXT)",
        "CREATE TABLE categories (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES categories (id))",
        "CREATE TABLE users (id INTEGER PRIMARY KEY)",
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, sender_id INTEGER REFERENCES users (id), "
        "recipient_id INTEGER REFERENCES users (id))",
        "CREATE TABLE friendships (user_id INTEGER REFERENCES users (id), friend_id INTEGER REFERENCES users (id), "
        "PRIMARY KEY (user_id, friend_id))",
        "CREATE TABLE authors (id INTEGER PRIMARY KEY)",
        "CREATE TABLE books (id INTEGER PRIMARY KEY, authorid INTEGER)",  # as PostgreSQL folds AuthorId
    )
    draft = draft_config([url])
    assert list(draft.data["databases"]) == ["chinook_like"]
    models = draft.data["models"]
    assocs = {name: m.get("associations", {}) for name, m in models.items()}
    assert models["Employee"]["primary_key"] == "EmployeeId"
    assert assocs["Customer"] == {"support_rep": {"belongs_to": "Employee", "foreign_key": "SupportRepId"}}
    assert assocs["Employee"] == {"reports_to": {"belongs_to": "Employee", "foreign_key": "ReportsTo"},
                                  "employees": {"has_many": "Employee", "foreign_key": "ReportsTo"},
                                  "customers": {"has_many": "Customer", "foreign_key": "SupportRepId"}}
    assert models["InvoiceLine"]["table"] == "invoice_lines"
    assert assocs["InvoiceLine"] == {"category_ref": {"belongs_to": "Category", "foreign_key": "category_id"}}
    assert assocs["Category"] == {"parent": {"belongs_to": "Category", "foreign_key": "parent_id"},
                                  "categories": {"has_many": "Category", "foreign_key": "parent_id"},
                                  "invoice_lines": {"has_many": "InvoiceLine", "foreign_key": "category_id"}}
    assert assocs["Message"] == {"sender": {"belongs_to": "User", "foreign_key": "sender_id"},
                                 "recipient": {"belongs_to": "User", "foreign_key": "recipient_id"}}
    assert assocs["User"] == {
        "friendships": {"has_many": "Friendship", "foreign_key": "user_id"},
        "friend_friendships": {"has_many": "Friendship", "foreign_key": "friend_id"},
        "recipient_messages": {"has_many": "Message", "foreign_key": "recipient_id"},
        "sender_messages": {"has_many": "Message", "foreign_key": "sender_id"},
        "friends": {"belongs_to_many": "User", "through": "Friendship", "foreign_key": "user_id",
                    "other_key": "friend_id"},
        "users": {"belongs_to_many": "User", "through": "Friendship", "foreign_key": "friend_id",
                  "other_key": "user_id"}}
    assert assocs["Book"] == {"author": {"belongs_to": "Author", "foreign_key": "authorid",
                                         **({"inferred": True} if WRITE_INFERRED_KEY else {})}}
    explorer.load_config(draft.yaml)


def test_same_table_in_two_databases_gets_distinct_model_and_database_names(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _sqlite_file(tmp_path / "a" / "shop.db", "CREATE TABLE users (id INTEGER PRIMARY KEY)")
    second = _sqlite_file(tmp_path / "b" / "shop.db", "CREATE TABLE users (id INTEGER PRIMARY KEY)")
    main = _sqlite_file(tmp_path / "main.db", "CREATE TABLE users (id INTEGER PRIMARY KEY)")
    draft = draft_config([first, second])
    assert list(draft.data["databases"]) == ["shop", "shop_2"]
    assert list(draft_config([main]).data["databases"]) == ["main_db"]  # SQLite's own schema name
    assert {m: e["database"] for m, e in draft.data["models"].items()} == {"User": "shop", "Shop2User": "shop_2"}


def test_a_table_without_a_primary_key_gets_a_comment(tmp_path):
    url = _sqlite_file(tmp_path / "logs.db", "CREATE TABLE events (at TEXT, message TEXT)",
                       "CREATE TABLE codes (code TEXT NOT NULL UNIQUE, label TEXT)")
    draft = draft_config([url])
    assert "primary_key" not in draft.data["models"]["Event"]
    line = next(line for line in draft.yaml.splitlines() if line.startswith("  Event:"))
    assert "no primary key" in line
    assert draft.data["models"]["Code"]["primary_key"] == "code"  # a unique NOT NULL key stands in
    write_yaml(draft, tmp_path / "logs.yaml")
    assert explorer.load_config(str(tmp_path / "logs.yaml")).models["Code"].primary_key == ("code",)


@pytest.mark.parametrize("place", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
def test_a_password_is_never_written(place, monkeypatch):
    # The trust-authenticated PostgreSQL accepts any password, so the draft really connects with it.
    secret = "s3cr3t-Pw0rd"
    url = place.urls("crm", "cat")[0].replace("postgres@", f"postgres:{secret}@")
    draft = draft_config([url])
    crm = place.real("crm")
    variable = f"{crm.upper()}_PASSWORD"
    for text in (draft.yaml, json.dumps(draft.data), "\n".join(draft.notes)):
        assert secret not in text
    assert f"password: ${{{variable}}}  # set {variable} to the password of postgres@127.0.0.1:5432" in draft.yaml
    assert all(db["password"] == f"${{{variable}}}" for db in draft.data["databases"].values())
    assert any(variable in note for note in draft.notes)
    monkeypatch.setenv(variable, secret)
    assert records(draft.yaml, PRODUCTS_QUERY)[0]["name"] == "Pen"


@pytest.mark.parametrize("place", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
def test_a_postgresql_url_gives_each_schema_that_holds_tables(place):
    name = PREFIX + "init_db"  # a database of its own, so no other test's schemas show up
    admin = sa.create_engine(postgres_url().rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    url = postgres_url().rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            for sql in ('CREATE SCHEMA sales', 'CREATE SCHEMA hr', 'CREATE SCHEMA "empty"',
                        "CREATE TABLE hr.staff (id INTEGER PRIMARY KEY)",
                        "CREATE TABLE sales.deals (id INTEGER PRIMARY KEY, staff_id INTEGER REFERENCES hr.staff (id))"):
                connection.exec_driver_sql(sql)
        engine.dispose()
        draft = draft_config([url])
        assert draft.data["databases"] == {"hr": {"url": url, "schema": "hr"}, "sales": {"url": url, "schema": "sales"}}
        assert draft.data["models"]["Deal"]["associations"] == {"staff": {"belongs_to": "Staff", "foreign_key": "staff_id"}}
        assert draft.data["models"]["Staff"]["associations"] == {"deals": {"has_many": "Deal", "foreign_key": "staff_id"}}
        assert not any("empty" in note or "public" in note for note in draft.notes)
        asked = draft_config([url + "?schema=hr,empty"])
        assert list(asked.data["databases"]) == ["hr"] and any("Schema empty" in n for n in asked.notes)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _error(url: str) -> str:
    with pytest.raises(ConfigError) as caught:
        draft_config([url])
    message = str(caught.value)
    assert "Traceback" not in message and "\n" not in message
    return message


def test_errors_name_the_masked_url(tmp_path):
    message = _error("mysql+pymysql://root:hunter22@127.0.0.1:1/shop")  # nothing listens on port 1
    assert "hunter22" not in message and "root:***@127.0.0.1:1/shop" in message
    assert "does not exist" in _error(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()
    assert "no tables" in _error(_sqlite_file(tmp_path / "empty.db"))
    assert "names no database" in _error("mysql+pymysql://root@127.0.0.1:3306")
    assert "not 'mssql'" in _error("mssql+pyodbc://sa@127.0.0.1/x")
    assert "Not a database URL" in _error("no url at all")


@pytest.mark.parametrize("place", [pytest.param("mysql", marks=pytest.mark.mysql),
                                   pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
def test_server_errors_name_the_database(place):
    missing = PREFIX + "init_missing"
    if place.kind == "mysql":
        message = _error(f"{MYSQL_SERVER}/{missing}")
        assert missing in message and "check the database name" in message
        place.run([f"CREATE DATABASE IF NOT EXISTS `{missing}`"])
        try:
            assert "no tables" in _error(f"{MYSQL_SERVER}/{missing}")
        finally:
            place.run([f"DROP DATABASE IF EXISTS `{missing}`"])
    else:
        message = _error(f"{postgres_url()}?schema={missing}")
        assert f"no schema '{missing}'" in message and "crossquery_test" in message


def test_a_soft_delete_column_is_suggested_never_written(tmp_path):
    url = _sqlite_file(tmp_path / "shop.db",
                       "CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT, deleted_at DATETIME)",
                       "CREATE TABLE notes (id INTEGER PRIMARY KEY, deleted_at TEXT)")
    draft = draft_config([url])
    assert "paranoid" not in draft.data["models"]["Member"]  # hiding rows is the user's decision
    line = next(line for line in draft.yaml.splitlines() if line.startswith("  Member:"))
    assert "add paranoid: deleted_at" in line
    assert any("Member" in note and "paranoid: deleted_at" in note for note in draft.notes)
    assert not any(note.startswith("Note ") and "paranoid" in note for note in draft.notes)  # TEXT is no date
    path = write_yaml(draft, tmp_path / "shop.yaml")
    config = yaml.safe_load(path.read_text())
    config["models"]["Member"]["paranoid"] = "deleted_at"  # the suggestion, taken
    assert explorer.load_config({**config, "databases": draft.data["databases"]}).models["Member"].paranoid == \
        "deleted_at"
