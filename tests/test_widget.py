"""The visual builder without a browser: set control values, assert on .query, .sql, run() and exports."""

from __future__ import annotations

import re

import ipywidgets as w
import pytest
import yaml
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import explorer
from explorer.builder_state import (
    aggregate_paths,
    aggregate_targets,
    closest_target,
    conditions_to_where,
    format_value,
    parse_count,
    parse_value,
    state_from_options,
    where_to_conditions,
)
from explorer.display import sql_html as preview_html


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
    assert b.preview.value == preview_html(b.sql)


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


# ---------------------------------------------------------------------------
# Aggregates: rows of function, path and name on any node


def test_aggregate_rows_add_and_remove_write_the_query(builder):
    root = builder.node()
    count = root.new_aggregate()
    assert (count.function.value, count.path.value, count.name.value) == ("count", "orders", "count_orders")
    assert builder.query == {"from": "User", "aggregate": {"count_orders": {"count": "orders"}}}
    total = root.new_aggregate("sum", "orders.total")
    root.checkboxes["orders"].value = True
    builder.node("orders").new_aggregate("count", "products")
    assert builder.query == {
        "from": "User", "aggregate": {"count_orders": {"count": "orders"}, "sum_orders_total": {"sum": "orders.total"}},
        "include": [{"orders": {"aggregate": {"count_products": {"count": "products"}}}}]}
    assert [r.box for r in root.aggregate_rows] == list(root.aggregates_box.children)
    assert root.aggregates_box in shown(root) and root.add_aggregate in shown(root)
    count.remove.click()
    assert builder.query["aggregate"] == {"sum_orders_total": {"sum": "orders.total"}}
    assert root.aggregate_rows == [total]
    total.remove.click()
    assert "aggregate" not in builder.query and root.aggregates_box.children == ()


def test_aggregate_path_choices_follow_the_function(builder, sqlite_shop):
    paths = aggregate_paths(sqlite_shop, "User")
    assert paths[:4] == ["orders", "orders.products", "orders.products.category", "orders.products.reviews"]
    assert {"reviews", "reviews.product", "referrals", "referrals.orders", "referrer.orders"} <= set(paths)
    # a to-many step on every path, at most 3 deep, no way back to a model on the path but one self-step
    for gone in ("referrer", "orders.user", "reviews.author", "referrals.referrals", "referrals.referrer.orders"):
        assert gone not in paths
    assert max(p.count(".") for p in paths) == 2 and len(paths) == len(set(paths))
    assert aggregate_paths(sqlite_shop, "Shipment") == []
    row = builder.node().new_aggregate()
    assert list(row.path.options) == paths  # count: the association paths
    row.function.value = "sum"  # the others: a column at the end, numbers only for sum and avg
    assert row.path.value == "orders.id" and "orders.total" in row.path.options
    assert "orders.status" not in row.path.options and "orders" not in row.path.options
    assert list(row.path.options) == aggregate_targets(sqlite_shop, "User", "sum")
    row.path.value = "orders.total"
    row.function.value = "max"
    assert row.path.value == "orders.total" and "orders.status" in row.path.options
    row.path.value = "reviews.body"
    row.function.value = "avg"  # body is no number: a number column of the same association
    assert row.path.value == "reviews.id"
    row.function.value = "count"
    assert row.path.value == "reviews"
    assert closest_target("orders.status", ["orders.id", "orders.total"]) == "orders.id"
    shipments = explorer.builder(sqlite_shop, query={"from": "Shipment"}).node()
    assert shipments.add_aggregate.disabled and "no to-many" in shipments.add_aggregate.tooltip


def test_aggregate_name_defaults_and_follows_until_typed(builder):
    root = builder.node()
    first, second = root.new_aggregate(), root.new_aggregate()
    assert (first.name.value, second.name.value) == ("count_orders", "count_orders_2")
    second.path.value = "reviews"
    assert second.name.value == "count_reviews"  # a name the builder gave follows the path
    second.function.value = "min"
    assert (second.path.value, second.name.value) == ("reviews.id", "min_reviews_id")
    second.name.value = "first_review "
    second.path.value = "reviews.rating"
    assert second.name.value == "first_review " and second.item.name == "first_review"  # typed: kept
    assert builder.query["aggregate"] == {"count_orders": {"count": "orders"},
                                          "first_review": {"min": "reviews.rating"}}
    assert not second.name.continuous_update  # applied on Enter, not at each key


def test_blank_or_repeated_aggregate_names_are_said_and_left_out(builder):
    root = builder.node()
    first, second = root.new_aggregate(), root.new_aggregate("count", "reviews")
    assert root.aggregate_message.layout.display == "none"
    second.name.value = "count_orders"
    assert builder.query["aggregate"] == {"count_orders": {"count": "orders"}}
    assert "'count_orders' names two aggregates; only the first is applied" in root.aggregate_message.value
    assert root.aggregate_message.layout.display is None
    first.name.value = ""
    assert builder.query["aggregate"] == {"count_orders": {"count": "reviews"}}
    assert "an aggregate without a name is not applied" in root.aggregate_message.value


