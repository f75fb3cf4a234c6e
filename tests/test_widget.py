"""The visual builder without a browser: set control values, assert on .query, .sql, run() and exports."""

from __future__ import annotations

import pytest
import yaml
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import explorer
from explorer.builder_state import (
    conditions_to_where,
    format_value,
    parse_value,
    where_to_conditions,
)


@pytest.fixture
def builder(sqlite_shop):
    return explorer.builder(sqlite_shop)


def three_levels(b):
    """User -> orders (paid) -> products -> category, clicked together."""
    b.node().checkboxes["orders"].value = True
    b.node("orders").checkboxes["products"].value = True
    b.node("orders.products").checkboxes["category"].value = True
    b.node().attributes.value = ("id", "name")
    b.node("orders").attributes.value = ("id", "status", "total")
    b.node("orders").new_condition("status").value.value = "paid"
    b.new_order("name", "asc")


def test_starts_on_the_first_model_with_every_control(builder, sqlite_shop):
    assert builder.query == {"from": "User"}
    assert list(builder.model.options) == list(sqlite_shop.models)
    assert set(builder.node().checkboxes) == {"orders", "paid_orders", "reviews", "referrer", "referrals"}
    assert builder.node().checkboxes["reviews"].description == "reviews → Review ⇄ products"
    assert "FROM users_and_orders.users" in builder.sql
    assert "SELECT" in builder.preview.value and "<span" in builder.preview.value


def test_three_level_cross_database_include_without_typing_yaml(builder, sqlite_shop):
    three_levels(builder)
    assert builder.query == {
        "from": "User", "attributes": ["id", "name"],
        "include": [{"orders": {"attributes": ["id", "status", "total"], "where": {"status": "paid"},
                                "include": [{"products": {"include": ["category"]}}]}}],
        "order": [["name", "asc"]],
    }
    assert builder.node("orders").required.value is True  # a where makes it required by default
    assert builder.sql == explorer.prepare(sqlite_shop, builder.query).to_sql()
    assert "products.products AS \"orders->products\"" in builder.sql
    result = builder.run()
    assert builder.result is result
    assert result.records == explorer.run(sqlite_shop, builder.query).records
    assert [u["name"] for u in result.records] == ["Alice", "Bob", "Chloé", "Dan O'Brien", "Zoë 张伟"]
    assert result.records[0]["orders"][0]["products"][0]["category"] == {"id": 1, "name": "Stationery"}


def test_required_toggle_limit_offset_and_unchecking(builder):
    builder.node().checkboxes["orders"].value = True
    builder.node("orders").required.value = True
    builder.limit.value, builder.offset.value = 2, 1
    assert builder.query == {"from": "User", "include": [{"orders": {"required": True}}], "limit": 2, "offset": 1}
    assert [u["id"] for u in builder.run().records] == [2, 3]
    builder.node().checkboxes["orders"].value = False
    assert builder.query == {"from": "User", "limit": 2, "offset": 1}
    assert builder.node().children == {}


def test_or_conditions_operators_and_removal(builder):
    node = builder.node()
    first = node.new_condition("name", "like", "")
    first.value.value = "A%"
    second = node.new_condition("id")
    second.op.value = "in"
    second.value.value = "4, 5"
    node.combinator.value = "or"
    assert builder.query["where"] == {"or": [{"name": {"like": "A%"}}, {"id": {"in": [4, 5]}}]}
    assert [u["name"] for u in builder.run().records] == ["Alice", "Dan O'Brien", "Eve", "Alan"]
    first.remove.click()
    assert builder.query["where"] == {"id": {"in": [4, 5]}}


def test_cycles_expand_only_when_checked(builder):
    root = builder.node()
    assert root.children == {}  # nothing built until checked
    root.checkboxes["referrals"].value = True
    level1 = builder.node("referrals")
    assert level1.children == {} and "referrals" in level1.checkboxes
    level1.checkboxes["referrals"].value = True
    assert builder.query["include"] == [{"referrals": {"include": ["referrals"]}}]
    alice = builder.run().records[0]
    assert [r["name"] for r in alice["referrals"]] == ["Bob", "Chloé"]
    assert [r["name"] for r in alice["referrals"][0]["referrals"]] == ["Dan O'Brien"]


def test_changing_the_root_model_resets_the_tree(builder):
    builder.node().checkboxes["orders"].value = True
    builder.model.value = "Product"
    assert builder.query == {"from": "Product"}
    assert "category" in builder.node().checkboxes


def test_order_choices_follow_the_included_paths(builder):
    builder.node().checkboxes["orders"].value = True
    builder.new_order()
    dropdown, direction = builder.order_box.children[0].children
    assert "orders.total" in dropdown.options
    dropdown.value, direction.value = "orders.total", "desc"
    assert builder.query["order"] == [["orders.total", "desc"]]


def test_builder_yaml_builder_round_trip(builder, sqlite_shop):
    three_levels(builder)
    builder.node().checkboxes["reviews"].value = True
    builder.node("reviews").required.value = False
    builder.node("reviews").new_condition("rating", "gte", 4)
    builder.limit.value = 3
    again = explorer.builder(sqlite_shop, query=builder.yaml)
    assert again.query == builder.query
    assert again.sql == builder.sql
    assert again.node("reviews").condition_rows[0].value.value == "4"
    assert again.node("orders").checkboxes["products"].value is True


