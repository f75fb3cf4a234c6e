"""The association config: every form and key, and errors that name file, line, key path and close matches."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

import explorer
from explorer import demo

HEADER = """\
databases:
  main: {url: "sqlite:///main.db"}
models:
"""


def write(tmp_path, text: str, name: str = "shop.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def config_error(source) -> str:
    with pytest.raises(explorer.ConfigError) as info:
        explorer.load_config(source)
    return str(info.value)


@pytest.mark.parametrize(("models", "expected"), [
    ("""\
  User:
    associations:
      orders: {has_many: Ordr}
  Order: {}
""", ["line 6", "models.User.associations.orders.has_many", "unknown model 'Ordr'", "Order"]),
    ("""\
  User:
    associations:
      orders: {has_many: Order, foriegn_key: user_id}
  Order: {}
""", ["line 6", "models.User.associations.orders.foriegn_key", "Did you mean: foreign_key"]),
    ("""\
  Order:
    associations:
      products: {belongs_to_many: Product}
  Product: {}
""", ["models.Order.associations.products", "through"]),
    ("""\
  Order:
    associations:
      products: {belongs_to_many: Product, through: OrderProdukt}
  Product: {}
  OrderProduct: {}
""", ["models.Order.associations.products.through", "'OrderProdukt'", "Did you mean: OrderProduct"]),
    ("""\
  Order:
    associations:
      user: {belongs_to: User, has_many: User}
  User: {}
""", ["models.Order.associations.user", "exactly one of"]),
    ("""\
  Order: {databse: main}
""", ["line 4", "models.Order.databse", "Did you mean: database"]),
    ("""\
  Order: {database: mian}
""", ["models.Order.database", "'mian'", "Did you mean: main?"]),
    ("""\
  Line: {primary_key: [a, b], columns: [a, c]}
""", ["models.Line.primary_key", "'b'"]),
    ("""\
  Line: {primary_key: [a, b], columns: [a, b]}
  Ship:
    columns: [id, a]
    associations:
      line: {belongs_to: Line, foreign_key: [a]}
""", ["line 8", "models.Ship.associations.line.foreign_key", "1 column(s)", "target_key has 2"]),
    ("""\
  Line: {primary_key: [a, b], columns: [a, b]}
  Order:
    associations:
      lines: {has_many: Line, foreign_key: [a, b]}
""", ["models.Order.associations.lines.foreign_key", "2 column(s)", "source_key has 1"]),
    ("""\
  Order:
    associations:
      products: {belongs_to_many: Product, through: OP, foreign_key: order_id, other_key: [p, q]}
  Product: {}
  OP: {}
""", ["models.Order.associations.products.other_key", "target_key has 1"]),
    ("""\
  Order:
    associations:
      paid: {has_many: Order, scope: paid}
""", ["models.Order.associations.paid.scope", "where mapping"]),
    ("""\
  Order: {columns: id}
  User: {columns: []}
