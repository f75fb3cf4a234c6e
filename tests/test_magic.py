"""%crossquery and %%crossquery through a real IPython shell."""

from __future__ import annotations

import html
import re

import pytest
import yaml
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

import explorer
from explorer import demo

USERS_ORDERS = """\
from: User
attributes: [id, name]
include:
  - orders:
      attributes: [id, status]
order: [[id, asc]]
"""


@pytest.fixture(scope="module")
def shell():
    ip = start_ipython() or get_ipython()
    ip.display_formatter.active_types = list(ip.display_formatter.formatters)  # as a notebook would
    ip.run_line_magic("load_ext", "explorer")
    return ip


@pytest.fixture
def ip(shell, sqlite_config_path):
    """The shell with the SQLite shop as session config and a clean set of test variables."""
    shell.run_line_magic("crossquery", f"config {sqlite_config_path}")
    yield shell
    for name in ("_cq", "users", "who", "ids", "shop_dict", "shop_config", "stmt"):
        shell.user_ns.pop(name, None)


def cell(ip, line: str, body: str):
    return ip.run_cell_magic("crossquery", line, body)


def test_cell_runs_the_query_and_binds_default_out(ip):
    result = cell(ip, "", USERS_ORDERS)
    assert isinstance(result, explorer.Result) and ip.user_ns["_cq"] is result
    assert [r["name"] for r in result.records] == ["Alice", "Bob", "Chloé", "Dan O'Brien", "Eve", "Zoë 张伟", "Alan"]
    assert [o["id"] for o in result.records[0]["orders"]] == [1, 2, 10]
    assert result.records[4]["orders"] == []  # Eve has none: LEFT JOIN keeps her


def test_out_option_binds_a_variable(ip):
    result = cell(ip, "-o users", USERS_ORDERS)
    assert ip.user_ns["users"] is result and "_cq" not in ip.user_ns
    assert result.root_count == 7


def test_config_line_magic_accepts_a_variable_holding_a_dict(ip, sqlite_config_path):
    with open(sqlite_config_path, encoding="utf-8") as handle:
        ip.user_ns["shop_dict"] = yaml.safe_load(handle)
    for name, db in ip.user_ns["shop_dict"]["databases"].items():  # make the file paths absolute
        db["url"] = str(explorer.load_config(sqlite_config_path).databases[name].url)
    with capture_output() as captured:
        assert ip.run_line_magic("crossquery", "config shop_dict") is None
    assert "crossquery: using <Config 7 models" in captured.stdout
    assert ip.run_line_magic("crossquery", "config").models.keys() == explorer.load_config(
        sqlite_config_path).models.keys()
    assert cell(ip, "", "from: Category\nwhere: {id: 2}").records == [{"id": 2, "name": "Kitchen"}]


def test_config_option_takes_a_path_or_a_config_variable(ip, sqlite_config_path, sqlite_shop):
    assert cell(ip, f"-c {sqlite_config_path}", "from: Category").root_count == 5
    ip.user_ns["shop_config"] = sqlite_shop
    result = cell(ip, "--config shop_config", "from: Category\nwhere: {name: Garden}")
    assert result.config is sqlite_shop and result.records == [{"id": 3, "name": "Garden"}]


def test_colon_names_bind_notebook_variables(ip):
    ip.user_ns["who"] = "A%"
    ip.user_ns["ids"] = 7
    body = "from: User\nattributes: [id, name]\nwhere:\n  name:\n    like: :who\n  id:\n    ne: :ids\n"
    result = cell(ip, "", body)
    assert result.records == [{"id": 1, "name": "Alice"}]
    assert sorted(result.params.values(), key=str) == [7, "A%"]
    ip.user_ns["who"] = "B%"
    assert cell(ip, "", body).records == [{"id": 2, "name": "Bob"}]


def test_colon_name_holding_a_list(ip):
    ip.user_ns["ids"] = [1, 7]
    result = cell(ip, "", "from: User\nattributes: [id]\nwhere:\n  id:\n    in: :ids\n")
    assert result.records == [{"id": 1}, {"id": 7}]


def test_missing_variable_is_a_usage_error(ip):
    with pytest.raises(UsageError, match=r":nobody but the notebook has no variable nobody"):
        cell(ip, "", "from: User\nwhere:\n  name: :nobody\n")


def test_association_typo_is_a_usage_error_naming_it(ip):
    with pytest.raises(UsageError) as caught:
        cell(ip, "", "from: User\ninclude: [ordrs]")
    assert str(caught.value) == ("include.ordrs: User has no association 'ordrs'. "
                                 "Did you mean: orders, paid_orders?")


def test_error_shows_one_line_in_the_shell_not_a_traceback(ip):
    with capture_output() as captured:
        ip.run_cell("%%crossquery\nfrom: Usr\n")
    shown = captured.stdout + captured.stderr
    assert "UsageError: from: unknown model 'Usr'. Did you mean: User?" in shown
    assert "Traceback" not in shown


