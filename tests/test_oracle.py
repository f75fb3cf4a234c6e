"""Differential tests: the one statement's records equal the independent oracle's.

Hand-written include trees cover every association kind and where operator, each
compiled both ways (flat join and JSON aggregation);
hypothesis generates random trees (depth <= 3) with random required flags,
wheres (``$nested$`` too), order, limit and offset. Every test runs on SQLite,
MariaDB and PostgreSQL.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Oracle, normalize
from shopcases import CASES, extended

import explorer
from explorer.compile import json_unfit


def backend_of(config: explorer.Config) -> str:
    return next(iter(config.databases.values())).url.get_backend_name()


def check(config: explorer.Config, query, params=None) -> list[dict]:
    """Both strategies (flat join and JSON aggregation) give the oracle's records and frames."""
    config = extended(config)
    oracle = Oracle(config, backend_of(config))
    want = normalize(oracle.records(query, params))
    with_keys = normalize(oracle.records(query, params, keys=True))
    for strategy in strategies_for(config, query):
        run_query = {**query, "strategy": strategy} if strategy else query
        result = explorer.run(config, run_query, params=params)
        got = normalize(result.records)
        assert got == want, f"records differ for {run_query!r}"
        assert frame_rows(result) == frames_from_records(config, result.query, with_keys), \
            f"frames differ for {run_query!r}"
    return got


def strategies_for(config: explorer.Config, query) -> list[str | None]:
    """join and json where json reads the same (no $nested$ filter, roots ordered by their own columns)."""
    if not isinstance(query, dict):
        return [None]
    parsed = explorer.parse_query(config, query)
    if any(ref.path for ref, _ in parsed.order) or any(n.path for n in nested_references(parsed.where)):
        return ["join"]
    if json_unfit(config, parsed):  # a type JSON cannot carry exactly here: json says so (tested elsewhere)
        return ["join"]
    return ["join", "json"]


def nested_references(where):
    """The column references of a where tree."""
    if where is None:
        return []
    if hasattr(where, "items"):
        return [ref for item in where.items for ref in nested_references(item)]
    return [where.column]


def python_value(value):
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def frame_rows(result) -> dict[str, set[tuple]]:
    """Each frame as a set of (column, value) tuples."""
    return {name: {tuple(zip(frame.columns, map(python_value, row)))
                   for row in frame.astype(object).itertuples(index=False, name=None)}
            for name, frame in result.frames.items()}


def frames_from_records(config, query, records: list[dict]) -> dict[str, set[tuple]]:
    """What Result.frames must hold: every node once per parent, with the parent's key first."""
    frames: dict[str, set[tuple]] = {query.model: set(), **{node.key: set() for node in query.walk()}}
    junctions = {node.path: node.association.through for node in query.walk() if node.through_attributes}
    frames.update({f"{'.'.join(path)}.{through}": set() for path, through in junctions.items()})

    def visit(model, path, items, parent_key):
        name = ".".join(path) if path else query.model
        children = [n for n in query.walk() if n.path[:-1] == path]
        nested = {n.name for n in children} | ({junctions[path]} if path in junctions else set())
        for record in items:
            frames[name].add(parent_key + tuple((c, v) for c, v in record.items() if c not in nested))
            key = tuple((f"{name}.{c}", record[c]) for c in config.models[model].primary_key)
            if path in junctions:  # the junction row, under its target with the target's key
                frames[f"{name}.{junctions[path]}"].add(key + tuple(record[junctions[path]].items()))
            for child in children:
                value = record[child.name]
                visit(child.model, child.path, value if isinstance(value, list) else [value] if value else [], key)

    visit(query.model, (), records, ())
    return frames


@pytest.mark.parametrize("case", sorted(CASES))
def test_shop_cases(shop, case):
    check(shop, CASES[case])


def test_cases_are_not_trivial(sqlite_shop):
    answers = {name: check(sqlite_shop, query) for name, query in CASES.items()}
    assert all(answers.values()), [name for name, records in answers.items() if not records]
    assert [u["id"] for u in answers["limit_has_many"]] == [5, 4, 3]  # Zoë skipped by offset 1