""", ["models.User.columns"]),
])
def test_config_errors_locate_and_suggest(tmp_path, models, expected):
    path = write(tmp_path, HEADER + models)
    message = config_error(path)
    assert message.startswith(path), message
    for part in expected:
        assert part in message, (part, message)


def test_bad_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, HEADER + "  User:\n    associations:\n      orders: {has_many: Order\n  Order: {}\n")
    message = config_error(path)
    assert message.startswith(f"{path}: invalid YAML, line 6, column 15: this {{ or [ is never closed")
    assert "orders: {has_many: Order\n" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("models: {}\n", ["missing required key 'databases'"]),
    ("databases: {main: {url: 'sqlite:///x.db'}}\n", ["missing required key 'models'"]),
    ("databses: {}\nmodels: {}\n", ["databses", "Did you mean: databases?"]),
    ("databases: {main: {}}\nmodels: {}\n", ["databases.main", "'url'"]),
    ("databases: {main: {url: 'nosuch://x'}}\nmodels: {}\n", ["databases.main.url", "unsupported", "sqlite"]),
    ("databases: {main: {url: 'sqlite:///x.db', pasword: x}}\nmodels: {}\n", ["databases.main.pasword", "password"]),
    ("databases: {main: {url: 'sqlite:///x.db'}}\nmodels: {}\ntimeout: -3\n", ["timeout", "positive"]),
    ("- a list\n", ["expected a mapping"]),
])
def test_top_level_errors(tmp_path, text, expected):
    message = config_error(write(tmp_path, text))
    for part in expected:
        assert part in message, (part, message)


def test_missing_file():
    assert "does not exist" in config_error("/nonexistent/shop.yaml")


def test_camel_case_aliases_equal_snake_case(tmp_path):
    camel = explorer.load_config(write(tmp_path, HEADER + """\
  User:
    tableName: people
    primaryKey: id
    columns: [id, name]
    associations:
      orders: {hasMany: Order, foreignKey: user_id, sourceKey: id}
      profile: {hasOne: Order, foreignKey: user_id}
  Order:
    columns: [id, user_id]
    associations:
      user: {belongsTo: User, foreignKey: user_id, targetKey: id}
      tags: {belongsToMany: Tag, through: OrderTag, foreignKey: order_id, otherKey: tag_id}
  Tag: {columns: [id]}
  OrderTag: {primaryKey: [order_id, tag_id], columns: [order_id, tag_id]}
""", "camel.yaml"))
    snake = explorer.load_config(write(tmp_path, HEADER + """\
  User:
    table: people
    primary_key: id
    columns: [id, name]
    associations:
      orders: {has_many: Order, foreign_key: user_id, source_key: id}
      profile: {has_one: Order, foreign_key: user_id}
  Order:
    columns: [id, user_id]
    associations:
      user: {belongs_to: User, foreign_key: user_id, target_key: id}
      tags: {belongs_to_many: Tag, through: OrderTag, foreign_key: order_id, other_key: tag_id}
  Tag: {columns: [id]}
  OrderTag: {primary_key: [order_id, tag_id], columns: [order_id, tag_id]}
""", "snake.yaml"))
    for name, model in snake.models.items():
        assert camel.models[name] == model
        assert dict(camel.models[name].associations) == dict(model.associations)
    assert camel.models["User"].table == "people"
    assert camel.models["Order"].associations["tags"].other_key == ("tag_id",)
    assert camel.models["OrderTag"].primary_key == ("order_id", "tag_id")


def test_defaults(tmp_path):
    config = explorer.load_config(write(tmp_path, HEADER + """\
  User:
    columns: [id]
    associations:
      orders: {has_many: Order}
      manager: {belongs_to: User}
  Order:
    columns: [id, user_id]
    associations:
      products: {belongs_to_many: Product, through: OrderProduct}
  Product: {columns: [id]}
  OrderProduct: {columns: [order_id, product_id], primary_key: [order_id, product_id]}
"""))
    user = config.models["User"]
    assert (user.table, user.primary_key, user.database) == ("user", ("id",), "main")
    orders = user.associations["orders"]
    assert (orders.foreign_key, orders.source_key, orders.to_many) == (("user_id",), ("id",), True)
    manager = user.associations["manager"]
    assert (manager.foreign_key, manager.target_key, manager.to_many) == (("manager_id",), ("id",), False)
    products = config.models["Order"].associations["products"]
    assert (products.foreign_key, products.other_key) == (("order_id",), ("product_id",))


def test_env_interpolation(tmp_path, monkeypatch):
    text = """\
databases:
  main: {url: "mysql+pymysql://${CQ_TEST_USER}:${CQ_TEST_PASSWORD}@127.0.0.1:${CQ_TEST_PORT:-3306}/shop"}
