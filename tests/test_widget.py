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
    parse_count,
    parse_value,
    state_from_options,
    where_to_conditions,
)
from explorer.display import sql_html


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


# ---------------------------------------------------------------------------
# Junction attributes, each parent's own order/limit/offset, soft deletes


SHELF_ROWS = {
    "members (id INTEGER PRIMARY KEY, name TEXT, deleted_at TEXT)": [
        (1, "Ann", None), (2, "Bob", "2024-05-01")],
    "books (id INTEGER PRIMARY KEY, title TEXT)": [(1, "Dune"), (2, "Emma"), (3, "Faust")],
    "loans (id INTEGER PRIMARY KEY, member_id INTEGER, book_id INTEGER, loaned_at TEXT, deleted_at TEXT)": [
        (1, 1, 1, "2024-01-01", None), (2, 1, 2, "2024-02-01", None),
        (3, 1, 3, "2024-03-01", "2024-03-05"), (4, 2, 1, "2024-01-10", None)],
}


@pytest.fixture
def shelf(tmp_path):
    """Members (soft-deleted by deleted_at) borrow books through loans (soft-deleted too)."""
    import sqlite3

    path = tmp_path / "shelf.db"
    with sqlite3.connect(path) as db:
        for table, rows in SHELF_ROWS.items():
            db.execute(f"CREATE TABLE {table}")
            db.executemany(f"INSERT INTO {table.split()[0]} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    db.close()
    member_key = {"foreign_key": "member_id"}
    return explorer.load_config({
        "databases": {"shelf": {"url": f"sqlite:///{path}"}},
        "models": {
            "Member": {"database": "shelf", "table": "members", "paranoid": "deleted_at", "associations": {
                "loans": {"has_many": "Loan", **member_key},
                "books": {"belongs_to_many": "Book", "through": "Loan", **member_key, "other_key": "book_id"}}},
            "Loan": {"database": "shelf", "table": "loans", "paranoid": "deleted_at", "associations": {
                "member": {"belongs_to": "Member", **member_key},
                "book": {"belongs_to": "Book", "foreign_key": "book_id"}}},
            "Book": {"database": "shelf", "table": "books"},
        },
    })


def shown(node) -> list:
    """The controls a node's box shows, without those of its children."""
    found, stack = [], list(node.box.children)
    while stack:
        widget = stack.pop()
        if widget is not node.children_box:
            found.append(widget)
            stack.extend(getattr(widget, "children", ()))
    return found


def orders_and_products(b):
    b.node().checkboxes["orders"].value = True
    b.node("orders").checkboxes["products"].value = True
    b.node("orders.products").checkboxes["category"].value = True


NEW_OPTIONS = {
    "from": "User", "paranoid": False,
    "include": [{"orders": {
        "attributes": ["id", "total"], "required": False, "where": {"status": "paid"},
        "order": [["total", "desc"], ["id", "asc"]], "limit": 3, "offset": 1, "paranoid": False,
        "include": [{"products": {
            "through": {"attributes": ["quantity"], "where": {"quantity": {"gte": 2}}, "paranoid": False},
            "order": [["name", "asc"]], "limit": 2}}],
    }}],
}


def test_through_per_parent_list_and_paranoid_options_round_trip_through_the_state(sqlite_shop):
    state = state_from_options(sqlite_shop, "User", NEW_OPTIONS)
    assert {"from": "User", **state.options()} == NEW_OPTIONS
    products = state.children["orders"].children["products"]
    assert products.through_attributes == ["quantity"] and products.through_where == {"quantity": {"gte": 2}}
    assert products.through_paranoid is False and products.limit == 2 and products.offset is None
    # one fixed key order, the include option order
    assert list(state.children["orders"].options()) == [
        "attributes", "required", "where", "order", "limit", "offset", "paranoid", "include"]
    assert list(products.through()) == ["attributes", "where", "paranoid"]


def test_the_root_keeps_its_order_and_limit_out_of_the_node_state(sqlite_shop):
    state = state_from_options(sqlite_shop, "User", {"from": "User", "order": [["name", "desc"]], "limit": 2})
    assert state.order == [] and state.limit is None and state.options() == {}


def test_builder_query_round_trips_the_new_options(builder, sqlite_shop):
    orders_and_products(builder)
    orders, products = builder.node("orders"), builder.node("orders.products")
    products.through_attributes.value = ("quantity",)
    orders.order_column.value, orders.order_direction.value = "total", "desc"
    orders.limit.value, orders.offset.value = "2", "1"
    again = state_from_options(sqlite_shop, "User", builder.query)
    assert {"from": "User", **again.options()} == builder.query


def test_reopening_a_yaml_query_with_the_new_options_keeps_them(sqlite_shop):
    b = explorer.builder(sqlite_shop, query=yaml.safe_dump(NEW_OPTIONS))
    assert b.query == NEW_OPTIONS
    assert b.node("orders.products").through_attributes.value == ("quantity",)
    assert (b.node("orders").order_column.value, b.node("orders").order_direction.value) == ("total", "desc")
    assert (b.node("orders").limit.value, b.node("orders").offset.value) == ("3", "1")


def test_junction_columns_and_each_parents_list_controls_write_the_query(builder, monkeypatch):
    orders_and_products(builder)
    refreshes = []
    monkeypatch.setattr(builder, "refresh", lambda: refreshes.append(1))
    orders, products = builder.node("orders"), builder.node("orders.products")
    products.through_attributes.value = ("quantity",)
    orders.order_column.value = "total"
    orders.order_direction.value = "desc"
    orders.limit.value = "2"
    orders.offset.value = "1"
    assert len(refreshes) == 5  # every control refreshes the live SQL
    assert builder.query == {"from": "User", "include": [{"orders": {
        "order": [["total", "desc"]], "limit": 2, "offset": 1,
        "include": [{"products": {"through": {"attributes": ["quantity"]}, "include": ["category"]}}]}}]}
    products.through_attributes.value = ()
    orders.order_column.value = ""
    orders.limit.value = orders.offset.value = ""
    assert builder.query == {"from": "User", "include": [{"orders": {"include": [
        {"products": {"include": ["category"]}}]}}]}


def test_a_limit_that_is_not_a_number_is_said_inline_and_not_applied(builder):
    builder.node().checkboxes["orders"].value = True
    orders = builder.node("orders")
    orders.limit.value = "ten"
    assert builder.query["include"] == ["orders"]
    assert "limit: expected a whole number >= 0, got 'ten'; not applied." in orders.count_message.value
    assert orders.count_message in shown(orders)
    orders.limit.value = " 3 "
    assert builder.query["include"] == [{"orders": {"limit": 3}}] and orders.count_message.value == ""
    assert parse_count("") is None and parse_count("0") == 0
    for bad in ("-1", "2.5", "²"):
        with pytest.raises(ValueError):
            parse_count(bad)


def test_junction_and_list_controls_appear_only_where_they_apply(builder):
    orders_and_products(builder)
    builder.node("orders").checkboxes["user"].value = True
    has_many, many_to_many = builder.node("orders"), builder.node("orders.products")
    for node in (builder.node(), builder.node("orders.products.category"), builder.node("orders.user")):
        assert node.through_attributes is node.order_column is node.limit is node.offset is None
    assert has_many.through_attributes is None and has_many.show_deleted_links is None
    assert many_to_many.through_attributes in shown(many_to_many)
    assert many_to_many.through_attributes.options == ("order_id", "product_id", "quantity")
    assert many_to_many.through_attributes.value == ()  # the default shows no junction column
    for node in (has_many, many_to_many):
        assert {node.order_column, node.order_direction, node.limit, node.offset} <= set(shown(node))
        assert node.order_column.value == "" and node.order_direction.options == ("asc", "desc")
    assert [value for _, value in has_many.order_column.options][:3] == ["", "id", "user_id"]
    # no model of the shop is paranoid
    for node in (builder.node(), has_many, many_to_many, builder.node("orders.user")):
        assert node.show_deleted is None and node.show_deleted_links is None


def test_show_deleted_appears_only_on_paranoid_models(shelf):
    b = explorer.builder(shelf, query={"from": "Member", "include": ["loans", "books"]})
    b.node("loans").checkboxes["member"].value = True
    b.node("loans").checkboxes["book"].value = True
    root, loans, books = b.node(), b.node("loans"), b.node("books")
    for node, paranoid in ((root, True), (loans, True), (b.node("loans.member"), True), (books, False),
                           (b.node("loans.book"), False)):
        assert (node.show_deleted is not None) is paranoid
        assert node.show_deleted is None or node.show_deleted in shown(node)
    assert root.show_deleted.description == "show deleted (deleted_at set)"
    assert books.show_deleted_links in shown(books)
    assert books.show_deleted_links.description == "show deleted links (deleted_at set)"
    assert root.show_deleted_links is loans.show_deleted_links is None  # only on belongs_to_many
    assert b.node("loans.member").order_column is None  # a belongs_to has no list to order


def test_show_deleted_boxes_write_paranoid_false(shelf):
    b = explorer.builder(shelf, query={"from": "Member", "include": ["loans", "books"]})
    b.node().show_deleted.value = True
    b.node("loans").show_deleted.value = True
    b.node("books").show_deleted_links.value = True
    assert b.query == {"from": "Member", "paranoid": False,
                       "include": [{"loans": {"paranoid": False}}, {"books": {"through": {"paranoid": False}}}]}
    assert state_from_options(shelf, "Member", b.query).options() == {
        k: v for k, v in b.query.items() if k != "from"}
    b.node().show_deleted.value = b.node("loans").show_deleted.value = False
    b.node("books").show_deleted_links.value = False
    assert b.query == {"from": "Member", "include": ["loans", "books"]}


def preview_follows(b) -> None:
    """The live preview shows the current query's statement, not an error."""
    assert "color:#a00" not in b.preview.value, b.preview.value
    assert b.preview.value == sql_html(b.sql)


def test_per_parent_limit_compiles_to_a_row_number_window(builder):
    builder.node().checkboxes["orders"].value = True
    orders = builder.node("orders")
    orders.order_column.value, orders.order_direction.value, orders.limit.value = "total", "desc", "2"
    preview_follows(builder)
    assert "row_number() over" in builder.sql.lower()
    alice = builder.run().records[0]
    assert [o["id"] for o in alice["orders"]] == [2, 1]  # her 2 largest of 59.00, 31.40, 0.00


def test_junction_attributes_reach_the_statement_and_the_records(builder):
    orders_and_products(builder)
    builder.node("orders.products").through_attributes.value = ("quantity",)
    preview_follows(builder)
    assert "quantity" in builder.sql
    product = builder.run().records[0]["orders"][0]["products"][0]
    assert product["OrderProduct"] == {"quantity": 1}


def test_soft_deleted_rows_are_filtered_until_show_deleted_is_ticked(shelf):
    b = explorer.builder(shelf, query={"from": "Member", "include": ["books"]})
    preview_follows(b)
    assert "deleted_at IS NULL" in b.sql
    assert [(m["name"], sorted(x["title"] for x in m["books"])) for m in b.run().records] == [
        ("Ann", ["Dune", "Emma"])]
    b.node().show_deleted.value = True
    b.node("books").show_deleted_links.value = True
    preview_follows(b)
    assert "deleted_at IS NULL" not in b.sql
    assert [(m["name"], sorted(x["title"] for x in m["books"])) for m in b.run().records] == [
        ("Ann", ["Dune", "Emma", "Faust"]), ("Bob", ["Dune"])]