def test_sql_option_compiles_without_running(ip):
    ip.user_ns["who"] = "Bob"
    with capture_output() as captured:
        returned = cell(ip, "--sql -o stmt", "from: User\nwhere:\n  name: :who\n")
    statement = ip.user_ns["stmt"]
    assert returned is None and not isinstance(statement, explorer.Result)
    assert isinstance(statement, explorer.Statement) and statement.params == {"who": "Bob"}
    html = captured.outputs[0].data["text/html"]
    assert "one sqlite statement on users_and_orders (not run)" in html and "<span" in html


def test_sql_with_dialect_and_literal(ip):
    ip.user_ns["who"] = "Dan O'Brien"
    with capture_output() as captured:
        cell(ip, "--sql --dialect postgresql --literal", "from: User\nwhere:\n  name: :who\n")
    shown = html.unescape(re.sub(r"<[^>]+>", "", captured.outputs[0].data["text/html"]))
    assert "one postgresql statement" in shown
    assert "WHERE \"User\".name = 'Dan O''Brien'" in shown  # quoted for a SQL console


def test_export_option_writes_a_snippet(ip, tmp_path):
    target = tmp_path / "users.sql"
    with capture_output() as captured:
        result = cell(ip, f"--export {target} --dialect mysql", USERS_ORDERS)
    assert f"crossquery: wrote {target}" in captured.stdout
    text = target.read_text()
    assert "dialect: mysql" in text and "FROM users_and_orders.users AS `User`" in text
    assert result.root_count == 7


def test_max_rows_stops_big_results(ip):
    with pytest.raises(UsageError, match="more than max_rows=3 joined rows"):
        cell(ip, "--max-rows 3", "from: Order\ninclude: [products]")
    assert cell(ip, "--max-rows 100", "from: Order\ninclude: [products]").row_count == 15


def test_format_flat_frames_nested(ip):
    frame = cell(ip, "--format flat", USERS_ORDERS)
    assert list(frame.columns) == ["id", "name", "orders.id", "orders.status"] and len(frame) == 10
    assert ip.user_ns["_cq"].frame.equals(frame)
    with capture_output() as captured:
        assert cell(ip, "--format frames", USERS_ORDERS) is None
    shown = [o.data.get("text/html", "") for o in captured.outputs]
    assert shown[0] == "<b>User</b> (7 rows)" and shown[2] == "<b>orders</b> (9 rows)"
    nested = cell(ip, "--format nested", USERS_ORDERS)
    assert nested.data[0]["orders"] == [{"id": 1, "status": "paid"}, {"id": 2, "status": "pending"},
                                        {"id": 10, "status": "paid"}]


def test_diagram_and_builder_line_magics(ip, sqlite_config_path):
    picture = ip.run_line_magic("crossquery", "diagram")
    assert picture._repr_markdown_().startswith("```mermaid\nerDiagram\n")
    ip.user_ns["query"] = {"from": "Order", "include": ["products"]}
    builder = ip.run_line_magic("crossquery", f"builder {sqlite_config_path} query")
    assert builder.query == {"from": "Order", "include": ["products"]}
    assert builder.cell.startswith(f"%%crossquery -c {sqlite_config_path}\n")


def test_line_usage_and_empty_cell(ip):
    with pytest.raises(UsageError, match="%crossquery config PATH"):
        ip.run_line_magic("crossquery", "bogus")
    with pytest.raises(UsageError, match="cell is empty"):
        cell(ip, "", "  \n")


def test_no_config_yet_says_how_to_set_one():
    from explorer.magic import CrossqueryMagics

    magics = CrossqueryMagics(start_ipython() or get_ipython())
    with pytest.raises(UsageError, match="run `%crossquery config shop.yaml` first"):
        magics.crossquery("", "from: User")


@pytest.mark.mysql
def test_cross_database_query_on_mariadb(ip, mysql_config_dict):
    ip.user_ns["shop_dict"] = mysql_config_dict
    ip.user_ns["who"] = "Alice"
    body = demo.DEMO_QUERY.replace("order: [[name, asc]]", "where:\n  name: :who\norder: [[name, asc]]")
    result = cell(ip, "-c shop_dict -o users", body)
    assert result.dialect == "mysql" and result.databases == ["users_and_orders", "products"]
    assert "FROM cqtest" in result.sql  # the real database names at run time
    products = [p["name"] for o in result.records[0]["orders"] for p in o["products"]]
    assert products == ["Fountain pen", 'Notebook "A5"']


def test_every_option_and_command_is_documented():
    from pathlib import Path

    from explorer.magic import CrossqueryMagics

    docs = (Path(__file__).resolve().parent.parent / "docs" / "notebook.md").read_text(encoding="utf-8")
    options = [s for a in CrossqueryMagics.crossquery.parser._actions for s in a.option_strings if s != "-h"]
    assert options and all(f"`{option}" in docs or f" {option}" in docs for option in options), options
    for command in ("config", "diagram", "builder", "init"):
        assert f"`%crossquery {command}" in docs


def test_nested_view_keeps_numbers_a_browser_would_round_as_text():
    from explorer.magic import _shown_integer, _shown_number

    assert _shown_integer("9007199254740992") == 2**53 and _shown_integer("9223372036854775807") == "9223372036854775807"
    assert _shown_number("0.5") == 0.5 and _shown_number("31.40") == "31.40"
