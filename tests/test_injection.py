"""Injection-proof: values only ever travel as bound parameters, names only come from the config.

Hypothesis throws hostile strings (quotes, ``;``, comments, ``$``, backticks, ``%s``,
unicode, very long text) at every place a query takes a value and every place it
takes a name. Values must come back as data (the same rows an independent,
hand-parameterised query returns) and never change the statement's text; names
must be QueryErrors before anything reaches a server.
"""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import explorer
from explorer import demo

HOSTILE = [
    "'", '"', "`", ";", "--", "#", "/*", "*/", "\\", "\\'", "''", "$", "$$", "$1", "${HOME}",
    "%", "%s", "%(name)s", "?", "_", "\n", "\r\n", "\t", "\u2028", "NULL", "null",
    "' OR '1'='1", "' OR 1=1 -- ", "\" OR \"\"=\"", "'); DROP TABLE users; --",
    "x'); DROP TABLE users; --", "1; SELECT SLEEP(10)", "' UNION SELECT user, password FROM mysql.user #",
    "`users`", "\"users\"", "$tag$ DROP TABLE users $tag$", "\\x00", "Zoë 张伟", "🌱", "Dan O'Brien",
    "ALICE", "alice ", "Chloe", "a" * 10_000,
]
_PARAM = re.compile(r"^:[A-Za-z_][A-Za-z0-9_]*$")

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=5).map("".join),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60),
).filter(lambda s: not _PARAM.match(s) and not s.startswith("::"))

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# -- values come back as data


def oracle_ids(config: explorer.Config, value: str) -> list[int]:
    """User ids whose name equals ``value`` or 'Alice', by a hand-written parameterised query."""
    engine = config.engine(demo.USERS_AND_ORDERS)
    quote = engine.dialect.identifier_preparer.quote
    table = f"{quote(config.databases[demo.USERS_AND_ORDERS].schema)}.{quote('users')}"
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT id FROM {table} WHERE name IN ({mark}, {mark}) ORDER BY id", (value, "Alice"))
        return [row[0] for row in cursor.fetchall()]
    finally:
        raw.close()


def by_name(value) -> dict:
    return {"from": "User", "attributes": ["id", "name"], "where": {"name": {"in": [value, "Alice"]}},
            "order": [["id", "asc"]]}


@SETTINGS
@given(value=hostile_text)
def test_hostile_values_are_data(shop, value):
    result = explorer.run(shop, by_name(value))
    assert [r["id"] for r in result.records] == oracle_ids(shop, value)
    assert result.sql == explorer.run(shop, by_name("x")).sql  # the text never depends on a value
    assert value in result.params.values() or any(value in v for v in result.params.values()
                                                   if isinstance(v, (list, tuple)))
    # the same query as YAML text, and the value as a :name parameter, give the same rows
    assert explorer.run(shop, yaml.safe_dump(by_name(value))).records == result.records
    assert explorer.run(shop, by_name(":who"), {"who": value}).records == result.records


def test_stored_hostile_text_is_found_as_data(shop):
    name = "x'); DROP TABLE users; --"
    result = explorer.run(shop, {"from": "Product", "where": {"name": name}, "include": ["category"]})
    assert [r["id"] for r in result.records] == [7]
    assert name not in result.sql and name in result.params.values()


def test_nul_byte_is_data_or_a_clear_error(shop):
    query = by_name("Alice\x00'; DROP TABLE users; --")
    if shop.databases[demo.USERS_AND_ORDERS].url.get_backend_name() == "postgresql":
        with pytest.raises(explorer.ExecutionError, match="cannot contain NUL"):
            explorer.run(shop, query)
    else:
        assert [r["name"] for r in explorer.run(shop, query).records] == ["Alice"]
    assert explorer.run(shop, by_name("Bob")).root_count == 2


# -- where trees: any shape, any hostile value, one fixed statement text

COLUMNS = ["name", "email", "$orders.status$"]
OPERATORS = ["eq", "ne", "like", "not_like", "ilike", "gt", "lte", "in", "not_in", "between"]