OPERATOR_WHERES = [
    {"id": 3}, {"id": {"eq": 3}}, {"id": {"ne": 3}}, {"id": {"=": 3}}, {"id": {"!=": 3}},
    {"referred_by": {"gt": 1}}, {"referred_by": {"gte": 2}}, {"referred_by": {"lt": 3}},
    {"referred_by": {"lte": 1}}, {"id": {">": 5}}, {"id": {"<=": 2}},
    {"name": {"like": "A%"}}, {"name": {"not_like": "%e%"}}, {"name": {"notLike": "_o%"}},
    {"name": {"ilike": "%ALI%"}}, {"name": {"not_ilike": "%AL%"}}, {"name": {"iLike": "b%"}},
    {"id": {"in": [1, 4, 99]}}, {"id": [2, 3]}, {"id": {"in": []}}, {"referred_by": {"not_in": [1, 2]}},
    {"referred_by": {"notIn": []}}, {"id": {"between": [2, 5]}}, {"referred_by": {"not_between": [2, 5]}},
    {"referred_by": {"notBetween": [1, 1]}}, {"referred_by": {"is": None}}, {"referred_by": None},
    {"referred_by": {"not": None}}, {"referred_by": {"ne": None}}, {"referred_by": {"eq": None}},
    {"referred_by": {"not": 1}}, {"referred_by": {"not": {"in": [1, 2]}}},
    {"not": {"referred_by": 1}}, {"and": [{"id": {"gt": 1}}, {"id": {"lt": 6}}]},
    {"or": [{"id": 1}, {"referred_by": 1}]}, {"$or": [{"id": 1}, {"name": "Eve"}]},
    {"id": {"gt": 1, "lt": 5}}, {"name": "Dan O'Brien"}, {"name": "Zoë 张伟"},
    {"email": {"like": "%@example.com"}}, {"name": {"like": "::x"}},
]


@pytest.mark.parametrize("where", OPERATOR_WHERES, ids=[str(w) for w in OPERATOR_WHERES])
def test_every_operator(shop, where):
    check(shop, {"from": "User", "attributes": ["id", "name"], "where": where,
                 "include": [{"referrer": {"attributes": ["id"]}}]})


@pytest.mark.parametrize("where", [
    {"total": {"gt": 20}}, {"total": {"between": [10, 40]}}, {"total": 0}, {"status": {"in": ["paid", "x"]}},
    {"status": {"ne": "paid"}}, {"user_id": None}, {"or": [{"total": {"lt": 10}}, {"status": "pending"}]},
])
def test_operators_in_include_where(shop, where):
    for required in (None, True, False):
        options = {"where": where, "attributes": ["id", "total"]}
        if required is not None:
            options["required"] = required
        check(shop, {"from": "User", "attributes": ["id"], "include": [{"orders": options}]})


@pytest.mark.parametrize("where", [
    {"$orders.status$": "paid"}, {"$orders.products.category.name$": "Kitchen"},
    {"$orders.id$": None}, {"$orders.id$": {"ne": None}}, {"not": {"$orders.status$": "paid"}},
    {"$orders.products.price$": {"lt": 10}, "name": {"like": "%e%"}},
    {"or": [{"$orders.products.name$": {"like": "%pen%"}}, {"$reviews.rating$": {"gte": 5}}]},
    {"orders.status": "cancelled"},
])
@pytest.mark.parametrize("limit", [None, 2])
def test_nested_filters(shop, where, limit):
    query = {"from": "User", "attributes": ["id", "name"], "where": where,
             "include": [{"orders": {"attributes": ["id", "status"],
                                     "include": [{"products": {"attributes": ["name", "price"],
                                                               "include": [{"category": {"attributes": ["name"]}}]}}]}},
                         {"reviews": {"attributes": ["rating"]}}],
             "order": [["name", "asc"]]}
    if limit:
        query.update(limit=limit, offset=1)
    check(shop, query)


