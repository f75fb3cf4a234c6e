"""Secrets: a real password never appears in any output the toolkit produces.

A SELECT-only user with a password is created on MariaDB and PostgreSQL; the
config reads the password from ``${CQ_TEST_READER_PASSWORD}``. Every repr, SQL
rendering, export, diagram, error (unreachable server, wrong password, missing
database), CLI output and DEBUG log line is collected and searched for it.
"""

from __future__ import annotations

import copy
import logging
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from readers import PASSWORD_ENV, SERVER_KINDS, new_password, reader_config, reader_user, shop_dict

import explorer
from explorer import demo
from explorer.engines.base import Database, mask_url, scrub
from explorer.config import config_to_json

QUERY = {"from": "User", "attributes": ["id", "name"], "where": {"name": {"like": "A%"}},
         "include": [{"orders": {"include": ["products"]}}]}
CLI = str(Path(sys.executable).with_name("crossquery"))


@pytest.fixture(scope="module", params=SERVER_KINDS)
def reader(request):
    """(kind, password, config dict reading the password from the environment)."""
    kind, password = request.param, new_password()
    shop = shop_dict(request, kind)  # the shop exists before the user is granted SELECT on it
    with pytest.MonkeyPatch.context() as patch, reader_user(kind, password):
        patch.setenv(PASSWORD_ENV, password)
        yield kind, password, reader_config(shop, kind)


def password_enforced(kind: str, config: dict) -> bool:
    """False when the server trusts local connections (then a wrong password still connects)."""
    url = sa.engine.make_url(config["databases"][demo.USERS_AND_ORDERS]["url"].replace(
        "${" + PASSWORD_ENV + "}", "wrong-password"))
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return False
    except sa.exc.OperationalError:
        return True
    finally:
        engine.dispose()