@st.composite
def conditions(draw):
    column, op = draw(st.sampled_from(COLUMNS)), draw(st.sampled_from(OPERATORS))
    if op in ("in", "not_in"):
        value = draw(st.lists(hostile_text, min_size=1, max_size=3))
    elif op == "between":
        value = [draw(hostile_text), draw(hostile_text)]
    else:
        value = draw(hostile_text)
    return {column: {op: value}}


where_trees = st.recursive(
    conditions(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda items: {"or": items}),
        st.lists(children, min_size=1, max_size=3).map(lambda items: {"and": items}),
        children.map(lambda item: {"not": item}),
    ),
    max_leaves=6,
)


def benign(tree):
    """The same tree with every string value replaced by 'x' (lists keep their length)."""
    if isinstance(tree, dict):
        return {key: benign(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [benign(item) for item in tree]
    return "x" if isinstance(tree, str) else tree


def tree_query(where) -> dict:
    return {"from": "User", "attributes": ["id"], "include": [{"orders": {"attributes": ["id"]}}],
            "where": where}


@SETTINGS
@given(where=where_trees)
def test_hostile_where_trees_never_change_the_statement(shop, where):
    result = explorer.run(shop, tree_query(where))
    assert result.sql == explorer.run(shop, tree_query(benign(where))).sql
    assert {r["id"] for r in result.records} <= set(range(1, 8))


@SETTINGS
@given(value=hostile_text)
def test_hostile_values_in_include_where_and_order(shop, value):
    query = {"from": "User", "attributes": ["id"], "order": [["orders.total", "desc"]],
             "include": [{"orders": {"where": {"or": [{"status": value}, {"status": "paid"}]},
                                     "required": False, "attributes": ["id", "status"]}}]}
    result = explorer.run(shop, query)
    assert result.root_count == 7
    assert result.sql == explorer.run(shop, {**query, "include": [{"orders": {
        "where": {"or": [{"status": "x"}, {"status": "paid"}]}, "required": False,
        "attributes": ["id", "status"]}}]}).sql


# -- names are QueryErrors, before any server sees them

names = hostile_text.filter(lambda s: s.strip("$") not in ("and", "or", "not"))


def _known(config: explorer.Config) -> set[str]:
    known = set(config.models) | set(explorer.tree.OPERATORS) | set(explorer.tree.OPERATOR_ALIASES)
    for model in config.models.values():
        known |= set(model.associations) | set(config.columns(model.name))
    return known


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names, place=st.sampled_from(["from", "attributes", "where", "order", "include",
                                          "include_attributes", "operator", "nested"]))
def test_hostile_names_are_query_errors(sqlite_shop, name, place):
    assume(name not in _known(sqlite_shop) and name.strip("$") not in _known(sqlite_shop))
    query = {"from": "User"}
    if place == "from":
        query["from"] = name
    elif place == "attributes":
        query["attributes"] = ["id", name]
    elif place == "where":
        query["where"] = {name: 1}
    elif place == "order":
        query["order"] = [[name, "asc"]]
    elif place == "include":
        query["include"] = [name]
    elif place == "include_attributes":
        query["include"] = [{"orders": {"attributes": [name]}}]
    elif place == "operator":
        query["where"] = {"name": {name: "x"}}
    else:
        query["include"] = ["orders"]
        query["where"] = {f"$orders.{name}$": 1}
    with pytest.raises(explorer.QueryError):
        explorer.prepare(sqlite_shop, query)


def test_hostile_identifiers_in_the_config_are_quoted_and_checked(request, shop):
    kind = shop.databases[demo.USERS_AND_ORDERS].url.get_backend_name()
    from readers import shop_dict

    data = shop_dict(request, kind)
    data["models"]["Evil"] = {"database": demo.USERS_AND_ORDERS, "table": 'users"; DROP TABLE users; --',
                              "columns": ["id", "na`me'; --"]}
    config = explorer.load_config(data)
    statement = explorer.prepare(config, {"from": "Evil"})
    assert "DROP TABLE users; --" in statement.sql  # inside a quoted identifier, not as SQL
    with pytest.raises(explorer.ConfigError, match="models.Evil.table: table .* not found"):
        explorer.run(config, {"from": "Evil"})
    assert explorer.run(config, {"from": "User"}).root_count == 7