@pytest.mark.parametrize("query", [
    {"from": "Order", "attributes": ["id"], "include": [{"user": {"attributes": ["name"]}}, "products"],
     "order": [["user.name", "desc"]], "limit": 3},
    {"from": "Order", "attributes": ["id"], "include": [{"user": {"attributes": ["name"]}}, "products"],
     "order": [["$user.name$", "asc"], ["id", "desc"]], "limit": 4, "offset": 2},
    {"from": "Review", "include": [{"product": {"include": ["category", "orders"]}}],
     "order": [["product.category.name", "asc"]], "limit": 3},
    {"from": "User", "include": ["orders"], "order": [["orders.total", "desc"]], "limit": 3},
    {"from": "User", "include": ["orders"], "order": [["referred_by", "desc"]]},
    {"from": "User", "include": [{"referrer": {"attributes": ["name"]}}], "order": [["referrer.name", "asc"]],
     "limit": 4},
    {"from": "Order", "include": ["user"], "order": [["total", "desc"]], "offset": 7},
])
def test_order_and_limit(shop, query):
    check(shop, query)


@pytest.mark.parametrize("query", [
    {"from": "Order", "include": [{"buyer": {"attributes": ["name"], "where": {"name": {"like": "%e%"}}}}]},
    {"from": "Order", "include": [{"buyer": {"required": False, "where": {"id": {"gt": 2}},
                                             "include": ["referrer"]}}]},
    {"from": "User", "include": [{"paid_orders": {"where": {"total": {"gt": 20}}, "include": ["products"]}}]},
    {"from": "User", "include": [{"paid_orders": {"required": False, "include": [
        {"products": {"required": True, "include": [{"category": {"required": True}}]}}]}}]},
    {"from": "Product", "include": [{"cheap_orders": {"required": True, "include": ["user"]}}],
     "where": {"$cheap_orders.user.name$": {"ne": "Bob"}}},
    {"from": "Review", "include": [{"same_product": {"attributes": ["id", "rating"]}}, "author"],
     "where": {"$same_product.rating$": {"gte": 4}}, "order": [["rating", "desc"]], "limit": 3},
    {"from": "OrderProduct", "include": ["shipments", {"product": {"include": ["category_row"]}}],
     "order": [["quantity", "desc"]], "limit": 4, "offset": 2},
])
def test_association_kinds_with_filters(shop, query):
    check(shop, query)


def test_params_and_yaml_query(shop):
    query = """\
from: User
attributes: [id, name]
where: {name: {like: ":pattern"}}
include:
  orders:
    where: {total: {gt: ":least"}}
    attributes: [id, total]
"""
    check(shop, query, params={"pattern": "%e%", "least": 10})


def test_attributes_exclude(shop):
    check(shop, {"from": "User", "attributes": {"exclude": ["email", "created_at"]},
                 "include": [{"orders": {"attributes": {"exclude": ["created_at"]}}}]})


# ---------------------------------------------------------------------------
# Generated include trees.

ORDERABLE_TEXT = {("User", "name"), ("Product", "name"), ("Order", "status"), ("Category", "name")}


def column_kinds(config: explorer.Config, tables: dict[str, list[dict]]) -> dict[str, dict[str, str]]:
    """model -> column -> 'number' | 'text' | 'other', from the data itself."""
    kinds = {}
    for model in config.models:
        kinds[model] = {}
        for column in config.columns(model):
            values = [row[column] for row in tables[model] if row[column] is not None]
            sample = values[0] if values else None
            kinds[model][column] = ("number" if isinstance(sample, (int, Decimal)) and not isinstance(sample, bool)
                                    else "text" if isinstance(sample, str) else "other")
    return kinds


def plain(value):
    return float(value) if isinstance(value, Decimal) else value


