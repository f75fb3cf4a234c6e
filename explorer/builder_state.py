"""The builder's state: the include query tree as plain data, apart from any widget.

``NodeState`` holds one model of the tree (attributes, required, where rows, the ticked
children, its aggregates, and where they apply: a belongs_to_many's junction options, a to-many
include's own order/limit/offset, ``paranoid: false``); it converts to and from the query options YAML
loads to, so the builder and a ``%%crossquery`` cell describe the same query. Where conditions
are edited as rows ``[column, operator, value]`` joined by one combinator; values are typed as
YAML. An aggregate is a row (name, function, path); ``aggregate_paths`` and ``aggregate_targets``
list the paths the builder offers for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import yaml

from explorer.config import Config
from explorer.errors import QueryError
from explorer.tree import AGGREGATE_FUNCTIONS, OPERATOR_ALIASES, OPERATORS

COMBINATORS = ("and", "or")
LIST_OPERATORS = ("in", "not_in", "between", "not_between")
NUMERIC_FUNCTIONS = ("sum", "avg")  # offered over number columns only
AGGREGATE_DEPTH = 3  # associations deep, for the paths the builder offers


@dataclass
class AggregateState:
    """One aggregate of a node: ``name: {function: path, **extra}``.

    ``extra`` holds the rest of a spec as written (its ``where``): the builder has no control for
    it and writes it back unchanged.
    """

    name: str
    function: str
    path: str
    extra: dict = field(default_factory=dict)

    def spec(self) -> dict:
        return {self.function: self.path, **self.extra}


@dataclass
class NodeState:
    """One model of the tree: the root (path ``()``) or an include."""

    model: str
    path: tuple[str, ...] = ()
    attributes: list[str] | None = None  # None: every column
    required: bool | None = None          # None: the default (true when the include has a where)
    combinator: str = "and"
    conditions: list[list[Any]] = field(default_factory=list)  # [column, operator, value]
    extra_where: dict | None = None        # where clauses the builder cannot edit, kept as written
    # belongs_to_many: the junction's options (through: {attributes, where, paranoid})
    through_attributes: list[str] | None = None  # None: no key (the junction shows no column)
    through_where: dict | None = None            # kept as written: the builder has no control for it
    through_paranoid: bool | None = None         # False: soft-deleted links shown too; None: no key
    # to-many includes: each parent's own list (the root's order/limit/offset are the query's)
    order: list[list[str]] = field(default_factory=list)  # [[column, asc|desc], ...]
    limit: int | None = None
    offset: int | None = None
    paranoid: bool | None = None  # False: soft-deleted rows shown too; None: no key (they are hidden)
    aggregates: list[AggregateState] = field(default_factory=list)  # in the order they were added
    having: dict | None = None  # kept as written: the builder has no control for it
    children: dict[str, NodeState] = field(default_factory=dict)

    def where(self) -> dict | None:
        built = conditions_to_where(self.conditions, self.combinator)
        if not self.extra_where:
            return built
        if not built:
            return dict(self.extra_where)
        if self.combinator == "and" and not set(built) & set(self.extra_where):
            return {**self.extra_where, **built}
        return {"and": [dict(self.extra_where), built]}

    def options(self) -> dict:
        """This node's options as a query mapping (without ``from`` or the root's order/limit/offset).

        Keys come in one fixed order, so the YAML of a query always reads the same: attributes,
        required, where, through, aggregate, having, order, limit, offset, paranoid, include.
        """
        items = (
            ("attributes", None if self.attributes is None else list(self.attributes)),
            ("required", self.required if self.path else None),
            ("where", self.where() or None),
            ("through", self.through() or None),
            ("aggregate", self.aggregate() or None),
            ("having", self.having),
            ("order", [list(item) for item in self.order] or None),
            ("limit", self.limit),
            ("offset", self.offset),
            ("paranoid", self.paranoid),
            ("include", [child.include_item() for child in self.children.values()] or None),
        )
        return {key: value for key, value in items if value is not None}

    def aggregate(self) -> dict:
        """The ``aggregate:`` mapping, in row order; a row without a name or path, or whose name an
        earlier row has, is left out (the builder says so beside the rows)."""
        specs: dict[str, dict] = {}
        for item in self.aggregates:
            if item.name and item.path and item.name not in specs:
                specs[item.name] = item.spec()
        return specs

    def through(self) -> dict:
        """A belongs_to_many's ``through:`` mapping (attributes, where, paranoid); empty when none."""
        attributes = None if self.through_attributes is None else list(self.through_attributes)
        items = (("attributes", attributes), ("where", self.through_where),
                 ("paranoid", self.through_paranoid))
        return {key: value for key, value in items if value is not None}

    def include_item(self) -> str | dict:
        options = self.options()
        return {self.path[-1]: options} if options else self.path[-1]