AGGREGATE_QUERY = {
    "from": "User", "attributes": ["id", "name"],
    "aggregate": {"open_orders": {"count": "orders", "where": {"status": {"ne": "paid"}}},
                  "spent": {"sum": "orders.total"}},
    "having": {"open_orders": {"gte": 1}},
    "include": [{"orders": {"aggregate": {"items": {"count": "products"}}}}],
    "order": [["spent", "desc"], ["id", "asc"]],
}


def test_aggregates_round_trip_through_the_state_and_yaml(sqlite_shop):
    state = state_from_options(sqlite_shop, "User", AGGREGATE_QUERY)
    assert {"from": "User", **state.options(), "order": AGGREGATE_QUERY["order"]} == AGGREGATE_QUERY
    assert [(a.name, a.function, a.path, a.extra) for a in state.aggregates] == [
        ("open_orders", "count", "orders", {"where": {"status": {"ne": "paid"}}}), ("spent", "sum", "orders.total", {})]
    assert state.having == {"open_orders": {"gte": 1}}  # kept as written
    assert list(state.options()) == ["attributes", "aggregate", "having", "include"]
    b = explorer.builder(sqlite_shop, query=yaml.safe_dump(AGGREGATE_QUERY))
    assert b.query == AGGREGATE_QUERY
    open_orders = b.node().aggregate_rows[0]
    assert (open_orders.function.value, open_orders.path.value, open_orders.name.value) == (
        "count", "orders", "open_orders")
    assert "where: {status: {ne: paid}} (kept as written)" in [c.value for c in open_orders.box.children
                                                                if isinstance(c, w.Label)]
    assert b.node("orders").aggregate_rows[0].name.value == "items"
    open_orders.path.value = "paid_orders"  # a typed name stays; the where stays with the row
    assert b.query["aggregate"]["open_orders"] == {"count": "paid_orders", "where": {"status": {"ne": "paid"}}}
    again = explorer.builder(sqlite_shop, query=b.yaml)
    assert again.query == b.query
    with pytest.raises(explorer.QueryError, match="aggregate.n: expected one of count"):
        state_from_options(sqlite_shop, "User", {"from": "User", "aggregate": {"n": {"cnt": "orders"}}})


def test_aggregate_paths_written_in_yaml_are_kept_in_the_choices(sqlite_shop):
    deep = "referrals.orders.products.reviews"  # four deep: more than the builder offers
    b = explorer.builder(sqlite_shop, query={"from": "User", "aggregate": {"deep": {"count": deep}}})
    row = b.node().aggregate_rows[0]
    assert row.path.value == deep and deep in row.path.options and deep not in aggregate_paths(sqlite_shop, "User")
    assert b.query["aggregate"] == {"deep": {"count": deep}}


def test_root_order_offers_the_roots_aggregates(builder):
    row = builder.node().new_aggregate()
    builder.new_order()
    dropdown, _direction = builder.order_box.children[0].children
    assert dropdown.options[-1] == "count_orders"
    dropdown.value = "count_orders"
    assert builder.query["order"] == [["count_orders", "asc"]]
    row.name.value = "orders_made"  # the order follows a renamed aggregate
    assert builder.query["order"] == [["orders_made", "asc"]] and dropdown.value == "orders_made"
    assert "count_orders" not in dropdown.options


def shop_sql(sqlite_config_path, sql: str) -> list[tuple]:
    """A hand-written statement on the demo shop's SQLite files (the oracle for the counts)."""
    import sqlite3
    from pathlib import Path

    folder = Path(sqlite_config_path).parent
    with sqlite3.connect(folder / "users_and_orders.db") as db:
        db.execute(f"ATTACH DATABASE '{folder / 'products.db'}' AS products")
        return db.execute(sql).fetchall()


def test_aggregates_added_in_the_builder_reach_the_live_sql_and_the_run(builder, sqlite_config_path):
    root = builder.node()
    root.attributes.value = ("id", "name")
    root.new_aggregate()
    paid = root.new_aggregate("sum", "paid_orders.total")
    paid.name.value = "paid"
    builder.new_order("count_orders", "desc")
    builder.new_order("id", "asc")
    preview_follows(builder)
    assert "count(" in builder.sql.lower()
    records = builder.run().records
    expected = shop_sql(sqlite_config_path, """
        SELECT u.id, COUNT(o.id), SUM(CASE WHEN o.status = 'paid' THEN o.total END)
        FROM users u LEFT JOIN orders o ON o.user_id = u.id
        GROUP BY u.id ORDER BY COUNT(o.id) DESC, u.id""")
    assert [(r["id"], r["count_orders"]) for r in records] == [(i, n) for i, n, _ in expected]
    assert [None if r["paid"] is None else float(r["paid"]) for r in records] == [
        None if s is None else round(s, 2) for _, _, s in expected]