@st.composite
def condition(draw, model, path, kinds, tables, nested: bool):
    column = draw(st.sampled_from(sorted(kinds[model])))
    kind = kinds[model][column]
    values = [plain(row[column]) for row in tables[model]]
    known = [v for v in values if v is not None] or [1]
    key = f"${'.'.join((*path, column))}$" if nested and path else column
    if kind == "other" or draw(st.integers(0, 9)) == 0:
        return {key: draw(st.sampled_from([None, {"is": None}, {"not": None}, {"ne": None}]))}
    value = draw(st.sampled_from(known))
    if kind == "number":
        op = draw(st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between",
                                   "not_between", "not"]))
        if op in ("in", "not_in"):
            return {key: {op: draw(st.lists(st.sampled_from(known), max_size=3))}}
        if op in ("between", "not_between"):
            return {key: {op: sorted(draw(st.lists(st.sampled_from(known), min_size=2, max_size=2)))}}
        return {key: {op: value}}
    op = draw(st.sampled_from(["eq", "ne", "in", "not_in", "like", "not_like", "ilike"]))
    if op in ("in", "not_in"):
        return {key: {op: draw(st.lists(st.sampled_from(known), max_size=3))}}
    if op in ("like", "not_like", "ilike"):
        ascii_part = "".join(c for c in value if c.isascii() and c.isalnum())[:4] or "a"
        start = draw(st.integers(0, max(0, len(ascii_part) - 1)))
        piece = ascii_part[start:start + draw(st.integers(1, 3))]
        pattern = draw(st.sampled_from([f"{piece}%", f"%{piece}%", f"%{piece}", f"_{piece}%"]))
        return {key: {op: pattern.lower() if op == "ilike" else pattern}}
    return {key: {op: value} if op != "eq" else value}


@st.composite
def where_clause(draw, model, kinds, tables, paths: dict[tuple, str] | None = None):
    """A where for ``model``; with ``paths`` (path -> model) it may also reference nested columns."""
    def one():
        path = draw(st.sampled_from(sorted(paths))) if paths else ()
        return draw(condition(paths[path] if paths else model, path, kinds, tables, nested=bool(paths)))
    shape = draw(st.sampled_from(["one", "one", "and", "or", "not"]))
    if shape == "one":
        return one()
    if shape == "not":
        return {"not": one()}
    return {shape: [one() for _ in range(draw(st.integers(1, 3)))]}


@st.composite
def include_tree(draw, config, model, depth, kinds, tables):
    names = sorted(config.models[model].associations)
    if not names:
        return []
    chosen = draw(st.lists(st.sampled_from(names), max_size=2 if depth > 1 else 1, unique=True))
    items = []
    for name in chosen:
        target = config.models[model].associations[name].target
        options = {}
        required = draw(st.sampled_from([None, None, True, False]))
        if required is not None:
            options["required"] = required
        if draw(st.integers(0, 3)) == 0:
            options["where"] = draw(where_clause(target, kinds, tables))
        if draw(st.booleans()):
            columns = sorted(config.columns(target))
            options["attributes"] = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=3, unique=True))
        options.update(draw(include_extras(config, config.models[model].associations[name], kinds)))
        if depth > 1 and draw(st.booleans()):
            children = draw(include_tree(config, target, depth - 1, kinds, tables))
            if children:
                options["include"] = children
        items.append({name: options} if options else name)
    return items


@st.composite
def include_extras(draw, config, association, kinds):
    """Sometimes: a to-many include's own order/limit/offset, a junction's attributes and where,
    paranoid: false on a soft-deleting target or junction."""
    extras: dict = {}
    target = association.target
    orderable = [c for c, k in kinds[target].items() if k == "number" or (target, c) in ORDERABLE_TEXT]
    if association.to_many and orderable and draw(st.integers(0, 2)) == 0:
        extras["order"] = [[draw(st.sampled_from(sorted(orderable))), draw(st.sampled_from(["asc", "desc"]))]]
        extras["limit"] = draw(st.sampled_from([None, 0, 1, 2, 3]))
        extras["offset"] = draw(st.sampled_from([None, None, 1, 2]))
        extras = {k: v for k, v in extras.items() if v is not None}
    through = association.through
    if through and draw(st.integers(0, 2)) == 0:
        columns = sorted(config.columns(through))
        extras["through"] = {"attributes": draw(st.lists(st.sampled_from(columns), max_size=2, unique=True))}
        numbers = [c for c in columns if kinds[through][c] == "number"]
        if numbers and draw(st.booleans()):
            extras["through"]["where"] = {draw(st.sampled_from(numbers)): {"gte": draw(st.integers(0, 3))}}
        if config.models[through].paranoid and draw(st.booleans()):
            extras["through"]["paranoid"] = False
    if config.models[target].paranoid and draw(st.integers(0, 2)) == 0:
        extras["paranoid"] = False
    extras.update(draw(aggregates(config, target, kinds)))
    return extras


