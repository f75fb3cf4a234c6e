"""Clear errors, never a raw traceback: each failure is one line that locates it and says what to do.

Config and query mistakes name the file/line or key path and suggest close
matches; server failures name the database with its URL (password masked) and
the fix. The ``crossquery`` CLI prints the same sentence and exits 1.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from readers import PASSWORD_ENV, SERVER_KINDS, new_password, reader_config, reader_user, shop_dict

import explorer
from explorer import demo

CLI = str(Path(sys.executable).with_name("crossquery"))
QUERY = {"from": "User", "attributes": ["id", "name"], "include": [{"orders": {"include": ["products"]}}]}


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message and "Traceback" not in message
    return message


def cli(tmp_path: Path, config, query=QUERY, *extra: str) -> subprocess.CompletedProcess:
    config_path, query_path = tmp_path / "config.yaml", tmp_path / "query.yaml"
    config_path.write_text(config if isinstance(config, str) else yaml.safe_dump(config), encoding="utf-8")
    query_path.write_text(query if isinstance(query, str) else yaml.safe_dump(query), encoding="utf-8")
    return subprocess.run([CLI, "run", str(config_path), str(query_path), *extra],
                          check=False, capture_output=True, text=True, timeout=60)


def assert_cli_says(done: subprocess.CompletedProcess, message: str) -> None:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"crossquery: error: {message}"]


# -- config and query mistakes

BAD_YAML = """\
databases:
  users_and_orders: {url: "sqlite:///users_and_orders.db"
models:
  User: {database: users_and_orders}
"""


def test_bad_yaml_config_names_file_and_line(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text(BAD_YAML, encoding="utf-8")
    with pytest.raises(explorer.ConfigError) as caught:
        explorer.load_config(str(path))
    message = str(caught.value)
    assert message.splitlines() == [
        f"{path}: invalid YAML, line 2, column 21: this {{ or [ is never closed (expected ',' or '}}', "
        "but got '<scalar>')",
        '      users_and_orders: {url: "sqlite:///users_and_orders.db"',
        "                        ^"]
    done = cli(tmp_path, BAD_YAML)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr == "crossquery: error: " + message.replace(str(path), str(tmp_path / "config.yaml")) + "\n"


def test_bad_yaml_query_names_the_line(sqlite_shop):
    with pytest.raises(explorer.QueryError) as caught:
        explorer.run(sqlite_shop, "from: User\ninclude: [orders\nwhere: {id: 1}\n")
    message = str(caught.value)
    assert message.startswith("The query is not valid YAML, line 2, column 10: this { or [ is never closed"), message
    assert "include: [orders\n" in message and "^" in message  # the offending line, the fault marked


def test_unquoted_parameter_in_flow_yaml_says_how_to_write_it(sqlite_shop):
    with pytest.raises(explorer.QueryError) as caught:
        explorer.run(sqlite_shop, "from: User\ninclude: [{orders: {where: {status: :status}}}]\n")
    message = str(caught.value)
    assert message.startswith("The query is not valid YAML, line 2, column 37: "), message
    assert "write ':status'" in message
    result = explorer.run(sqlite_shop, "from: User\ninclude: [{orders: {where: {status: ':status'}}}]\n",
                          {"status": "paid"})
    assert {o["status"] for r in result.records for o in r["orders"]} == {"paid"}


@pytest.mark.parametrize(("query", "expected"), [
    ({"from": "Usr"}, "from: unknown model 'Usr'. Did you mean: User?"),
    ({"from": "User", "include": ["ordrs"]},
     "include.ordrs: User has no association 'ordrs'. Did you mean: orders, paid_orders?"),
    ({"from": "User", "include": [{"orders": {"include": ["prodcts"]}}]},
     "include.orders.include.prodcts: Order has no association 'prodcts'. Did you mean: products?"),
    ({"from": "User", "attributes": ["nme"]}, "attributes: User has no column 'nme'. Did you mean: name?"),
    ({"from": "User", "where": {"name": {"lik": "A%"}}},
     "where.name.lik: unknown operator 'lik'. Did you mean: like, ilike?"),
    ({"from": "User", "include": ["orders"], "where": {"$orders.totl$": 1}},
     "where.$orders.totl$: Order has no column 'totl'. Did you mean: total?"),
])
def test_unknown_names_give_path_and_suggestion(sqlite_shop, query, expected):
    with pytest.raises(explorer.QueryError) as caught:
        explorer.run(sqlite_shop, query)
    assert one_line(caught.value) == expected


def test_config_mistake_names_file_line_and_key_path(tmp_path, sqlite_config_path):
    data = yaml.safe_load(Path(sqlite_config_path).read_text(encoding="utf-8"))
    data["models"]["User"]["associations"]["orders"]["has_many"] = "Ordr"
    path = Path(sqlite_config_path).with_name("typo.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(explorer.ConfigError) as caught:
        explorer.load_config(str(path))
    message = one_line(caught.value)
    assert message.startswith(f"{path}, line ")
    assert message.endswith("models.User.associations.orders.has_many: unknown model 'Ordr'. Did you mean: Order?")


def test_unsupported_database_and_missing_driver():
    with pytest.raises(explorer.ConfigError, match=r"databases.x.url: unsupported database kind 'oracle'"):
        explorer.load_config({"databases": {"x": "oracle://u@h/db"}, "models": {"A": {}}})
    config = explorer.load_config({"databases": {"x": "postgresql+nosuchdriver://u:pw@h/db"},
                                   "models": {"A": {"columns": ["id"]}}})
    with pytest.raises(explorer.ConfigError) as caught:
        explorer.run(config, {"from": "A"})
    assert one_line(caught.value).startswith(
        "Cannot open database 'x' (postgresql+nosuchdriver://u:***@h/db): the driver "
        "'postgresql+nosuchdriver' is not available")


def test_missing_sqlite_file(tmp_path):
    config = explorer.load_config({"databases": {"shop": f"sqlite:///{tmp_path}/nope.db"},
                                   "models": {"User": {}}})
    with pytest.raises(explorer.ExplorerError) as caught:
        explorer.run(config, {"from": "User"})
    assert one_line(caught.value).endswith(  # (the query stage may prefix its own path)
        f"databases.shop.url: the SQLite file '{tmp_path}/nope.db' does not exist; check the "
        "path (relative paths start at the config file's folder).")


# -- the live schema: missing tables and columns


def test_listed_column_missing_from_the_table(request, shop, tmp_path):
    kind = shop.databases[demo.USERS_AND_ORDERS].url.get_backend_name()
    data = shop_dict(request, kind)
    data["models"]["User"]["columns"] = ["id", "name", "nickname"]
    with pytest.raises(explorer.ConfigError) as caught:
        explorer.run(data, QUERY)
    message = one_line(caught.value)
    assert message.startswith("models.User.columns: table 'users' in database 'users_and_orders' (")
    assert message.endswith("has no column 'nickname' (did you mean: name?); remove it from columns or "
                            "fix its name.")
    assert_cli_says(cli(tmp_path, data), message.replace("models.User.columns", f"{tmp_path}/config.yaml: "
                                                          "models.User.columns"))


@pytest.mark.parametrize("declared", [False, True])
def test_missing_table(request, shop, declared):
    kind = shop.databases[demo.USERS_AND_ORDERS].url.get_backend_name()
    data = shop_dict(request, kind)
    data["models"]["User"]["table"] = "userz"
    if declared:
        data["models"]["User"]["columns"] = ["id", "name"]
    with pytest.raises(explorer.ExplorerError) as caught:
        explorer.run(data, {"from": "User"})
    message = one_line(caught.value)
    assert "models.User.table: table 'userz' not found in database 'users_and_orders' (" in message
    assert message.endswith("); check the table name (table: ...), or create the table.")


# -- servers: unreachable, missing database, access denied


def with_url(data: dict, databases=None, **changes) -> dict:
    data = copy.deepcopy(data)
    for name, database in data["databases"].items():
        if databases is None or name in databases:
            url = database["url"].replace("${" + PASSWORD_ENV + "}", "PASSWORD_SLOT")
            url = sa.engine.make_url(url).set(**changes).render_as_string(hide_password=False)
            database["url"] = url.replace("PASSWORD_SLOT", "${" + PASSWORD_ENV + "}")
    return data


@pytest.fixture(params=SERVER_KINDS)
def server(request) -> tuple[str, dict]:
    return request.param, shop_dict(request, request.param)


def test_unreachable_server(server, tmp_path):
    _kind, data = server
    broken = with_url(data, port=1)
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(broken, QUERY)
    message = one_line(caught.value)
    assert message.startswith("Could not connect to database 'users_and_orders' (")
    assert "@127.0.0.1:1/" in message and "Connection refused" in message
    assert message.endswith("; check that the server is running and that the host and port in the URL "
                            "are right.")
    assert_cli_says(cli(tmp_path, broken), message)


def test_missing_database(server, tmp_path):
    _kind, data = server
    broken = with_url(data, database="cq_no_such_database")
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(broken, QUERY)
    message = one_line(caught.value)
    assert message.startswith("Could not connect to database 'users_and_orders' (")
    assert "cq_no_such_database" in message
    assert message.endswith("; check the database name in the URL (or the schema: key), or create it.")
    assert_cli_says(cli(tmp_path, broken), message)


def test_missing_second_database_or_schema(server):
    kind, data = server
    if kind == "mysql":
        broken = with_url(data, databases=[demo.PRODUCTS], database="cq_no_such_database")
        schema = "cq_no_such_database"
    else:
        broken = copy.deepcopy(data)
        broken["databases"][demo.PRODUCTS]["schema"] = schema = "cq_no_such_schema"
    with pytest.raises(explorer.ExplorerError) as caught:
        explorer.run(broken, QUERY)
    message = one_line(caught.value)
    assert "database 'products' (" in message
    assert f"does not exist on the server (no database or schema '{schema}'); check the URL's database " \
           "name or the schema: key, or create it." in message


@pytest.mark.parametrize("grant", [True, False], ids=["wrong password", "no SELECT grant"])
def test_access_denied(request, server, monkeypatch, tmp_path, grant):
    kind, data = server
    password = new_password()
    with reader_user(kind, password, grant=grant):
        config = reader_config(data, kind)
        monkeypatch.setenv(PASSWORD_ENV, password if not grant else password + "-wrong")
        try:
            with pytest.raises(explorer.ExplorerError) as caught:
                explorer.run(config, QUERY)
        except pytest.fail.Exception:
            if grant and kind == "postgresql":
                pytest.skip("the PostgreSQL server trusts local connections, so no password is checked")
            raise
        message = one_line(caught.value)
        assert "database 'users_and_orders' (" in message or "database 'products' (" in message
        assert ":***@127.0.0.1:" in message and password not in message
        if grant:  # the password was wrong
            assert message.startswith("Could not connect to database 'users_and_orders' (")
            assert message.endswith("check the user name and password in the URL (or the environment "
                                    "variables it reads) and that this user may SELECT from the database.")
        elif kind == "mysql":  # MariaDB refuses the connection to a database the user may not read
            assert "Access denied for user" in message
        else:  # PostgreSQL connects, then refuses the schema
            assert message.startswith("Could not run the query on database 'users_and_orders' (")
            assert message.endswith("(permission denied for schema " + data["databases"][demo.USERS_AND_ORDERS]
                                    ["schema"] + "); the user in the URL may not read this; ask for SELECT on "
                                    "it (GRANT SELECT ...) or use an account that may.")
        done = cli(tmp_path, config)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("crossquery: error: ") and password not in done.stderr


def test_statement_refused_mid_query_names_the_database(server):
    _kind, data = server
    config = explorer.load_config(data)
    compiled = explorer.compile_query(config, explorer.parse_query(config, {"from": "User"}))
    # A column dropped after the config was loaded: the server refuses the statement.
    compiled = type(compiled)(compiled.statement.add_columns(sa.literal_column("no_such_column")),
                              compiled.layout, compiled.query)
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.execute(config, compiled, reader="driver")
    message = one_line(caught.value)
    assert message.startswith("Could not run the query on database 'users_and_orders' (")
    assert "a column of the query does not exist (any more)" in message
    assert caught.value.sql and "no_such_column" in caught.value.sql
