"""The include query: parsed from YAML/dict into small frozen nodes, checked against the config.

A query names a root model and a tree of includes (association names). Every
column and operator is checked here, so the compiler only ever sees names that
exist; an error names the query path (``include.orders.include.prodcts``).
Every model and association the query touches (junctions too) is checked against
its table on the way: its primary key and key columns exist, no association is
named like a column (a ConfigError naming the config's key path).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from .config import Association, Config
from .errors import QueryError, did_you_mean, yaml_problem

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "like", "not_like", "ilike", "not_ilike",
             "in", "not_in", "between", "not_between", "is", "not")
OPERATOR_ALIASES = {"notLike": "not_like", "notILike": "not_ilike", "notIn": "not_in",
                    "notBetween": "not_between", "iLike": "ilike", "=": "eq", "!=": "ne",
                    ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
COMBINATORS = ("and", "or", "not")
QUERY_KEYS = ("from", "attributes", "aggregate", "having", "where", "include", "order", "limit", "offset",
              "strategy", "timeout", "max_rows", "paranoid")
INCLUDE_KEYS = ("attributes", "aggregate", "having", "where", "required", "through", "order", "limit", "offset",
                "paranoid", "include")
THROUGH_KEYS = ("attributes", "where", "paranoid")
AGGREGATE_FUNCTIONS = ("count", "count_distinct", "sum", "avg", "min", "max")
STRATEGIES = ("auto", "join", "json")
_PARAM = re.compile(r"^:([A-Za-z_][A-Za-z0-9_]*)$")
_NESTED = re.compile(r"^\$(.+)\$$")


@dataclass(frozen=True)
class Param:
    """A ``:name`` placeholder, bound at run time from params or notebook variables."""

    name: str


@dataclass(frozen=True)
class ColumnRef:
    path: tuple[str, ...]  # include path from the root; () is the root (or the include itself)
    column: str


@dataclass(frozen=True)
class Condition:
    column: ColumnRef
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or | not
    items: tuple[Where, ...]


Where = Condition | BoolOp


@dataclass(frozen=True)
class Step:
    """One association of an aggregate's path, with the filters always applied to its rows:
    the association's scope and soft deletes of its target (``scope``) and of its junction."""

    association: Association
    scope: Where | None
    junction: Where | None


@dataclass(frozen=True)
class Aggregate:
    """``name: {function: path}``: one value per row of its node, over the rows the path reaches."""

    name: str
    function: str                  # count | count_distinct | sum | avg | min | max
    steps: tuple[Step, ...]        # the associations of the path, from the node
    column: str | None             # the path's last column; None: count the rows it reaches
    where: Where | None            # the aggregate's own filter, on the last model of the path
    path: str                      # as written, for messages

    @property
    def model(self) -> str:
        return self.steps[-1].association.target


@dataclass(frozen=True)
class Include:
    path: tuple[str, ...]
    association: Association
    attributes: tuple[str, ...]
    where: Where | None
    scope: Where | None
    required: bool
    includes: tuple[Include, ...]
    # belongs_to_many: the junction's columns shown in each target record, and its filter
    through_attributes: tuple[str, ...] = ()
    through_where: Where | None = None
    # to-many: the order of each parent's list, and which of its rows it keeps (top-N per parent)
    order: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    limit: int | None = None
    offset: int | None = None
    aggregates: tuple[Aggregate, ...] = ()
    having: Where | None = None  # over the aggregates' names

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def per_parent(self) -> bool:
        """True when limit/offset keep only some of each parent's rows."""
        return self.limit is not None or bool(self.offset)

    @property
    def through_path(self) -> tuple[str, ...]:
        """The junction's node in the layout and records: under the target, named like its model."""
        return (*self.path, self.association.through)

    @property
    def model(self) -> str:
        return self.association.target

    @property
    def key(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Query:
    model: str
    attributes: tuple[str, ...]
    where: Where | None
    includes: tuple[Include, ...]
    order: tuple[tuple[ColumnRef, bool], ...]  # (column, descending)
    limit: int | None = None
    offset: int | None = None
    strategy: str = "auto"
    timeout: float | None = None
    max_rows: int | None = None
    source: Mapping[str, Any] | None = None  # the query as written, for export
    aggregates: tuple[Aggregate, ...] = ()
    having: Where | None = None

    def aggregates_at(self, path: tuple[str, ...]) -> tuple[Aggregate, ...]:
        return self.aggregates if not path else self.node(path).aggregates

    def aggregate(self, path: tuple[str, ...], name: str) -> Aggregate | None:
        """The aggregate ``name`` of the node at ``path``; None when that is a column."""
        return next((a for a in self.aggregates_at(path) if a.name == name), None)

    def walk(self):
        """Every include, parents before children."""
        stack = list(reversed(self.includes))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.includes))

    def node(self, path: tuple[str, ...]) -> Include:
        return next(n for n in self.walk() if n.path == path)

    def list_order(self, path: tuple[str, ...]) -> list[tuple[str, bool]]:
        """How one include's list is ordered within its parent: the query's order items on that
        path, then the include's own order (the primary key breaks the remaining ties)."""
        own = [(ref.column, desc) for ref, desc in self.order if ref.path == path]
        listed = {column for column, _ in own}
        return own + [(column, desc) for column, desc in self.node(path).order if column not in listed]

    @property
    def param_names(self) -> list[str]:
        names: list[str] = []
        wheres = [self.where, self.having] + [w for n in self.walk() for w in (n.where, n.scope, n.through_where,
                                                                             n.having)]
        wheres += [w for node in (self, *self.walk()) for a in node.aggregates
                   for w in (a.where, *(s.scope for s in a.steps), *(s.junction for s in a.steps))]
        for where in wheres:
            names.extend(p for p in _params(where) if p not in names)
        return names