@st.composite
def aggregates(draw, config, model, kinds):
    """Sometimes: a count and a sum (or min/max) over one of the model's to-many associations."""
    to_many = sorted(name for name, a in config.models[model].associations.items() if a.to_many)
    if not to_many or draw(st.integers(0, 3)):
        return {}
    name = draw(st.sampled_from(to_many))
    target = config.models[model].associations[name].target
    found = {"n_" + name: {"count": name}}
    numbers = sorted(c for c, k in kinds[target].items() if k == "number")
    if numbers:
        function = draw(st.sampled_from(["sum", "min", "max", "count_distinct"]))
        found[f"{function}_{name}"] = {function: f"{name}.{draw(st.sampled_from(numbers))}"}
    extra = {"aggregate": found}
    if draw(st.booleans()):
        extra["having"] = {"n_" + name: {"gte": draw(st.integers(0, 2))}}
    return extra


def tree_paths(model: str, includes: list, config, parent=()) -> dict[tuple, str]:
    paths = {}
    for item in includes:
        name, options = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        target = config.models[model].associations[name].target
        paths[(*parent, name)] = target
        paths.update(tree_paths(target, options.get("include", []), config, (*parent, name)))
    return paths


@st.composite
def queries(draw, config, kinds, tables):
    model = draw(st.sampled_from(sorted(config.models)))
    includes = draw(include_tree(config, model, 3, kinds, tables))
    paths = {(): model, **tree_paths(model, includes, config)}
    query = {"from": model, "include": includes}
    if draw(st.booleans()):
        query["where"] = draw(where_clause(model, kinds, tables, paths))
    orderable = [(p, c) for p, m in paths.items() for c, k in kinds[m].items()
                 if k == "number" or (m, c) in ORDERABLE_TEXT]
    if orderable and draw(st.booleans()):
        items = draw(st.lists(st.sampled_from(orderable), max_size=2, unique=True))
        query["order"] = [[".".join((*p, c)), draw(st.sampled_from(["asc", "desc"]))] for p, c in items]
    if draw(st.booleans()):
        query["limit"] = draw(st.integers(0, 5))
    if draw(st.integers(0, 2)) == 0:
        query["offset"] = draw(st.integers(0, 4))
    if config.models[model].paranoid and draw(st.integers(0, 2)) == 0:
        query["paranoid"] = False
    query.update(draw(aggregates(config, model, kinds)))
    return query


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_generated_trees(shop, data):
    config = extended(shop)
    oracle = Oracle(config, backend_of(config))
    query = data.draw(queries(config, column_kinds(config, oracle.tables), oracle.tables), label="query")
    params = {}
    if data.draw(st.booleans(), label="with :params"):
        query = with_params(query, params)
    check(shop, query, params)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_generated_library_trees(library_dict, data):
    """The same on the lending library: soft-deleting models, a junction with data."""
    from test_include_features import check as check_library

    config = explorer.load_config(library_dict)
    oracle = Oracle(config, backend_of(config))
    query = data.draw(queries(config, column_kinds(config, oracle.tables), oracle.tables), label="query")
    check_library(config, query)


def with_params(query: dict, params: dict) -> dict:
    """The query (or include options) with every where operand turned into a :name parameter."""
    query = dict(query)
    if "where" in query:
        query["where"] = where_params(query["where"], params)
    if "include" in query:
        query["include"] = [item if isinstance(item, str) else
                            {name: with_params(options, params) for name, options in item.items()}
                            for item in query["include"]]
    return query


def where_params(where: dict, params: dict) -> dict:
    result = {}
    for key, value in where.items():
        if key in ("and", "or"):
            result[key] = [where_params(item, params) for item in value]
        elif key == "not":
            result[key] = where_params(value, params)
        elif isinstance(value, dict):
            result[key] = {op: operand_params(operand, params) for op, operand in value.items()}
        else:
            result[key] = operand_params(value, params)
    return result


def operand_params(value, params: dict):
    if isinstance(value, list):
        return [operand_params(v, params) for v in value]  # one parameter per item
    if value is None or isinstance(value, bool):
        return value
    name = f"p{len(params)}"
    params[name] = value
    return f":{name}"