def conditions_to_where(rows: list[list[Any]], combinator: str) -> dict | None:
    """``[[column, op, value], ...]`` as a Sequelize-style where mapping."""
    rows = [row for row in rows if row[0] and row[1] and row[2] != ""]
    if not rows:
        return None
    items = [{column: value if op == "eq" and not isinstance(value, (list, dict)) else {op: value}}
             for column, op, value in rows]
    if combinator == "or" and len(items) > 1:
        return {"or": items}
    merged: dict[str, Any] = {}
    for column, op, value in rows:
        current = merged.setdefault(column, {})
        if not isinstance(current, dict) or op in current:
            return {"and": items}
        current[op] = value
    return {c: (ops["eq"] if list(ops) == ["eq"] and not isinstance(ops["eq"], (list, dict)) else ops)
            for c, ops in merged.items()}


def where_to_conditions(where: Any) -> tuple[str, list[list[Any]], dict | None]:
    """(combinator, rows, extra) for a where the builder made; anything else stays as ``extra``."""
    if not where:
        return "and", [], None
    if set(where) == {"or"} and isinstance(where["or"], list) and all(_simple(i) for i in where["or"]):
        return "or", [row for item in where["or"] for row in _rows(item)], None
    rows, extra = [], {}
    for key, value in where.items():
        if _simple({key: value}):
            rows += _rows({key: value})
        else:
            extra[key] = value
    return "and", rows, extra or None


def _simple(item: Any) -> bool:
    if not isinstance(item, dict) or len(item) != 1:
        return False
    key, value = next(iter(item.items()))
    if key in ("and", "or", "not") or str(key).startswith("$"):
        return False
    ops = value if isinstance(value, dict) else {}
    return all(_operator(op) in OPERATORS and not isinstance(v, dict) for op, v in ops.items())


def _operator(op: str) -> str:
    """The canonical name of an operator (``$like``, ``notLike`` and ``>=`` are accepted too)."""
    return OPERATOR_ALIASES.get(str(op).lstrip("$"), str(op).lstrip("$"))


def _rows(item: dict) -> list[list[Any]]:
    column, value = next(iter(item.items()))
    if isinstance(value, dict):
        return [[column, _operator(op), operand] for op, operand in value.items()]
    if isinstance(value, list):
        return [[column, "in", value]]
    return [[column, "is" if value is None else "eq", value]]


def state_from_options(config: Config, model: str, options: dict, path: tuple[str, ...] = ()) -> NodeState:
    """A node state from a query (root) or include options, checked against the config."""
    combinator, rows, extra = where_to_conditions(options.get("where"))
    node = NodeState(model, path, _attributes(options.get("attributes")), options.get("required"),
                     combinator, rows, extra, paranoid=options.get("paranoid"),
                     aggregates=read_aggregates(options.get("aggregate"), path), having=options.get("having"))
    if path:  # the root's order/limit/offset belong to the query and its own controls
        _read_include_options(node, options)
    associations = config.models[model].associations
    for name, child in _include_items(options.get("include")):
        if name not in associations:
            raise QueryError(f"include.{name}: {model} has no association {name!r}.")
        node.children[name] = state_from_options(config, associations[name].target, child, (*path, name))
    return node


def _read_include_options(node: NodeState, options: dict) -> None:
    """The include-only options: the junction's (``through``), the list's order, limit and offset."""
    through = options.get("through")
    through = through if isinstance(through, dict) else {}
    node.through_attributes = _attributes(through.get("attributes"))
    node.through_where = through.get("where")
    node.through_paranoid = through.get("paranoid")
    node.order = [list(item) for item in order_items(options.get("order"))]
    node.limit, node.offset = options.get("limit"), options.get("offset")


def read_aggregates(raw: Any, path: tuple[str, ...] = ()) -> list[AggregateState]:
    """An ``aggregate:`` mapping as rows: ``{loans_count: {count: loans, where: {...}}}``."""
    here = "".join(f"include.{name}." for name in path) + "aggregate"
    if not raw:
        return []
    if not isinstance(raw, dict):
        raise QueryError(f"{here}: expected a mapping of name: {{function: path}}, got {raw!r}.")
    return [_aggregate(str(name), spec, f"{here}.{name}") for name, spec in raw.items()]


def _aggregate(name: str, spec: Any, here: str) -> AggregateState:
    functions = [key for key in spec if key in AGGREGATE_FUNCTIONS] if isinstance(spec, dict) else []
    if len(functions) != 1:
        raise QueryError(f"{here}: expected one of {', '.join(AGGREGATE_FUNCTIONS)} with a path, "
                         f"got {spec!r}.")
    function = functions[0]
    extra = {key: value for key, value in spec.items() if key != function}
    return AggregateState(name, function, str(spec[function]), extra)