def _params(where: Where | None):
    if isinstance(where, BoolOp):
        for item in where.items:
            yield from _params(item)
    elif isinstance(where, Condition):
        values = where.value if isinstance(where.value, (list, tuple)) else [where.value]
        yield from (v.name for v in values if isinstance(v, Param))


# ---------------------------------------------------------------------------


def read_query(source: Any) -> dict:
    """A query as a dict, from a dict, a YAML string or a YAML file path."""
    if isinstance(source, Query):
        return dict(source.source or {})
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and source.endswith((".yaml", ".yml", ".json"))):
        path = Path(source).expanduser()
        if not path.is_file():
            raise QueryError(f"Query file {str(path)!r} does not exist.")
        source = path.read_text(encoding="utf-8")
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise QueryError(f"The query is not valid YAML, {yaml_problem(exc, source)}") from None
        if not isinstance(data, Mapping):
            raise QueryError(f"A query must be a mapping with at least 'from', got {data!r}.")
        return dict(data)
    raise QueryError(f"A query must be a dict, a YAML string or a file path, not {type(source).__name__}.")


def parse_query(config: Config, source: Any) -> Query:
    """Parse and check a query against the config.

    >>> parse_query(config, {"from": "User", "include": ["orders"]})  # doctest: +SKIP
    """
    if isinstance(source, Query):
        return source
    raw = read_query(source)
    return _Parser(config).query(raw)


