"""What a new user hits on the way to a first query, each fixed and kept fixed.

The command line's own words for a missing parameter, refused timeouts, the MySQL demo's
config file, MariaDB's auth-plugin refusal, errors that name only what the user wrote,
and an ORDER BY that does not repeat the key the user ordered by.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa
import yaml
from conftest import MYSQL_SERVER

import explorer

CROSSQUERY = str(Path(sys.executable).with_name("crossquery"))


def cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CROSSQUERY, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_cli_missing_parameter_speaks_cli(sqlite_config_path):
    out = cli("run", sqlite_config_path, "from: User\nwhere:\n  name: :who\n  id: {gt: ':low'}\n")
    assert out.returncode == 1
    assert out.stderr == ("crossquery: error: The query uses :who, :low but no value was given: "
                          "add --param who=VALUE --param low=VALUE.\n")


def test_inline_yaml_query_on_the_command_line(sqlite_config_path):
    out = cli("run", sqlite_config_path, "from: User\nattributes: [name]\nwhere: {id: 1}", "--format", "json")
    assert out.returncode == 0 and '"name": "Alice"' in out.stdout


@pytest.mark.parametrize("flag, value", [("--timeout", "0"), ("--timeout", "-1"), ("--max-rows", "0")])
def test_cli_refuses_timeouts_and_caps_that_mean_nothing(sqlite_config_path, flag, value):
    out = cli("run", sqlite_config_path, "from: User", flag, value)
    assert out.returncode == 2 and f"argument {flag}: expected a positive number, got '{value}'" in out.stderr


@pytest.mark.parametrize("keyword", ["timeout", "max_rows"])
def test_api_refuses_zero_timeout_and_cap(sqlite_shop, keyword):
    with pytest.raises(explorer.QueryError, match=f"{keyword}: expected a positive number, got 0"):
        explorer.run(sqlite_shop, {"from": "User"}, **{keyword: 0})


@pytest.mark.mysql
def test_demo_mysql_writes_its_config(tmp_path, mysql_config_dict):
    engine = sa.create_engine(MYSQL_SERVER)
    with engine.connect() as connection:
        existed = {name for (name,) in connection.exec_driver_sql("SHOW DATABASES")} & {
            "users_and_orders", "products"}
    try:
        out = cli("demo", "--backend", "mysql", "--url", MYSQL_SERVER, "--dir", str(tmp_path / "demo"))
        assert out.returncode == 0, out.stderr
        path = tmp_path / "demo" / "shop.yaml"
        assert f"config: {path}" in out.stdout
        result = explorer.run(str(path), {"from": "User", "attributes": ["name"], "where": {"id": 1}})
        assert [r["name"] for r in result.records] == ["Alice"]
    finally:
        with engine.begin() as connection:
            for name in {"users_and_orders", "products"} - existed:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


def test_demo_config_never_holds_the_password(tmp_path):
    from explorer import demo

    config = {"databases": {"shop": {"url": "mysql+pymysql://app:s3cr3t@db.example/shop"}}, "models": {}}
    text = demo.write_mysql_config(config, tmp_path).read_text()
    assert "s3cr3t" not in text and "password: ${CROSSQUERY_DEMO_PASSWORD}" in text
    assert text.startswith("# set CROSSQUERY_DEMO_PASSWORD")


@pytest.mark.mysql
def test_mariadb_auth_plugin_refusal_gets_the_password_advice(mysql_config_dict):
    admin = pymysql.connect(host="127.0.0.1", user="root")
    with admin.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS 'cq_socket_only'@'%' IDENTIFIED VIA unix_socket")
    try:
        data = yaml.safe_load(yaml.safe_dump(mysql_config_dict))
        for database in data["databases"].values():
            database["url"] = database["url"].replace("root@", "cq_socket_only@")
        with pytest.raises(explorer.ExplorerError) as raised:
            explorer.run(data, {"from": "User"})
        text = str(raised.value)
        assert "(error 1698)" in text and "check the user name and password in the URL" in text, text
    finally:
        with admin.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS 'cq_socket_only'@'%'")
        admin.close()


def test_missing_default_table_names_only_what_the_user_wrote(sqlite_config_path):
    raw = yaml.safe_load(Path(sqlite_config_path).read_text())
    folder = Path(sqlite_config_path).parent
    for database in raw["databases"].values():
        database["url"] = database["url"].replace("sqlite:///", f"sqlite:///{folder}/")
    raw["models"]["Project"] = {"database": "products"}
    raw["models"]["User"]["associations"]["projects"] = {"has_many": "Project", "foreign_key": "user_id"}
    with pytest.raises(explorer.ConfigError) as raised:
        explorer.run(raw, {"from": "User", "include": [{"projects": {"attributes": ["id"]}}]})
    assert str(raised.value).startswith(
        "models.Project: table 'project' (the default for model Project: no table: is set) not found in "
        "database 'products'"), str(raised.value)


def test_order_by_the_key_is_not_repeated(sqlite_shop):
    sql = explorer.prepare(sqlite_shop, {"from": "User", "include": ["orders"], "limit": 2,
                                         "order": [["id", "desc"], ["orders.id", "desc"]]}).sql
    order_by = sql.rsplit("ORDER BY", 1)[1]
    assert order_by.strip() == '"User".id DESC, orders.id DESC', order_by
    assert "GROUP BY" not in sql or '"User".id, "User".id' not in sql
    result = explorer.run(sqlite_shop, {"from": "User", "attributes": ["id"], "limit": 2,
                                        "include": [{"orders": {"attributes": ["id"]}}],
                                        "order": [["id", "desc"], ["orders.id", "desc"]]})
    ids = [(r["id"], [o["id"] for o in r["orders"]]) for r in result.records]
    assert ids == sorted(ids, reverse=True) and all(o == sorted(o, reverse=True) for _, o in ids)


def test_cli_check_exits_by_the_errors_it_finds(sqlite_config_path, tmp_path):
    good = cli("check", sqlite_config_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].endswith(", 0 errors")
    raw = yaml.safe_load(Path(sqlite_config_path).read_text())
    folder = Path(sqlite_config_path).parent
    for database in raw["databases"].values():
        database["url"] = database["url"].replace("sqlite:///", f"sqlite:///{folder}/")
    raw["models"]["Ghost"] = {"database": "products", "table": "ghosts"}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = cli("check", str(broken))
    assert out.returncode == 1
    assert any(line.startswith("error: models.Ghost.table: table 'ghosts' not found")
               for line in out.stdout.splitlines()), out.stdout
    assert [str(f) for f in explorer.check(str(broken)) if f.severity == "error"] == [
        line for line in out.stdout.splitlines() if line.startswith("error: ")]


def test_cli_init_then_check_then_a_first_query(sqlite_config_path, tmp_path):
    """The README's path for one's own databases: init -o, check, run."""
    folder = Path(sqlite_config_path).parent
    urls = [f"sqlite:///{folder / 'users_and_orders.db'}", f"sqlite:///{folder / 'products.db'}"]
    printed = cli("init", *urls)
    assert printed.returncode == 0, printed.stderr
    drafted = yaml.safe_load(printed.stdout)
    assert set(drafted["databases"]) == {"users_and_orders", "products"}
    assert drafted["models"]["Order"]["associations"]["user"] == {
        "belongs_to": "User", "foreign_key": "user_id", "inferred": True}
    path = tmp_path / "my.yaml"
    wrote = cli("init", *urls, "-o", str(path))
    assert wrote.returncode == 0 and f"wrote {path}" in wrote.stdout
    assert "crossquery: note: " in wrote.stderr  # the inferred associations are listed
    checked = cli("check", str(path))
    assert checked.returncode == 0, checked.stdout
    out = cli("run", str(path), "from: User\nattributes: [name]\nwhere: {id: 1}\ninclude: [orders]",
              "--format", "json")
    assert out.returncode == 0, out.stderr
    assert '"name": "Alice"' in out.stdout and '"orders": [' in out.stdout


def test_magic_init_shows_yaml_and_diagram(sqlite_config_path, tmp_path):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "explorer")
    url = f"sqlite:///{Path(sqlite_config_path).parent / 'products.db'}"
    with capture_output() as captured:
        diagram = shell.run_line_magic("crossquery", f"init {url} -o {tmp_path / 'p.yaml'}")
    assert "Product" in captured.outputs[0].data["text/plain"]
    assert "<span" in captured.outputs[0].data["text/html"]
    assert f"wrote {tmp_path / 'p.yaml'}" in captured.stdout
    assert type(diagram).__name__ == "Diagram"
    assert explorer.load_config(str(tmp_path / "p.yaml")).models.keys() == shell.user_ns.pop("_cq_init").data["models"].keys()


def test_dict_config_with_a_relative_sqlite_path(sqlite_config_path, monkeypatch):
    """A relative SQLite path in a dict (no config file) is relative to the working directory."""
    monkeypatch.chdir(Path(sqlite_config_path).parent)
    config = {"databases": {"users_and_orders": "sqlite:///users_and_orders.db"},
              "models": {"User": {"table": "users"}}}
    assert [r["name"] for r in explorer.run(config, {"from": "User", "attributes": ["name"],
                                                     "where": {"id": 1}}).records] == ["Alice"]


def test_federated_query_without_the_duckdb_extra_names_it(federated_config_dict, tmp_path):
    script = ("import sys; sys.modules['duckdb'] = None\nimport explorer, yaml\n"
              f"config = yaml.safe_load(open({str(tmp_path / 'f.yaml')!r}))\n"
              "try:\n    explorer.prepare(config, {'from': 'Product', 'include': ['category']})\n"
              "except explorer.ExecutionError as exc:\n    print(exc)\n")
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(federated_config_dict), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "pip install 'crossquery-explorer[duckdb]'" in out.stdout, out.stdout + out.stderr