def aggregate_paths(config: Config, model: str, depth: int = AGGREGATE_DEPTH) -> list[str]:
    """The association paths from ``model`` an aggregate can run over, as a tree reads.

    A path qualifies once one of its steps is to-many (else it reaches at most one row). It goes
    at most ``depth`` associations deep and never back to a model already on it, except through
    one self-association (``referrals``, ``referrals.orders``), so the list stays short and finite.
    """
    found: list[str] = []

    def walk(current: str, path: tuple[str, ...], seen: frozenset[str], self_used: bool, many: bool) -> None:
        for name, association in config.models[current].associations.items():
            to_self = association.target == current
            if (to_self and self_used) or (not to_self and association.target in seen):
                continue
            step, reaches_many = (*path, name), many or association.to_many
            if reaches_many:
                found.append(".".join(step))
            if len(step) < depth:
                walk(association.target, step, seen | {association.target}, self_used or to_self, reaches_many)

    walk(model, (), frozenset([model]), False, False)
    return found


def aggregate_targets(config: Config, model: str, function: str) -> list[str]:
    """What ``function`` can aggregate from ``model``: for ``count`` the association paths, for the
    others each path's columns (``orders.total``; number columns only for sum and avg)."""
    paths = aggregate_paths(config, model)
    if function == "count":
        return paths
    return [f"{path}.{column}" for path in paths
            for column in _columns(config, path_model(config, model, path), function in NUMERIC_FUNCTIONS)]


def path_model(config: Config, model: str, path: str) -> str:
    """The model an association path from ``model`` ends at."""
    for name in path.split("."):
        model = config.models[model].associations[name].target
    return model


def _columns(config: Config, model: str, numbers_only: bool) -> list[str]:
    columns = config.table(model).columns
    return [str(c.name) for c in columns if not numbers_only or isinstance(c.type, (sa.Integer, sa.Numeric))]


def closest_target(path: str, targets: list[str]) -> str:
    """The path kept over a change of function: itself, its association (for ``count``), a column
    of it or of its association, else the first choice.

    >>> closest_target("orders", ["orders.id", "orders.total"])
    'orders.id'
    >>> closest_target("orders.total", ["orders", "reviews"])
    'orders'
    """
    association = path.rpartition(".")[0]
    for candidate in (path, association):
        if candidate in targets:
            return candidate
    for base in (path, association):
        for target in targets:
            if target.rpartition(".")[0] == base:
                return target
    return targets[0]


def default_aggregate_name(function: str, path: str, taken: set[str] = frozenset()) -> str:
    """``count_orders``, ``sum_orders_total``; ``_2``, ``_3``... when the name is taken."""
    base = f"{function}_{path.replace('.', '_')}"
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    return name


def order_items(raw: Any) -> list[tuple[str, str]]:
    """An ``order`` option as (column, asc|desc) pairs: ``name``, ``[name, desc]`` or a list of them."""
    if not raw:
        return []
    items = [raw] if isinstance(raw, str) else raw
    if len(items) == 2 and isinstance(items[1], str) and items[1].lower() in ("asc", "desc"):
        items = [items]
    return [(i, "asc") if isinstance(i, str) else (i[0], str(i[1]).lower()) for i in items]


def _attributes(raw: Any) -> list[str] | None:
    if raw is None or isinstance(raw, dict):
        return None
    return [raw] if isinstance(raw, str) else list(raw)


def _include_items(raw: Any) -> list[tuple[str, dict]]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        raw = [{k: v} for k, v in raw.items()]
    items = []
    for item in [raw] if isinstance(raw, str) else raw:
        name, options = (item, {}) if isinstance(item, str) else next(iter(item.items()))
        items.append((name, dict(options or {})))
    return items


def format_value(value: Any) -> str:
    """A condition value as the text a user would type (YAML flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    return text.removesuffix("\n...\n").strip()


def parse_count(text: str) -> int | None:
    """A limit or offset as typed: blank is none, else a whole number >= 0 (ValueError otherwise)."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):  # "-1", "2.5", "ten"
        raise ValueError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def parse_value(op: str, text: str) -> Any:
    """The value typed for ``op``: YAML scalars and lists, ``:name`` parameters kept as text."""
    text = text.strip()
    if text.startswith(":") and text[1:].isidentifier():
        return text
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        value = text
    if op in LIST_OPERATORS and not isinstance(value, list):
        value = [parse_value("eq", part) for part in text.split(",")] if "," in text else value
    return value