class _Parser:
    def __init__(self, config: Config):
        self.config = config
        self.names = None  # (path, model) -> (the names a reference may take, what they are): see column_ref

    def columns(self, model: str) -> list[str]:
        return self.config.columns(model)  # the model's table was built, and checked, on the way in

    # -- query and includes

    def query(self, raw: dict) -> Query:
        raw = {("from" if k == "model" else k): v for k, v in raw.items()}
        self.check_keys(raw, QUERY_KEYS, "")
        if "from" not in raw:
            raise QueryError("The query needs 'from': the root model." + did_you_mean("", self.config.models))
        model = raw["from"]
        if model not in self.config.models:
            raise QueryError(f"from: unknown model {model!r}." + did_you_mean(str(model), self.config.models))
        self.config.table(model)  # a ConfigError for a missing table, primary key or a naming collision
        includes = self.includes(model, raw.get("include"), (), "include")
        query = Query(
            model=model,
            attributes=self.attributes(model, raw.get("attributes"), "attributes"),
            where=None,
            includes=includes,
            order=(),
            limit=self.count(raw, "limit"),
            offset=self.count(raw, "offset"),
            strategy=self.strategy(raw.get("strategy", "auto")),
            timeout=self.positive(raw, "timeout", float),
            max_rows=self.positive(raw, "max_rows", int),
            source=raw,
        )
        query = replace(query, **self.aggregate_options(model, raw, ""))
        nodes = {(): model, **{n.path: n.model for n in query.walk()}}
        where = self.where(raw.get("where"), model, "where", nodes, root=True)
        where = _both(self.not_deleted(model, raw, ""), where)
        aggregates = {path: [a.name for a in query.aggregates_at(path)] for path in nodes}
        self.names = lambda path, model: (self.columns(model) + aggregates[path], "column or aggregate")
        try:  # the order may name a node's aggregates too
            order = self.order(raw.get("order"), nodes)
        finally:
            self.names = None
        return replace(query, where=where, order=order)

    def includes(self, model: str, raw: Any, parent: tuple[str, ...], where: str) -> tuple[Include, ...]:
        items = self.include_items(raw, where)
        seen: set[str] = set()
        result = []
        for name, options in items:
            if name in seen:
                raise QueryError(f"{where}: {name!r} is included twice.")
            seen.add(name)
            result.append(self.include(model, name, options, parent, where))
        return tuple(result)

    def include_items(self, raw: Any, where: str) -> list[tuple[str, dict]]:
        if raw is None:
            return []
        if isinstance(raw, (str, Mapping)):
            raw = [raw] if isinstance(raw, str) or "association" in raw or "as" in raw else \
                [{k: v} for k, v in raw.items()]
        if not isinstance(raw, list):
            raise QueryError(f"{where}: expected a list of association names, got {raw!r}.")
        return [self.include_item(item, where) for item in raw]

    def include_item(self, item: Any, where: str) -> tuple[str, dict]:
        if isinstance(item, str):
            return item, {}
        if isinstance(item, Mapping) and ("association" in item or "as" in item):
            options = {k: v for k, v in item.items() if k not in ("association", "as", "model")}
            return str(item.get("association", item.get("as"))), options
        if isinstance(item, Mapping) and len(item) == 1:
            name, options = next(iter(item.items()))
            if options is None:
                options = {}
            if not isinstance(options, Mapping):
                raise QueryError(f"{where}.{name}: expected include options (a mapping), got {options!r}.")
            return str(name), dict(options)
        raise QueryError(f"{where}: expected an association name or {{name: {{options}}}}, got {item!r}.")

    def include(self, model: str, name: str, options: dict, parent: tuple[str, ...], where: str) -> Include:
        here = f"{where}.{name}"
        associations = self.config.models[model].associations
        if name not in associations:
            raise QueryError(f"{here}: {model} has no association {name!r}." + did_you_mean(name, associations))
        association = associations[name]
        self.config.check_association(association)  # its models' tables (junction too) and key columns
        self.check_keys(options, INCLUDE_KEYS, here)
        target = association.target
        path = (*parent, name)
        own_where = self.where(options.get("where"), target, f"{here}.where", {(): target})
        required = options.get("required", own_where is not None)
        if not isinstance(required, bool):
            raise QueryError(f"{here}.required: expected true or false, got {required!r}.")
        scope = self.where(association.scope, target,
                           f"models.{model}.associations.{name}.scope", {(): target})
        include = Include(
            path=path,
            association=association,
            attributes=self.attributes(target, options.get("attributes"), f"{here}.attributes"),
            where=own_where,
            scope=_both(self.not_deleted(target, options, here), scope),  # paranoid: always applied
            required=required,
            includes=self.includes(target, options.get("include"), path, f"{here}.include"),
        )
        return replace(include, **self.per_parent(include, options, here), **self.through(include, options, here),
                       **self.aggregate_options(target, options, here))

    # -- aggregates

    def aggregate_options(self, model: str, options: Mapping, here: str) -> dict:
        """aggregate: {name: {function: path, where: ...}} and having: of one node."""
        raw = options.get("aggregate")
        at = f"{here}.aggregate" if here else "aggregate"
        having_at = f"{here}.having" if here else "having"
        if raw is None:
            if options.get("having") is not None:
                raise QueryError(f"{having_at}: having filters by aggregates; this node has no aggregate:.")
            return {}
        if not isinstance(raw, Mapping) or not raw:
            raise QueryError(f"{at}: expected a mapping like {{loan_count: {{count: loans}}}}, got {raw!r}.")
        columns = self.columns(model)
        aggregates = []
        for name, spec in raw.items():
            name = str(name)
            if name in columns or name in self.config.models[model].associations:
                raise QueryError(f"{at}.{name}: {model} already has a column or association named {name!r}; "
                                 "give the aggregate another name.")
            aggregates.append(self.aggregate(model, name, spec, f"{at}.{name}"))
        having = self.having(options.get("having"), aggregates, having_at)
        return {"aggregates": tuple(aggregates), "having": having}

    def aggregate(self, model: str, name: str, spec: Any, here: str) -> Aggregate:
        if not isinstance(spec, Mapping):
            raise QueryError(f"{here}: expected {{function: path}}, e.g. {{count: loans}}, got {spec!r}.")
        functions = [key for key in spec if key != "where"]
        if len(functions) != 1 or functions[0] not in AGGREGATE_FUNCTIONS:
            unknown = next((f for f in functions if f not in AGGREGATE_FUNCTIONS), None)
            hint = did_you_mean(str(unknown), AGGREGATE_FUNCTIONS) if unknown else ""
            raise QueryError(f"{here}: expected one of {', '.join(AGGREGATE_FUNCTIONS)} with a path, got "
                             f"{', '.join(map(str, functions)) or 'none'}." + hint)
        function = functions[0]
        path = spec[function]
        if not isinstance(path, str) or not path:
            raise QueryError(f"{here}.{function}: expected a path like loans or loans.fee, got {path!r}.")
        steps, column, last = self.aggregate_path(model, path, f"{here}.{function}")
        if column is None and function not in ("count", "count_distinct"):
            raise QueryError(f"{here}.{function}: {function} needs a column at the end of the path "
                             f"({path}.<column of {last}>).")
        if function == "count_distinct" and column is None:
            key = self.config.models[last].primary_key
            if len(key) != 1:
                raise QueryError(f"{here}.count_distinct: {last} has a composite key; name the column to "
                                 f"count ({path}.<column>).")
            column = key[0]
        where = self.where(spec.get("where"), last, f"{here}.where", {(): last})
        return Aggregate(name, function, steps, column, where, path)

    def aggregate_path(self, model: str, path: str, here: str) -> tuple[tuple[Step, ...], str | None, str]:
        """The associations of ``loans.book.authors`` (and a last column, if the path ends in one)."""
        steps, current, column = [], model, None
        parts = path.split(".")
        for i, part in enumerate(parts):
            associations = self.config.models[current].associations
            if part in associations:
                association = associations[part]
                self.config.check_association(association)
                target = association.target
                scope = self.where(association.scope, target,
                                   f"models.{current}.associations.{part}.scope", {(): target})
                junction = self.not_deleted(association.through, {}, here) if association.through else None
                steps.append(Step(association, _both(self.not_deleted(target, {}, here), scope), junction))
                current = target
                continue
            columns = self.columns(current)
            if i == len(parts) - 1 and steps and part in columns:
                column = part
                break
            known = list(associations) + (columns if steps else [])
            what = "association or column" if steps else "association"
            raise QueryError(f"{here}: {current} has no {what} {part!r}." + did_you_mean(part, known))
        if not any(step.association.to_many for step in steps):
            raise QueryError(f"{here}: {path} reaches one {current} per {model}; an aggregate goes over a "
                             "has_many or belongs_to_many association.")
        return tuple(steps), column, current

    def having(self, raw: Any, aggregates: list[Aggregate], here: str) -> Where | None:
        if raw is None:
            return None
        names = [a.name for a in aggregates]
        self.names = lambda path, model: (names, "aggregate")  # having names aggregates, never columns
        try:
            return self.where(raw, "", here, {(): ""})
        finally:
            self.names = None

    # -- the options of belongs_to_many and to-many includes

    def through(self, include: Include, options: dict, here: str) -> dict:
        """through: {attributes, where, paranoid} of a belongs_to_many include."""
        assoc = include.association
        raw = options.get("through")
        if raw is not None and assoc.kind != "belongs_to_many":
            raise QueryError(f"{here}.through: {assoc.source}.{include.name} is a {assoc.kind}; only a "
                             "belongs_to_many include has a junction to show or filter.")
        if assoc.kind != "belongs_to_many":
            return {}
        raw = {} if raw is None else raw
        if not isinstance(raw, Mapping):
            raise QueryError(f"{here}.through: expected a mapping like {{attributes: [...], where: {{...}}}}, "
                             f"got {raw!r}.")
        self.check_keys(raw, THROUGH_KEYS, f"{here}.through")
        junction = assoc.through
        attributes = () if raw.get("attributes") is None else \
            self.attributes(junction, raw["attributes"], f"{here}.through.attributes")
        if attributes:
            self.check_junction_name(include, here)
        where = self.where(raw.get("where"), junction, f"{here}.through.where", {(): junction})
        return {"through_attributes": attributes,
                "through_where": _both(self.not_deleted(junction, raw, f"{here}.through"), where)}

    def check_junction_name(self, include: Include, here: str) -> None:
        # Records show the junction under its model's name, beside the target's own keys.
        name = include.association.through
        taken = [*include.attributes, *(child.name for child in include.includes)]
        if name in taken:
            raise QueryError(f"{here}.through.attributes: the junction's columns are shown under "
                             f"{name!r}, which {include.model} already uses (a column or an include); "
                             "leave one of them out.")

    def per_parent(self, include: Include, options: dict, here: str) -> dict:
        """order / limit / offset of a to-many include: each parent's list, as Sequelize's separate."""
        given = [key for key in ("order", "limit", "offset") if options.get(key) is not None]
        if not given:
            return {}
        assoc = include.association
        if not assoc.to_many:
            raise QueryError(f"{here}.{given[0]}: {assoc.source}.{include.name} is a {assoc.kind} (one "
                             f"{include.model} per {assoc.source}); order, limit and offset apply to the "
                             "lists of has_many and belongs_to_many includes.")
        nodes = {(): include.model}
        order = self.order(options.get("order"), nodes, f"{here}.order")
        return {"order": tuple((ref.column, desc) for ref, desc in order),
                "limit": self.count(options, "limit", here), "offset": self.count(options, "offset", here)}

    def not_deleted(self, model: str, options: Mapping, here: str) -> Where | None:
        """``<paranoid column> IS NULL`` for a paranoid model, unless the options say paranoid: false."""
        shown = options.get("paranoid", True)
        if not isinstance(shown, bool):
            at = f"{here}.paranoid" if here else "paranoid"
            raise QueryError(f"{at}: expected true or false, got {shown!r}.")
        column = self.config.models[model].paranoid
        if column is None or not shown:
            return None
        return Condition(ColumnRef((), column), "is", None)

    # -- small options

    def check_keys(self, raw: Mapping, allowed: tuple[str, ...], where: str) -> None:
        for key in raw:
            if key not in allowed:
                at = f"{where}.{key}" if where else str(key)
                raise QueryError(f"{at}: unknown option {key!r}." + did_you_mean(str(key), allowed))

    def attributes(self, model: str, raw: Any, where: str) -> tuple[str, ...]:
        columns = self.columns(model)
        if raw is None:
            return tuple(columns)
        if isinstance(raw, Mapping) and set(raw) <= {"exclude", "include"}:
            excluded = self.column_list(model, raw.get("exclude", []), f"{where}.exclude")
            return tuple(c for c in columns if c not in excluded)
        return self.column_list(model, raw, where)

    def column_list(self, model: str, raw: Any, where: str) -> tuple[str, ...]:
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list):
            raise QueryError(f"{where}: expected a list of column names, got {raw!r}.")
        columns = self.columns(model)
        for name in raw:
            if name not in columns:
                raise QueryError(f"{where}: {model} has no column {name!r}." + did_you_mean(str(name), columns))
        return tuple(raw)

    def count(self, raw: dict, key: str, where: str = "") -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise QueryError(f"{where + '.' if where else ''}{key}: expected a whole number >= 0, got {value!r}.")
        return value

    def positive(self, raw: dict, key: str, kind: type):
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise QueryError(f"{key}: expected a positive number, got {value!r}.")
        return kind(value)

    def strategy(self, value: Any) -> str:
        if value not in STRATEGIES:
            raise QueryError(f"strategy: expected one of {', '.join(STRATEGIES)}, got {value!r}.")
        return value

    def order(self, raw: Any, nodes: dict[tuple, str], where: str = "order") -> tuple[tuple[ColumnRef, bool], ...]:
        if raw is None:
            return ()
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise QueryError(f"{where}: expected a list like [[name, asc]], got {raw!r}.")
        if len(items) == 2 and isinstance(items[1], str) and items[1].lower() in ("asc", "desc"):
            items = [items]  # a single [column, direction] pair
        return tuple(self.order_item(item, nodes, f"{where}.{i}") for i, item in enumerate(items))

    def order_item(self, item: Any, nodes: dict[tuple, str], where: str) -> tuple[ColumnRef, bool]:
        direction = "asc"
        if isinstance(item, list) and len(item) == 2:
            item, direction = item
        if not isinstance(item, str) or not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
            raise QueryError(f"{where}: expected a column or [column, asc|desc], got {item!r}.")
        match = _NESTED.match(item)
        ref = self.column_ref(match.group(1) if match else item, nodes, where)
        return ref, direction.lower() == "desc"

    def column_ref(self, text: str, nodes: dict[tuple, str], where: str) -> ColumnRef:
        *path, column = text.split(".")
        path = tuple(path)
        if path not in nodes:
            known = [".".join(p) for p in nodes if p]
            raise QueryError(f"{where}: {'.'.join(path)!r} is not an included path." +
                             did_you_mean(".".join(path), known))
        model = nodes[path]
        columns, what = self.names(path, model) if self.names else (self.columns(model), "column")
        if column not in columns:
            owner = f"{model} has no {what}" if model else f"this node has no {what}"
            raise QueryError(f"{where}: {owner} {column!r}." + did_you_mean(column, columns))
        return ColumnRef(path, column)

    # -- where

    def where(self, raw: Any, model: str, where: str, nodes: dict[tuple, str], root: bool = False) -> Where | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise QueryError(f"{where}: expected a mapping of column -> condition, got {raw!r}.")
        items = [self.where_item(str(key), value, model, f"{where}.{key}", nodes, root) for key, value in raw.items()]
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def where_item(self, key: str, value: Any, model: str, where: str, nodes: dict[tuple, str],
                   root: bool) -> Where:
        name = key.lstrip("$") if key.lstrip("$") in COMBINATORS and not _NESTED.match(key) else key
        if name in ("and", "or"):
            parts = value if isinstance(value, list) else [value] if isinstance(value, Mapping) else None
            if not parts:
                raise QueryError(f"{where}: expected a list of conditions, got {value!r}.")
            return BoolOp(name, tuple(self.where(p, model, f"{where}.{i}", nodes, root) for i, p in enumerate(parts)))
        if name == "not":
            return BoolOp("not", (self.where(value, model, where, nodes, root),))
        nested = _NESTED.match(key)
        if nested and not root and "." in nested.group(1):
            raise QueryError(f"{where}: $nested.column$ references belong in the root where.")
        ref = self.column_ref(nested.group(1) if nested else key, nodes, where)
        return self.conditions(ref, value, where)

    def conditions(self, ref: ColumnRef, value: Any, where: str) -> Where:
        if isinstance(value, Mapping):
            items = [self.condition(ref, str(op), operand, f"{where}.{op}") for op, operand in value.items()]
            if not items:
                raise QueryError(f"{where}: empty condition.")
            return items[0] if len(items) == 1 else BoolOp("and", tuple(items))
        if isinstance(value, list):
            return self.condition(ref, "in", value, where)
        return self.condition(ref, "is" if value is None else "eq", value, where)

    def condition(self, ref: ColumnRef, op: str, operand: Any, where: str) -> Where:
        op = OPERATOR_ALIASES.get(op.lstrip("$"), op.lstrip("$"))
        if op not in OPERATORS:
            raise QueryError(f"{where}: unknown operator {op!r}." + did_you_mean(op, OPERATORS))
        if op == "not" and isinstance(operand, Mapping):
            return BoolOp("not", (self.conditions(ref, operand, where),))
        operand = self.operand(op, operand, where)
        return Condition(ref, op, operand)

    def operand(self, op: str, operand: Any, where: str) -> Any:
        operand = _param(operand)
        if op in ("in", "not_in"):
            if isinstance(operand, Param):
                return operand
            if not isinstance(operand, list):
                raise QueryError(f"{where}: {op} expects a list, got {operand!r}.")
            return tuple(_param(v) for v in operand)
        if op in ("between", "not_between"):
            if not (isinstance(operand, list) and len(operand) == 2):
                raise QueryError(f"{where}: {op} expects [low, high], got {operand!r}.")
            return tuple(_param(v) for v in operand)
        if op == "is" and not (operand is None or isinstance(operand, (bool, Param))):
            raise QueryError(f"{where}: is expects null, true or false, got {operand!r}.")
        if isinstance(operand, (Mapping, list)):
            raise QueryError(f"{where}: {op} expects a single value, got {operand!r}.")
        if op in ("like", "not_like", "ilike", "not_ilike") and not isinstance(operand, (str, Param)):
            raise QueryError(f"{where}: {op} expects a text pattern, got {operand!r}.")
        return operand


def _both(first: Where | None, second: Where | None) -> Where | None:
    if first is None or second is None:
        return first or second
    return BoolOp("and", (first, second))


def _param(value: Any) -> Any:
    if isinstance(value, str):
        match = _PARAM.match(value)
        if match:
            return Param(match.group(1))
        if value.startswith("::"):
            return value[1:]  # '::x' is the literal text ':x'
    return value