def test_opens_an_existing_query_with_where_it_cannot_edit(sqlite_shop):
    query = {"from": "User", "where": {"name": "Alice", "$orders.status$": "paid"}, "include": ["orders"]}
    b = explorer.builder(sqlite_shop, query=query)
    assert b.query == {"from": "User", "where": {"$orders.status$": "paid", "name": "Alice"}, "include": ["orders"]}
    assert [o["id"] for o in b.run().records[0]["orders"]] == [1, 10]


def test_exports_snippet_cell_and_yaml(builder, sqlite_config_path, tmp_path):
    three_levels(builder)
    path = builder.export_sql(tmp_path / "q.sql", dialect="postgresql", literal=True)
    text = path.read_text()
    assert "dialect: postgresql" in text and "orders.status = 'paid'" in text
    assert yaml.safe_load(builder.yaml) == builder.query
    assert builder.cell == f"%%crossquery -c {sqlite_config_path}\n{builder.yaml}"
    ip = start_ipython() or get_ipython()
    assert builder.insert_cell() == builder.cell
    assert ip.rl_next_input == builder.cell  # the terminal shell's slot for set_next_input


def test_insert_cell_from_a_button_without_jupyterlab_shows_the_cell_to_copy(builder, monkeypatch):
    """A button callback runs on a widget message; with no JupyterLab answering (no ipylab
    front-end here) the cell goes to the text box instead of a lost set_next_input."""
    three_levels(builder)
    ip = start_ipython() or get_ipython()
    ip.rl_next_input = None
    widget_message = {"header": {"msg_type": "comm_msg"}}
    monkeypatch.setattr(ip, "kernel", type("Kernel", (), {"get_parent": lambda self: widget_message})(),
                        raising=False)
    assert builder.insert_cell() == builder.cell
    assert ip.rl_next_input is None
    assert builder.yaml_box.value == builder.cell and builder.yaml_box.layout.display is None
    assert "cannot insert a cell" in builder.status.value
    builder.node("orders").checkboxes["products"].value = False  # the box follows the controls
    assert builder.yaml_box.value == builder.cell and "products" not in builder.yaml_box.value


def test_inserted_cell_reproduces_the_result(builder, sqlite_config_path):
    three_levels(builder)
    ip = start_ipython() or get_ipython()
    ip.run_line_magic("load_ext", "explorer")
    header, _, body = builder.cell.partition("\n")
    assert header == f"%%crossquery -c {sqlite_config_path}"
    result = ip.run_cell_magic("crossquery", header.removeprefix("%%crossquery "), body)
    assert result.records == builder.run().records


def test_buttons_report_in_the_status_line(builder, tmp_path):
    buttons = {b.description: b for b in builder.widget.children[6].children if hasattr(b, "click")}
    builder.path.value = str(tmp_path / "button.sql")
    buttons["Write .sql"].click()
    assert builder.status.value == f"Wrote {tmp_path / 'button.sql'}" and (tmp_path / "button.sql").exists()
    buttons["Show YAML"].click()
    assert builder.yaml_box.value == "from: User\n"
    buttons["Run"].click()
    assert builder.status.value == "Ran: 7 root rows, 7 joined rows." and builder.result.root_count == 7


def test_preview_shows_errors_instead_of_raising(builder):
    builder.node().new_condition("id", "between", "").value.value = "1"
    assert "between expects [low, high]" in builder.preview.value


def test_value_parsing_and_formatting():
    assert parse_value("eq", "5") == 5 and parse_value("eq", "'5'") == "5"
    assert parse_value("like", "%pen%") == "%pen%" and parse_value("eq", ":who") == ":who"
    assert parse_value("in", "[1, 2]") == [1, 2] and parse_value("in", "a, b") == ["a", "b"]
    assert parse_value("is", "null") is None
    for value in ("5", 5, "%pen%", None, [1, "x"], "Dan O'Brien", True):
        assert parse_value("eq", format_value(value)) == value
    rows = [["name", "like", "A%"], ["id", "gt", 1], ["id", "lt", 5]]
    where = conditions_to_where(rows, "and")
    assert where == {"name": {"like": "A%"}, "id": {"gt": 1, "lt": 5}}
    assert where_to_conditions(where) == ("and", rows, None)


@pytest.mark.mysql
def test_builder_on_mariadb(mysql_shop):
    b = explorer.builder(mysql_shop)
    three_levels(b)
    assert "FROM cqtest" in b.sql and "_products.products AS `orders->products`" in b.sql
    result = b.run()
    assert result.dialect == "mysql"
    assert [p["name"] for p in result.records[0]["orders"][0]["products"]] == ["Fountain pen", 'Notebook "A5"']


def test_operator_spellings_and_mistakes_in_an_opened_query(sqlite_shop):
    b = explorer.builder(sqlite_shop, query={"from": "User", "where": {"name": {"$like": "A%"}, "id": {">=": 2}}})
    assert [(r.column.value, r.op.value, r.value.value) for r in b.node().condition_rows] == [
        ("name", "like", "A%"), ("id", "gte", "2")]
    assert [u["name"] for u in b.run().records] == ["Alan"]
    with pytest.raises(explorer.QueryError, match="include.ordrs: User has no association 'ordrs'"):
        explorer.builder(sqlite_shop, query={"from": "User", "include": ["ordrs"]})