def test_an_include_aggregate_counts_per_child_row(builder, sqlite_config_path):
    builder.node().checkboxes["orders"].value = True
    builder.node("orders").attributes.value = ("id",)
    builder.node("orders").new_aggregate("count", "products")
    preview_follows(builder)
    counts = {o["id"]: o["count_products"] for u in builder.run().records for o in u["orders"]}
    expected = dict(shop_sql(sqlite_config_path, """
        SELECT o.id, COUNT(op.product_id) FROM orders o LEFT JOIN order_products op ON op.order_id = o.id
        WHERE o.user_id IS NOT NULL GROUP BY o.id"""))
    assert counts == expected


# ---------------------------------------------------------------------------
# Layout: toggles in full, separate association labels, the preview's wrapping, the filter box


def widgets_in(widget) -> list:
    found, stack = [], [widget]
    while stack:
        widget = stack.pop()
        found.append(widget)
        stack.extend(getattr(widget, "children", ()))
    return found


def test_every_toggle_sizes_its_buttons_to_their_labels(builder):
    orders_and_products(builder)
    builder.new_order("name", "desc")
    toggles = [x for x in widgets_in(builder.widget) if isinstance(x, w.ToggleButtons)]
    assert {t.options for t in toggles} == {("and", "or"), ("asc", "desc")}
    assert len(toggles) == 4 + 2 + 1  # a where per node, an order per to-many list, the root's order
    # 48px cut "desc" to "d..." (it needs about 50px with the buttons' padding)
    assert {t.style.button_width for t in toggles} == {"auto"}


def test_association_checkboxes_are_separate_framed_labels(builder):
    root = builder.node()
    boxes = list(root.association_box.children)
    assert boxes == list(root.checkboxes.values())  # one widget each, side by side, wrapping
    assert root.association_box.layout.flex_flow == "row wrap"
    assert [b.description for b in boxes] == ["orders → Order", "paid_orders → Order",
                                              "reviews → Review ⇄ products", "referrer → User", "referrals → User"]
    for box in boxes:
        layout = box.layout
        assert box.indent is False and layout.width == "auto"
        assert layout.margin.split()[1] != "0" and layout.padding and layout.border  # room and a frame


def test_sql_preview_wraps_at_blanks_only(builder):
    import html as html_

    orders_and_products(builder)
    preview = builder.preview.value
    for rule in ("white-space:pre-wrap", "word-break:normal", "overflow-wrap:normal", "overflow-x:auto"):
        assert rule in preview
    runs = re.findall(r'<span style="white-space:nowrap">(.*?)</span>(?=\s|</pre>)', preview, re.DOTALL)
    texts = [html_.unescape(re.sub(r"<[^>]+>", "", run)) for run in runs]
    assert '"orders->products->OrderProduct".product_id' in texts  # one piece, never cut at the "-"
    assert all(text and not any(c.isspace() for c in text) for text in texts)
    assert html_.unescape(re.sub(r"<[^>]+>", "", preview)) == builder.sql + "\n"  # the same text
    backquoted = preview_html("SELECT `orders->products`.id FROM t")  # MySQL's quoting
    assert '<span style="white-space:nowrap"><span style="color: #666">`</span>orders' in backquoted
    builder.node().new_condition("id", "between", "").value.value = "1"
    assert "between expects" in builder.preview.value and "word-break:normal" in builder.preview.value


@pytest.fixture
def wide(tmp_path):
    """A model with 12 columns (a filter box over its attribute list) and one with 3."""
    import sqlite3

    columns = ["id", *(f"c{i:02d}" for i in range(1, 10)), "label", "owner_id"]
    with sqlite3.connect(tmp_path / "wide.db") as db:
        db.execute(f"CREATE TABLE wide ({', '.join(columns)}, PRIMARY KEY (id))")
        db.execute("CREATE TABLE owners (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
    db.close()
    return explorer.load_config({
        "databases": {"w": {"url": f"sqlite:///{tmp_path / 'wide.db'}"}},
        "models": {"Wide": {"database": "w", "table": "wide", "associations": {
                       "owner": {"belongs_to": "Owner", "foreign_key": "owner_id"}}},
                   "Owner": {"database": "w", "table": "owners"}}})


def test_a_filter_box_narrows_a_long_attribute_list_and_keeps_the_selection(wide):
    b = explorer.builder(wide, query={"from": "Wide", "attributes": ["id", "c01", "c02", "label"],
                                      "include": ["owner"]})
    root = b.node()
    assert b.node("owner").attribute_filter is None  # 3 columns: no box
    assert root.attribute_filter in shown(root) and root.attribute_filter.placeholder == "filter 12 columns"
    root.attribute_filter.value = "C0"
    assert root.attributes.options == tuple(f"c{i:02d}" for i in range(1, 10))
    assert root.attributes.value == ("c01", "c02")
    assert b.query["attributes"] == ["id", "c01", "c02", "label"]  # the hidden ones stay chosen
    root.attributes.value = ("c02", "c05")
    assert b.query["attributes"] == ["id", "c02", "c05", "label"]
    root.attribute_filter.value = "nothing like it"
    assert root.attributes.options == () and b.query["attributes"] == ["id", "c02", "c05", "label"]
    root.attribute_filter.value = ""
    assert len(root.attributes.options) == 12 and root.attributes.value == ("id", "c02", "c05", "label")
    root.attributes.value = root.attributes.options
    assert "attributes" not in b.query