def error_texts(exc: BaseException) -> list[str]:
    """Everything a user could see of an error: message, repr, SQL, chain, printed traceback."""
    texts = [str(exc), repr(exc), str(getattr(exc, "sql", "")),
             "".join(traceback.format_exception(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            texts += [str(linked), repr(linked)]
    return texts


def failing_configs(config: dict, kind: str, password_enforced_here: bool) -> dict[str, dict]:
    """Configs that fail in each way, still carrying the real password."""
    def with_url(**changes):
        broken = copy.deepcopy(config)
        for database in broken["databases"].values():
            url = database["url"].replace("${" + PASSWORD_ENV + "}", "PASSWORD_SLOT")
            url = sa.engine.make_url(url).set(**changes).render_as_string(hide_password=False)
            database["url"] = url.replace("PASSWORD_SLOT", "${" + PASSWORD_ENV + "}")
        return broken

    cases = {"unreachable": with_url(port=1)}
    if kind == "mysql":
        cases["missing database"] = with_url(database="cq_no_such_database")
    else:
        cases["missing database"] = with_url(database="cq_no_such_database")
        missing_schema = copy.deepcopy(config)
        missing_schema["databases"][demo.PRODUCTS]["schema"] = "cq_no_such_schema"
        cases["missing schema"] = missing_schema
    if password_enforced_here:
        cases["wrong user"] = with_url(username="cq_no_such_user")
    return cases


def test_password_never_appears_in_any_output(reader, tmp_path, caplog):
    kind, password, config_dict = reader
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "psycopg", "explorer"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    outputs: dict[str, str] = {}
    try:
        config = explorer.load_config(config_dict)
        assert config.databases[demo.USERS_AND_ORDERS].url.password == password  # it is really used
        result = explorer.run(config, QUERY)
        assert result.root_count == 2
        statement = explorer.prepare(config, QUERY)
        export = tmp_path / "snippet.sql"
        statement.export(export)
        diagram = explorer.diagram(config)
        outputs.update({
            "config repr": repr(config), "config str": str(config),
            "databases": repr(config.databases) + str(list(config.databases.values())),
            "urls": " ".join(str(db.url) + repr(db.url) for db in config.databases.values()),
            "engine": repr(config.engine(demo.USERS_AND_ORDERS)),
            "statement": repr(statement) + statement.to_sql(literal=True) + statement.to_sql("sqlite"),
            "result": repr(result) + result.to_sql() + repr(result.execution) + str(result.records),
            "result html": getattr(result, "_repr_html_", lambda: "")() or "",
            "export": export.read_text(encoding="utf-8"),
            "diagram": diagram.mermaid + diagram.legend() + diagram._repr_markdown_(),
            "config json": config_to_json(config),
        })
        enforced = password_enforced(kind, config_dict)
        for case, broken in failing_configs(config_dict, kind, enforced).items():
            with pytest.raises(explorer.ExplorerError) as caught:
                explorer.run(broken, QUERY)
            outputs[f"error: {case}"] = "\n".join(error_texts(caught.value))
        outputs.update(cli_outputs(config_dict, kind, tmp_path, password))
    finally:
        for name in ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "psycopg", "explorer"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    outputs["log"] = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert len(caplog.records) > 20  # DEBUG logging was really on
    leaks = [name for name, text in outputs.items() if password in text]
    assert leaks == []
    assert "***" in outputs["config repr"] and "***" in outputs["export"]


def cli_outputs(config: dict, kind: str, tmp_path: Path, password: str) -> dict[str, str]:
    config_path = tmp_path / "shop.yaml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    query_path = tmp_path / "query.yaml"
    query_path.write_text(yaml.safe_dump(QUERY), encoding="utf-8")
    unreachable = tmp_path / "unreachable.yaml"
    unreachable.write_text(config_path.read_text().replace(":3306/", ":1/").replace(":5432/", ":1/"))
    outputs = {}
    runs = {
        "cli run json": ["run", str(config_path), str(query_path), "--format", "json"],
        "cli run table": ["run", str(config_path), str(query_path)],
        "cli sql": ["sql", str(config_path), str(query_path), "--literal"],
        "cli sql export": ["sql", str(config_path), str(query_path), "-o", str(tmp_path / "cli.sql")],
        "cli unreachable": ["run", str(unreachable), str(query_path)],
    }
    for name, args in runs.items():
        done = subprocess.run([CLI, *args], check=False, capture_output=True, text=True, timeout=60)
        outputs[name] = done.stdout + done.stderr
        assert (done.returncode != 0) == (name == "cli unreachable"), outputs[name]
    outputs["cli export file"] = (tmp_path / "cli.sql").read_text(encoding="utf-8")
    assert "crossquery: error: Could not connect to database" in outputs["cli unreachable"]
    return outputs


def test_wrong_password_is_a_clear_error_without_the_password(reader):
    kind, password, config_dict = reader
    if not password_enforced(kind, config_dict):
        pytest.skip(f"the {kind} server trusts local connections, so no password is checked")
    broken = copy.deepcopy(config_dict)
    wrong = password[::-1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, wrong)
        with pytest.raises(explorer.ExecutionError) as caught:
            explorer.run(broken, QUERY)
    message = str(caught.value)
    assert message.startswith("Could not connect to database 'users_and_orders'")
    assert "check the user name and password in the URL" in message
    assert wrong not in "\n".join(error_texts(caught.value))
    assert password not in "\n".join(error_texts(caught.value))


def test_missing_environment_variable_is_a_config_error(monkeypatch):
    monkeypatch.delenv("CQ_TEST_UNSET_VARIABLE", raising=False)
    config = {"databases": {"shop": {"url": "mysql+pymysql://u:${CQ_TEST_UNSET_VARIABLE}@h/db"}},
              "models": {"User": {"database": "shop"}}}
    with pytest.raises(explorer.ConfigError) as caught:
        explorer.load_config(config)
    assert str(caught.value) == (
        "databases.shop.url: environment variable 'CQ_TEST_UNSET_VARIABLE' is not set. Set it, or "
        "write ${CQ_TEST_UNSET_VARIABLE:-default} to give a default.")


def test_password_key_and_awkward_passwords_are_masked(monkeypatch):
    awkward = "p@ss:w/rd%40;'\"`$x"
    monkeypatch.setenv("CQ_TEST_AWKWARD", awkward)
    config = explorer.load_config({
        "databases": {"shop": {"url": "mysql+pymysql://u@127.0.0.1:1/db", "password": "${CQ_TEST_AWKWARD}"}},
        "models": {"User": {"database": "shop", "columns": ["id", "name"]}}})
    database = config.databases["shop"]
    assert database.url.password == awkward
    shown = [repr(config), repr(database), str(database.url), mask_url(database.url), database.where]
    with pytest.raises(explorer.ExecutionError) as caught:
        explorer.run(config, {"from": "User"})
    shown += error_texts(caught.value)
    assert not any(awkward in text for text in shown)
    assert scrub(f"mysql://u:{awkward}@h/db and {awkward}", [awkward]) == "mysql://u:***@h/db and ***"
    assert repr(Database("x", sa.engine.make_url("postgresql://u:s3cret@h/d"), "x")) == \
        "Database('x', 'postgresql://u:***@h/d', schema='x')"


def test_malformed_database_entry_does_not_echo_the_password():
    config = {"databases": {"shop": ["mysql+pymysql://u:hunter2secret@h/db"]}, "models": {}}
    with pytest.raises(explorer.ConfigError) as caught:
        explorer.load_config(config)
    assert "hunter2secret" not in str(caught.value)
    assert "u:***@h/db" in str(caught.value)