models: {User: {columns: [id]}}
"""
    path = write(tmp_path, text)
    monkeypatch.delenv("CQ_TEST_USER", raising=False)
    message = config_error(path)
    assert path in message and "line 2" in message and "databases.main.url" in message
    assert "'CQ_TEST_USER' is not set" in message
    monkeypatch.setenv("CQ_TEST_USER", "ann")
    monkeypatch.setenv("CQ_TEST_PASSWORD", "s3cr3t-pw")
    config = explorer.load_config(path)
    url = config.databases["main"].url
    assert (url.username, url.password, url.port) == ("ann", "s3cr3t-pw", 3306)
    assert "s3cr3t-pw" not in repr(config) and "s3cr3t-pw" not in repr(config.databases["main"])


def test_password_never_in_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("CQ_TEST_PASSWORD", "s3cr3t-pw")
    path = write(tmp_path, """\
databases:
  main: {url: "mysql+pymysql://ann:${CQ_TEST_PASSWORD}@127.0.0.1:1/shop"}
models: {User: {}}
""")
    config = explorer.load_config(path)
    with pytest.raises(explorer.ExplorerError) as info:
        explorer.run(config, {"from": "User"})
    assert "s3cr3t-pw" not in str(info.value)


def absolute_sqlite_urls(config_path: str) -> dict:
    """The shop's YAML as a dict whose SQLite URLs no longer depend on the file's folder."""
    data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    for db in data["databases"].values():
        db["url"] = "sqlite:///" + str(Path(config_path).parent / db["url"].removeprefix("sqlite:///"))
    return data


def test_json_dict_and_yaml_agree(tmp_path, sqlite_config_path):
    data = absolute_sqlite_urls(sqlite_config_path)
    json_path = tmp_path / "shop.json"
    json_path.write_text(json.dumps(data), encoding="utf-8")
    from_yaml = explorer.load_config(sqlite_config_path)
    for config in (explorer.load_config(str(json_path)), explorer.load_config(data)):
        assert set(config.models) == set(from_yaml.models)
        assert config.models["Order"].associations == from_yaml.models["Order"].associations
        assert explorer.run(config, demo.DEMO_QUERY).records == explorer.run(from_yaml, demo.DEMO_QUERY).records


def test_relative_sqlite_paths_follow_the_config_file(sqlite_config_path):
    config = explorer.load_config(sqlite_config_path)
    assert all(db.url.database.startswith("/") for db in config.databases.values())


def test_reflected_columns_and_composite_keys(sqlite_shop):
    assert sqlite_shop.columns("User") == ["id", "name", "email", "created_at", "referred_by"]
    assert sqlite_shop.models["OrderProduct"].primary_key == ("order_id", "product_id")
    shipments = sqlite_shop.models["OrderProduct"].associations["shipments"]
    assert shipments.foreign_key == shipments.source_key == ("order_id", "product_id")


def test_several_associations_to_one_target_and_self(sqlite_shop):
    user = sqlite_shop.models["User"]
    assert user.associations["orders"].target == user.associations["paid_orders"].target == "Order"
    assert user.associations["paid_orders"].scope == {"status": "paid"}
    assert user.associations["referrer"].target == user.associations["referrals"].target == "User"


def test_missing_table_names_model_and_database(tmp_path, sqlite_config_path):
    data = absolute_sqlite_urls(sqlite_config_path)
    data["models"]["Ghost"] = {"database": "products", "table": "ghosts"}
    path = tmp_path / "ghost.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(explorer.ExplorerError) as info:
        explorer.run(str(path), {"from": "Ghost"})
    assert "ghosts" in str(info.value) and "products" in str(info.value)


def test_unknown_column_in_declared_columns_is_a_query_error(tmp_path):
    config = explorer.load_config(write(tmp_path, HEADER + "  User: {columns: [id, name]}\n"))
    with pytest.raises(explorer.QueryError, match="Did you mean: name"):
        explorer.prepare(config, {"from": "User", "attributes": ["nmae"]})


def test_a_model_without_database_among_several_databases():
    config = {"databases": {"a": "sqlite:///a.db", "b": "sqlite:///b.db"}, "models": {"User": {"table": "users"}}}
    with pytest.raises(explorer.ConfigError, match=r"^models.User: missing required key 'database' \(the "
                                                   r"config has several databases: a, b\)"):
        explorer.load_config(config)
