"""The builder's state: the include query tree as plain data, apart from any widget.

``NodeState`` holds one model of the tree (attributes, required, where rows, the ticked
children); it converts to and from the query options YAML loads to, so the builder and a
``%%crossquery`` cell describe the same query. Where conditions are edited as rows
``[column, operator, value]`` joined by one combinator; values are typed as YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from explorer.config import Config
from explorer.errors import QueryError
from explorer.tree import OPERATOR_ALIASES, OPERATORS

COMBINATORS = ("and", "or")
LIST_OPERATORS = ("in", "not_in", "between", "not_between")


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
        """This node's options as a query mapping (without ``from`` or the root's extras)."""
        options: dict[str, Any] = {}
        if self.attributes is not None:
            options["attributes"] = list(self.attributes)
        if self.path and self.required is not None:
            options["required"] = self.required
        where = self.where()
        if where:
            options["where"] = where
        if self.children:
            options["include"] = [child.include_item() for child in self.children.values()]
        return options

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
                     combinator, rows, extra)
    associations = config.models[model].associations
    for name, child in _include_items(options.get("include")):
        if name not in associations:
            raise QueryError(f"include.{name}: {model} has no association {name!r}.")
        node.children[name] = state_from_options(config, associations[name].target, child, (*path, name))
    return node


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
