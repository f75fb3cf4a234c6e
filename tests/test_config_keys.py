"""Key columns checked against the live tables: one ConfigError line, never a KeyError.

A primary key or association key the table lacks, a model whose table has no
``id`` and no ``primary_key:``, and an association named like a column of its
model are found when a query first touches the model or association (its
columns are known only then), through the API and the CLI alike. Each error
names the file, the key path and the close matches.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import MYSQL_SERVER, PREFIX, _ensure_postgres_database, _unavailable, postgres_url
from readers import KINDS

import explorer
from explorer.cli import main

SCHEMA = PREFIX + "keys"

MODELS = {
    "User": {"table": "users", "associations": {
        "orders": {"has_many": "Order", "foreign_key": "user_id"}}},
    "Order": {"table": "orders", "associations": {
        "user": {"belongs_to": "User", "foreign_key": "user_id"},
        "tags": {"belongs_to_many": "Tag", "through": "OrderTag", "foreign_key": "order_id", "other_key": "tag_id"}}},
    "OrderTag": {"table": "order_tags", "primary_key": ["order_id", "tag_id"]},
    "Tag": {"table": "tags"},
    "Log": {"table": "logs"},  # a table without id and without a primary key
}


def _tables(schema: str | None) -> sa.MetaData:
    metadata = sa.MetaData(schema=schema)
    key = {"primary_key": True, "autoincrement": False}
    sa.Table("users", metadata, sa.Column("id", sa.Integer, **key), sa.Column("name", sa.String(50)),
             sa.Column("email", sa.String(50)))
    sa.Table("orders", metadata, sa.Column("id", sa.Integer, **key), sa.Column("user_id", sa.Integer),
             sa.Column("total", sa.Integer))
    sa.Table("tags", metadata, sa.Column("id", sa.Integer, **key), sa.Column("name", sa.String(50)))
    sa.Table("order_tags", metadata, sa.Column("order_id", sa.Integer, **key), sa.Column("tag_id", sa.Integer, **key))
    sa.Table("logs", metadata, sa.Column("at", sa.String(30)), sa.Column("msg", sa.String(100)),
             sa.Column("user_id", sa.Integer))
    return metadata


ROWS = {"users": [{"id": 1, "name": "Ann", "email": "ann@example.com"}],
        "orders": [{"id": 10, "user_id": 1, "total": 5}], "tags": [{"id": 7, "name": "gift"}],
        "order_tags": [{"order_id": 10, "tag_id": 7}], "logs": [{"at": "now", "msg": "hi", "user_id": 1}]}


def _fill(engine: sa.Engine, metadata: sa.MetaData) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            connection.execute(table.insert(), ROWS[table.name])


@pytest.fixture(scope="module", params=KINDS)
def database(request, tmp_path_factory) -> dict:
    """The 'shop' database entry of a config, on each backend, with the tables above in it."""
    kind = request.param
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("keys") / "shop.db"
        engine = sa.create_engine(f"sqlite:///{path}")
        _fill(engine, _tables(None))
        engine.dispose()
        yield {"url": f"sqlite:///{path}"}
        return
    admin_url = MYSQL_SERVER if kind == "mysql" else postgres_url()
    try:
        if kind == "postgresql":
            _ensure_postgres_database()
        admin = sa.create_engine(admin_url)
        with admin.begin() as connection:
            if kind == "mysql":
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{SCHEMA}`")
                connection.exec_driver_sql(f"CREATE DATABASE `{SCHEMA}`")
            else:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
                connection.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        _unavailable(f"{kind} at {admin_url}", exc)
    try:
        _fill(admin, _tables(SCHEMA))
        yield {"url": f"{MYSQL_SERVER}/{SCHEMA}"} if kind == "mysql" else {"url": postgres_url(), "schema": SCHEMA}
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{SCHEMA}`" if kind == "mysql"
                                       else f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        admin.dispose()


def config_dict(database: dict, change=None) -> dict:
    data = {"databases": {"shop": dict(database)}, "models": copy.deepcopy(MODELS)}
    if change:
        change(data["models"])
    return data


def where(data: dict) -> str:
    """How messages name the database: ``database 'shop' (URL with the password masked)``."""
    return explorer.load_config(data).databases["shop"].where


def cli_error(capsys, tmp_path: Path, command: str, data: dict, query: dict) -> tuple[str, Path]:
    config_path, query_path = tmp_path / "config.yaml", tmp_path / "query.yaml"
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    query_path.write_text(yaml.safe_dump(query), encoding="utf-8")
    capsys.readouterr()
    assert main([command, str(config_path), str(query_path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("crossquery: error: "), captured.err
    return lines[0].removeprefix("crossquery: error: "), config_path


def assert_everywhere(capsys, tmp_path, data: dict, query: dict, expected: str) -> None:
    """The same one-line ConfigError from run, prepare, `crossquery run` and `crossquery sql`."""
    for call in (explorer.run, explorer.prepare):
        with pytest.raises(explorer.ConfigError) as caught:
            call(data, query)
        assert str(caught.value) == expected
    for command in ("run", "sql"):
        message, path = cli_error(capsys, tmp_path, command, data, query)
        assert message == f"{path}: {expected}"


def test_the_good_config_runs(database):
    result = explorer.run(config_dict(database), {"from": "User", "include": [{"orders": {"include": ["tags", "user"]}}]})
    assert result.records == [{"id": 1, "name": "Ann", "email": "ann@example.com", "orders": [
        {"id": 10, "user_id": 1, "total": 5, "tags": [{"id": 7, "name": "gift"}],
         "user": {"id": 1, "name": "Ann", "email": "ann@example.com"}}]}]


# -- primary keys

def test_primary_key_the_table_lacks(database, capsys, tmp_path):
    data = config_dict(database, lambda m: m["User"].update(primary_key="uid"))
    assert_everywhere(capsys, tmp_path, data, {"from": "User"},
                      f"models.User.primary_key: table 'users' (User) in {where(data)} has no column 'uid' "
                      "(did you mean: id?); primary_key must name the column(s) that identify a row; the "
                      "table's primary key is id: set primary_key: id.")


def test_no_id_and_no_primary_key_setting_suggests_the_tables_primary_key(database, capsys, tmp_path):
    # The junction is checked too, though the query only names Order and its association.
    data = config_dict(database, lambda m: m["OrderTag"].pop("primary_key"))
    assert_everywhere(capsys, tmp_path, data, {"from": "Order", "include": ["tags"]},
                      f"models.OrderTag.primary_key: table 'order_tags' (OrderTag) in {where(data)} has no "
                      "column 'id' and the model sets no primary_key:; the table's primary key is "
                      "(order_id, tag_id): set primary_key: [order_id, tag_id].")


def test_a_table_without_any_primary_key(database, capsys, tmp_path):
    data = config_dict(database)
    expected = (f"models.Log.primary_key: table 'logs' (Log) in {where(data)} has no column 'id' and no "
                "primary key, and the model sets no primary_key:; set primary_key: to the column(s) that "
                "identify a row (known: at, msg, user_id).")
    assert_everywhere(capsys, tmp_path, data, {"from": "Log"}, expected)
    data["models"]["User"]["associations"]["logs"] = {"has_many": "Log", "foreign_key": "user_id"}
    assert_everywhere(capsys, tmp_path, data, {"from": "User", "include": ["logs"]}, expected)
    data["models"]["Log"]["primary_key"] = ["at", "msg"]  # the fix the message asks for
    assert explorer.run(data, {"from": "User", "include": ["logs"]}).records[0]["logs"] == [
        {"at": "now", "msg": "hi", "user_id": 1}]


# -- association keys: each key on the table it lives on

KEY_CASES = [
    pytest.param("User", "orders", "foreign_key", "usr_id", {"from": "User", "include": ["orders"]},
                 "table 'orders' (Order)", "'usr_id' (did you mean: user_id?)",
                 "the column of Order that points at User", id="has_many.foreign_key"),
    pytest.param("User", "orders", "source_key", "nme", {"from": "User", "include": ["orders"]},
                 "table 'users' (User)", "'nme' (did you mean: name?)",
                 "the column of User that foreign_key refers to", id="has_many.source_key"),
    pytest.param("Order", "user", "foreign_key", "usr_id", {"from": "Order", "include": ["user"]},
                 "table 'orders' (Order)", "'usr_id' (did you mean: user_id?)",
                 "the column of Order that points at User", id="belongs_to.foreign_key"),
    pytest.param("Order", "user", "target_key", "uid", {"from": "Order", "include": ["user"]},
                 "table 'users' (User)", "'uid' (did you mean: id?)",
                 "the column of User that foreign_key refers to", id="belongs_to.target_key"),
    pytest.param("Order", "tags", "foreign_key", "ordr_id", {"from": "Order", "include": ["tags"]},
                 "table 'order_tags' (OrderTag)", "'ordr_id' (did you mean: order_id?)",
                 "the column of the junction OrderTag that points at Order", id="belongs_to_many.foreign_key"),
    pytest.param("Order", "tags", "other_key", "tg_id",
                 {"from": "User", "include": [{"orders": {"include": ["tags"]}}]},
                 "table 'order_tags' (OrderTag)", "'tg_id' (did you mean: tag_id?)",
                 "the column of the junction OrderTag that points at Tag", id="belongs_to_many.other_key"),
    pytest.param("Order", "tags", "target_key", "tag_name", {"from": "Order", "include": ["tags"]},
                 "table 'tags' (Tag)", "'tag_name' (did you mean: name?)",
                 "the column of Tag that other_key refers to", id="belongs_to_many.target_key"),
]


@pytest.mark.parametrize(("model", "name", "key", "column", "query", "table", "lacks", "role"), KEY_CASES)
def test_association_key_the_table_lacks(database, capsys, tmp_path, model, name, key, column, query, table,
                                         lacks, role):
    data = config_dict(database, lambda m: m[model]["associations"][name].update({key: column}))
    assert_everywhere(capsys, tmp_path, data, query,
                      f"models.{model}.associations.{name}.{key}: {table} in {where(data)} has no column "
                      f"{lacks}; {key} must name {role}.")


def test_a_default_key_says_it_is_the_default(database, capsys, tmp_path):
    def change(models):
        models["Order"]["associations"]["buyer"] = {"belongs_to": "User"}  # foreign_key: buyer_id

    data = config_dict(database, change)
    assert_everywhere(capsys, tmp_path, data, {"from": "Order", "include": ["buyer"]},
                      f"models.Order.associations.buyer.foreign_key: table 'orders' (Order) in {where(data)} "
                      "has no column 'buyer_id' (did you mean: user_id?); foreign_key must name the column of "
                      "Order that points at User (foreign_key is not set, so it defaults to buyer_id).")


def test_a_key_left_out_of_the_listed_columns(database, capsys, tmp_path):
    data = config_dict(database, lambda m: m["Order"].update(columns=["id", "total"]))
    assert_everywhere(capsys, tmp_path, data, {"from": "Order", "include": ["user"]},
                      "models.Order.associations.user.foreign_key: 'user_id' is not among the columns: listed "
                      "for Order (known: id, total); foreign_key must name the column of Order that points at "
                      "User.")


# -- an association named like a column

@pytest.mark.parametrize("query", [{"from": "User"}, {"from": "Order", "include": ["user"]}],
                         ids=["the model itself", "reached by an include"])
def test_association_named_like_a_column(database, capsys, tmp_path, query):
    data = config_dict(database, lambda m: m["User"]["associations"].update(
        email={"has_many": "Order", "foreign_key": "user_id"}))
    assert_everywhere(capsys, tmp_path, data, query,
                      f"models.User.associations.email: the association 'email' is named like a column of "
                      f"User (table 'users' in {where(data)}), so in records it would overwrite the column's "
                      "values; rename the association.")


# -- no path reaches a KeyError, and a broken model does not break the others

BROKEN = [
    pytest.param(lambda m: m["User"].update(primary_key="uid"), "User", id="primary_key"),
    pytest.param(lambda m: m["User"]["associations"].update(email={"has_many": "Order"}), "User", id="collision"),
    pytest.param(lambda m: None, "Log", id="no primary key"),
]


@pytest.mark.parametrize(("change", "model"), BROKEN)
def test_every_entry_point_gives_the_config_error(database, change, model):
    config = explorer.load_config(config_dict(database, change))
    for attempt in (lambda: config.table(model), lambda: config.columns(model),
                    lambda: explorer.parse_query(config, {"from": model}),
                    lambda: explorer.run(config, {"from": model})):
        for _ in range(2):  # not cached away: the second try says the same
            with pytest.raises(explorer.ConfigError, match=rf"^models\.{model}\."):
                attempt()


def test_key_errors_are_found_again_and_other_models_still_run(database):
    config = explorer.load_config(config_dict(database, lambda m: m["Order"]["associations"]["tags"].update(
        other_key="tg_id")))
    for _ in range(2):
        with pytest.raises(explorer.ConfigError, match=r"^models\.Order\.associations\.tags\.other_key: "):
            explorer.run(config, {"from": "Order", "include": ["tags"]})
    assert explorer.run(config, {"from": "Order", "include": ["user"]}).records[0]["user"]["name"] == "Ann"
    assert explorer.run(config, {"from": "Tag"}).records == [{"id": 7, "name": "gift"}]


# -- listed columns: checked when the config loads

@pytest.mark.parametrize(("model", "expected"), [
    ({"columns": ["at", "msg"]}, ("models.Log.primary_key: the model sets no primary_key:, so it defaults to "
     "'id', which is not among the listed columns (known: at, msg); set primary_key: to the column(s) that "
     "identify a row.")),
    ({"columns": ["at", "msg"], "primary_key": "mgs"}, ("models.Log.primary_key: primary key column 'mgs' is "
     "not among the listed columns (did you mean: msg?); set primary_key: to the column(s) that identify a row.")),
])
def test_listed_columns_without_the_primary_key(tmp_path, model, expected):
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump({"databases": {"shop": "sqlite:///shop.db"}, "models": {"Log": model}}),
                    encoding="utf-8")
    with pytest.raises(explorer.ConfigError) as caught:
        explorer.load_config(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}, line ") and message.endswith(f": {expected}")
