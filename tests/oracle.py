"""An independent oracle for include queries.

It answers a query the slow, obvious way: every table is read with a plain
single-table ``SELECT`` (through SQLAlchemy, on the same databases the
explorer uses), and the include tree is evaluated in Python:

* each association kind is a join on its keys (belongs_to_many through the
  junction rows), with the association's scope and the include's ``where``;
* paranoid models (``paranoid: <column>`` in the config) hide rows whose
  column is not NULL: the root's unless the query says ``paranoid: false``
  (the root only, as Sequelize), an include's targets unless its options say
  ``paranoid: false``, a belongs_to_many's junction rows unless its options
  say ``through: {paranoid: false}``; paranoid never changes ``required``;
* a belongs_to_many include's ``through: {where, attributes}``: the where
  filters the junction rows (on the junction row alone); the attributes
  show, in each target record after its own attributes and before its
  includes, ``{<junction model>: {column: value, ...}}`` (with ``keys``, the
  junction's primary key first);
* an include's subtree is expanded into partial joined rows; a required
  include without a match removes its parent's row, an optional one leaves a
  row of NULLs (so a required include below an optional one only removes the
  optional parent, as Sequelize's nested join does);
* top-N per parent: a to-many include with ``limit``/``offset`` keeps, for
  each parent row, the slice of its candidates (the matching targets whose own
  subtree survives) sorted by the include's ``order``, then the target's
  primary key; ``limit: 0`` keeps none, so a required one removes the parent;
* the root ``where`` (``$nested.path.column$`` included) is evaluated on every
  flat joined row with SQL's three-valued logic, after the top-N;
* ``limit``/``offset`` count roots (those with at least one surviving row);
* records are nested as Sequelize's ``toJSON()``: to-many -> list, to-one ->
  dict or None, ordered by the user's order, then primary keys (a to-many
  include's own ``order`` just before its key).

It shares nothing with explorer's tree, compile or shape code: it reads the
query as a raw dict and only takes keys and table names from the Config.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import yaml

OP_ALIASES = {"notLike": "not_like", "notILike": "not_ilike", "notIn": "not_in",
              "notBetween": "not_between", "iLike": "ilike", "=": "eq", "!=": "ne",
              ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_NESTED = re.compile(r"^\$(.+)\$$")


# ---------------------------------------------------------------------------
# How each server compares text and orders NULLs (the SPEC leaves these to the server).


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Profile:
    name: str
    nulls_first_asc: bool           # MySQL and SQLite sort NULL first, PostgreSQL last
    fold_eq: Any                    # how '=' sees text
    fold_like: Any                  # how LIKE sees text


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _mysql_fold(text: str) -> str:  # utf8mb4_general_ci: case- and accent-insensitive
    return _strip_accents(text).casefold()


PROFILES = {
    "sqlite": Profile("sqlite", True, lambda s: s, _ascii_lower),
    "mysql": Profile("mysql", True, _mysql_fold, _mysql_fold),
    "postgresql": Profile("postgresql", False, lambda s: s, lambda s: s),
}


# ---------------------------------------------------------------------------
# The query, read from the raw dict (or YAML).


@dataclass
class Node:
    path: tuple[str, ...]
    model: str
    kind: str | None                # None for the root
    association: Any                # explorer.config.Association (keys only)
    attributes: tuple[str, ...]
    where: Any                      # parsed where, paths relative to this node
    scope: Any
    required: bool
    children: list[Node] = field(default_factory=list)
    paranoid: bool = True           # hide the target's soft-deleted rows (when its model is paranoid)
    through_paranoid: bool = True   # hide the junction's soft-deleted rows
    through_where: Any = None       # parsed where on the junction row
    through_attributes: tuple[str, ...] = ()
    order: list[tuple[str, bool]] = field(default_factory=list)  # (column of the target, desc)
    limit: int | None = None
    offset: int = 0
    aggregates: list[tuple] = field(default_factory=list)  # (name, function, path, own where)
    having: Any = None              # parsed where over the aggregates' names

    @property
    def per_parent(self) -> bool:
        """True when limit/offset keep only a slice of each parent's targets."""
        return self.to_many and (self.limit is not None or bool(self.offset))

    @property
    def to_many(self) -> bool:
        return self.kind in ("has_many", "belongs_to_many")

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()


def parse_where(raw: Any, params: Mapping[str, Any]) -> Any:
    """A where mapping as nested tuples: ('and'|'or', [...]), ('not', x), ('cond', path, col, op, value)."""
    if raw is None:
        return None
    items = []
    for key, value in raw.items():
        bare = key.lstrip("$") if not _NESTED.match(key) else None
        if bare in ("and", "or"):
            parts = value if isinstance(value, list) else [value]
            items.append((bare, [parse_where(p, params) for p in parts]))
        elif bare == "not":
            items.append(("not", parse_where(value, params)))
        else:
            match = _NESTED.match(key)
            *path, column = (match.group(1) if match else key).split(".")
            items.append(_conditions(tuple(path), column, value, params))
    return items[0] if len(items) == 1 else ("and", items)


def _conditions(path, column, value, params):
    if isinstance(value, Mapping):
        items = []
        for op, operand in value.items():
            op = OP_ALIASES.get(op.lstrip("$"), op.lstrip("$"))
            if op == "not" and isinstance(operand, Mapping):
                items.append(("not", _conditions(path, column, operand, params)))
            else:
                items.append(("cond", path, column, op, _value(operand, params)))
        return items[0] if len(items) == 1 else ("and", items)
    if isinstance(value, list):
        return ("cond", path, column, "in", _value(value, params))
    return ("cond", path, column, "is" if value is None else "eq", _value(value, params))


def _value(value, params):
    if isinstance(value, list):
        return [_value(v, params) for v in value]
    if isinstance(value, str) and value.startswith("::"):
        return value[1:]
    if isinstance(value, str) and re.fullmatch(r":[A-Za-z_]\w*", value):
        return params[value[1:]]
    return value


def include_items(raw: Any) -> list[tuple[str, dict]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, Mapping):
        raw = [{k: v} for k, v in raw.items()]
    items = []
    for item in raw:
        if isinstance(item, str):
            items.append((item, {}))
        else:
            (name, options), = item.items()
            items.append((name, dict(options or {})))
    return items


def build_tree(config, query: Mapping, params: Mapping[str, Any]) -> Node:
    model = query["from"]
    root = Node((), model, None, None, _attributes(config, model, query.get("attributes")),
                None, None, True, paranoid=query.get("paranoid", True) is not False)
    _with_aggregates(root, query, params)
    root.children = _children(config, model, query.get("include"), (), params)
    return root


def _with_aggregates(node: Node, options: Mapping, params) -> None:
    """aggregate: {name: {function: path, where: ...}} and having:, shown after the attributes."""
    for name, spec in (options.get("aggregate") or {}).items():
        function = next(key for key in spec if key != "where")
        node.aggregates.append((name, function, spec[function], parse_where(spec.get("where"), params)))
    node.attributes = (*node.attributes, *(a[0] for a in node.aggregates))
    node.having = parse_where(options.get("having"), params)


def _children(config, model: str, raw: Any, parent: tuple, params) -> list[Node]:
    nodes = []
    for name, options in include_items(raw):
        assoc = config.models[model].associations[name]
        where = parse_where(options.get("where"), params)
        through = options.get("through") or {}
        node = Node((*parent, name), assoc.target, assoc.kind, assoc,
                    _attributes(config, assoc.target, options.get("attributes")),
                    where, parse_where(assoc.scope, params),
                    options.get("required", where is not None),
                    paranoid=options.get("paranoid", True) is not False,
                    through_paranoid=through.get("paranoid", True) is not False,
                    through_where=parse_where(through.get("where"), params),
                    through_attributes=tuple(dict.fromkeys(through.get("attributes") or ())),
                    order=[_own_order_item(item) for item in _order_items(options.get("order"))],
                    limit=options.get("limit"), offset=options.get("offset") or 0)
        _with_aggregates(node, options, params)
        node.children = _children(config, assoc.target, options.get("include"), node.path, params)
        nodes.append(node)
    return nodes


def _attributes(config, model: str, raw: Any) -> tuple[str, ...]:
    """The attributes records show: exactly the listed ones (Sequelize's toJSON hides the key)."""
    if raw is None:
        return tuple(config.columns(model))
    if isinstance(raw, Mapping):
        excluded = set(raw.get("exclude", []))
        return tuple(c for c in config.columns(model) if c not in excluded)
    return tuple(dict.fromkeys(raw))


# ---------------------------------------------------------------------------
# Tables: one plain SELECT per table.

_CACHE: dict[tuple, dict[str, list[dict]]] = {}


def load_tables(config) -> dict[str, list[dict]]:
    """Every model's rows as dicts, read with one single-table SELECT each."""
    key = tuple(sorted((n, db.url.render_as_string(hide_password=False), db.schema)
                       for n, db in config.databases.items()))
    if key not in _CACHE:
        _CACHE[key] = {name: _read_table(config, model) for name, model in config.models.items()}
    return _CACHE[key]


def _read_table(config, model) -> list[dict]:
    db = config.databases[model.database]
    engine = sa.create_engine(db.url)
    schema = None if db.url.get_backend_name() == "sqlite" else db.schema
    try:
        with engine.connect() as connection:
            table = sa.Table(model.table, sa.MetaData(), autoload_with=connection, schema=schema)
            return [dict(row._mapping) for row in connection.execute(sa.select(table))]
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------
# Evaluation.


class Oracle:
    """``Oracle(config, backend).records(query, params)``: what the records must be."""

    def __init__(self, config, backend: str):
        self.config = config
        self.tables = load_tables(config)
        self.profile = PROFILES[backend]

    # -- the public answer

    def records(self, query: Any, params: Mapping[str, Any] | None = None, keys: bool = False) -> list[dict]:
        """Sequelize's toJSON() of the query: the listed attributes (``keys``: the keys too, first)."""
        self.keys = keys
        query = yaml.safe_load(query) if isinstance(query, str) else query
        root = build_tree(self.config, query, params or {})
        where = parse_where(query.get("where"), params or {})
        order = [_order_item(item) for item in _order_items(query.get("order"))]
        roots = self._aggregated(root, self._visible(root.model, self.tables[root.model], root.paranoid))
        rows = [flat for row in roots for flat in self._expand(root.children, row, {(): row})]
        rows = [r for r in rows if self.evaluate(where, r) is True]
        rows = self._limit(root, rows, order, query.get("limit"), query.get("offset"))
        rows.sort(key=functools.cmp_to_key(lambda a, b: self._compare(a, b, self._sort_spec(root, order))))
        return self._nest(root, rows)

    # -- joining

    def _expand(self, children: list[Node], row: dict, base: dict) -> list[dict]:
        """Partial flat rows for the subtree below ``row``: {path: row}; a missing path is NULL.

        A belongs_to_many's junction row sits under ``junction_key(path)``.
        """
        combos = [base]
        for child in children:
            options = self._options(child, row)
            if not options:
                if child.required:
                    return []
                options = [{}]
            combos = [{**a, **b} for a in combos for b in options]
        return combos

    def _options(self, node: Node, parent: dict) -> list[dict]:
        """The partial rows ``node`` adds below one parent row: each kept target with its subtree."""
        pk = self.config.models[node.model].primary_key
        candidates: dict[tuple, tuple[dict, list[dict]]] = {}  # target key -> (target, its partial rows)
        for target, junction in self._matches(node, parent):
            base = {node.path: target} if junction is None else {node.path: target, junction_key(node.path): junction}
            subtree = self._expand(node.children, target, base)
            if subtree:  # a target whose required sub-includes find nothing is no candidate
                candidates.setdefault(tuple(target[c] for c in pk), (target, []))[1].extend(subtree)
        kept = list(candidates.values())
        if node.per_parent:
            spec = [((), column, desc) for column, desc in node.order] + [((), c, False) for c in pk]
            kept.sort(key=functools.cmp_to_key(lambda a, b: self._compare({(): a[0]}, {(): b[0]}, spec)))
            kept = kept[node.offset:None if node.limit is None else node.offset + node.limit]
        return [sub for _, subtree in kept for sub in subtree]

    def _matches(self, node: Node, parent: dict) -> list[tuple[dict, dict | None]]:
        """(target, junction row or None) for every target of ``node`` that joins ``parent``."""
        a = node.association
        targets = self._visible(node.model, self.tables[node.model], node.paranoid)
        if node.kind == "belongs_to":
            found = [(t, None) for t in targets if _keys_equal(parent, a.foreign_key, t, a.target_key)]
        elif node.kind in ("has_one", "has_many"):
            found = [(t, None) for t in targets if _keys_equal(parent, a.source_key, t, a.foreign_key)]
        else:
            junctions = [j for j in self._visible(a.through, self.tables[a.through], node.through_paranoid)
                         if _keys_equal(parent, a.source_key, j, a.foreign_key)
                         and self.evaluate(node.through_where, {(): j}) is True]
            found = [(t, j) for j in junctions for t in targets if _keys_equal(j, a.other_key, t, a.target_key)]
        found = [(t, j) for t, j in found if self.evaluate(node.scope, {(): t}) is True
                 and self.evaluate(node.where, {(): t}) is True]
        if not node.aggregates:
            return found
        kept = [(self._aggregated(node, [t]), j) for t, j in found]
        return [(extended[0], j) for extended, j in kept if extended]

    # -- aggregates: computed per row, then having

    def _aggregated(self, node: Node, rows: list[dict]) -> list[dict]:
        """The node's rows with their aggregates as extra columns, those its having keeps."""
        if not node.aggregates:
            return rows
        result = []
        for row in rows:
            values = {name: self._aggregate(node.model, row, function, path, where)
                      for name, function, path, where in node.aggregates}
            extended = {**row, **values}
            if self.evaluate(node.having, {(): extended}) is True:
                result.append(extended)
        return result

    def _aggregate(self, model: str, row: dict, function: str, path: str, where):
        reached, column = [row], None
        for part in path.split("."):
            associations = self.config.models[model].associations
            if part not in associations:
                column = part  # the path's last column
                break
            assoc = associations[part]
            reached = [t for r in reached for t in self._step(assoc, r)]
            model = assoc.target
        reached = [r for r in reached if self.evaluate(where, {(): r}) is True]
        if function == "count_distinct" and column is None:
            column = self.config.models[model].primary_key[0]
        if column is None:
            return len(reached)
        values = [r[column] for r in reached if r[column] is not None]
        if function == "count":
            return len(values)
        if function == "count_distinct":
            return len({self.profile.fold_eq(v) if isinstance(v, str) else v for v in values})
        if not values:
            return None
        if function in ("min", "max"):
            fold = (lambda v: self.profile.fold_eq(v) if isinstance(v, str) else v)
            return (min if function == "min" else max)(values, key=fold)
        if self.profile.name == "sqlite" and isinstance(values[0], Decimal):
            values = [float(v) for v in values]  # SQLite keeps decimals as REAL and adds doubles
        total = sum(values[1:], values[0])
        if function == "sum":
            return total
        return float(total) / len(values)  # avg: SUM in double precision / COUNT

    def _step(self, assoc, row: dict) -> list[dict]:
        """The visible rows one association reaches from ``row``, with its scope (an aggregate's path)."""
        targets = self._visible(assoc.target, self.tables[assoc.target], True)
        if assoc.kind == "belongs_to":
            found = [t for t in targets if _keys_equal(row, assoc.foreign_key, t, assoc.target_key)]
        elif assoc.kind in ("has_one", "has_many"):
            found = [t for t in targets if _keys_equal(row, assoc.source_key, t, assoc.foreign_key)]
        else:
            found = [t for j in self._visible(assoc.through, self.tables[assoc.through], True)
                     if _keys_equal(row, assoc.source_key, j, assoc.foreign_key)
                     for t in targets if _keys_equal(j, assoc.other_key, t, assoc.target_key)]
        scope = parse_where(assoc.scope, {})
        return [t for t in found if self.evaluate(scope, {(): t}) is True]

    def _visible(self, model: str, rows: list[dict], paranoid: bool) -> list[dict]:
        """The rows a query sees: without the soft-deleted ones when the model is paranoid."""
        column = getattr(self.config.models[model], "paranoid", None)
        if column is None or not paranoid:
            return rows
        return [r for r in rows if r[column] is None]

    # -- where, with SQL's three-valued logic (None is unknown)

    def evaluate(self, where: Any, row: dict):
        """True, False or None (unknown) for a where on a flat row {path: row or None}."""
        if where is None:
            return True
        kind = where[0]
        if kind == "and":
            values = [self.evaluate(w, row) for w in where[1]]
            return False if False in values else None if None in values else True
        if kind == "or":
            values = [self.evaluate(w, row) for w in where[1]]
            return True if True in values else None if None in values else False
        if kind == "not":
            value = self.evaluate(where[1], row)
            return None if value is None else not value
        _, path, column, op, operand = where
        target = row.get(path)
        return self._condition(None if target is None else target[column], op, operand)

    def _condition(self, value, op: str, operand):
        if op in ("is", "eq") and operand is None:
            return value is None
        if op in ("ne", "not") and operand is None:
            return value is not None
        if op in ("is", "not") and isinstance(operand, bool):
            result = None if value is None else bool(value) == operand
            return (result is True) if op == "is" else (result is not True)
        if op == "not":
            op = "ne"
        if op in ("in", "not_in") and not operand:
            return op == "not_in"  # x IN () is false and x NOT IN () true, even for NULL
        if value is None:
            return None
        if op in ("in", "not_in"):
            results = [self._compare_values(value, v) for v in operand]
            found = True if 0 in results else None if None in results else False
            return found if op == "in" else (None if found is None else not found)
        if op in ("between", "not_between"):
            low, high = (self._compare_values(value, v) for v in operand)
            inside = None if None in (low, high) else low >= 0 and high <= 0
            return inside if op == "between" or inside is None else not inside
        if op in ("like", "not_like", "ilike", "not_ilike"):
            fold = self.profile.fold_like if op in ("like", "not_like") else (lambda s: s.lower())
            found = _like(fold(str(value)), fold(operand))
            return found if op in ("like", "ilike") else not found
        cmp = self._compare_values(value, operand)
        if cmp is None:
            return None
        return {"eq": cmp == 0, "ne": cmp != 0, "gt": cmp > 0, "gte": cmp >= 0,
                "lt": cmp < 0, "lte": cmp <= 0}[op]

    def _compare_values(self, a, b):
        if a is None or b is None:
            return None
        if isinstance(a, str) and isinstance(b, str):
            a, b = self.profile.fold_eq(a), self.profile.fold_eq(b)
        elif isinstance(a, Decimal) and isinstance(b, float) or isinstance(a, float) and isinstance(b, Decimal):
            a, b = float(a), float(b)
        return (a > b) - (a < b)

    # -- order and limit

    def _sort_spec(self, root: Node, order) -> list[tuple[tuple, str, bool]]:
        """The user's order, then the root's key and every to-many node's own order and key (parents first)."""
        spec = list(order)
        spec += [((), c, False) for c in self.config.models[root.model].primary_key]
        for node in root.walk():
            if node.to_many:
                spec += [(node.path, column, desc) for column, desc in node.order]
                spec += [(node.path, c, False) for c in self.config.models[node.model].primary_key]
        return spec

    def _compare(self, a: dict, b: dict, spec) -> int:
        for path, column, desc in spec:
            x, y = (None if r.get(path) is None else r[path][column] for r in (a, b))
            if x is None and y is None:
                continue
            if x is None or y is None:
                cmp = (-1 if x is None else 1) * (1 if self.profile.nulls_first_asc else -1)
            else:
                cmp = (x > y) - (x < y)
            if cmp:
                return -cmp if desc else cmp
        return 0

    def _limit(self, root: Node, rows: list[dict], order, limit, offset) -> list[dict]:
        if limit is None and not offset:
            return rows
        start, stop = offset or 0, None if limit is None else (offset or 0) + limit
        if not any(n.to_many for n in root.walk()):
            rows = sorted(rows, key=functools.cmp_to_key(
                lambda a, b: self._compare(a, b, self._sort_spec(root, order))))
            return rows[start:stop]
        # Roots are counted, ordered by the order items that a root has one value for
        # (its own columns and to-one includes), then its primary key.
        to_one = {(): True} | {n.path: not n.to_many and to_one_parent
                               for n, to_one_parent in _with_parent_flag(root)}
        spec = [item for item in order if to_one.get(item[0])]
        spec += [((), c, False) for c in self.config.models[root.model].primary_key]
        pk = self.config.models[root.model].primary_key
        first: dict[tuple, dict] = {}
        for row in rows:
            first.setdefault(tuple(row[()][c] for c in pk), row)
        picked = sorted(first.values(), key=functools.cmp_to_key(lambda a, b: self._compare(a, b, spec)))
        keys = {tuple(r[()][c] for c in pk) for r in picked[start:stop]}
        return [r for r in rows if tuple(r[()][c] for c in pk) in keys]

    # -- nesting

    def _nest(self, node: Node, rows: list[dict]) -> list[dict]:
        """Records for ``node`` from its flat rows (already in order), by first appearance."""
        pk = self.config.models[node.model].primary_key
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            own = row.get(node.path)
            if own is not None:
                groups.setdefault(tuple(own[c] for c in pk), []).append(row)
        records = []
        for group in groups.values():
            own = group[0][node.path]
            shown = dict.fromkeys((*pk, *node.attributes)) if self.keys else node.attributes
            record = {c: own[c] for c in shown}
            if node.through_attributes:
                junction = group[0][junction_key(node.path)]
                through = node.association.through
                columns = node.through_attributes
                if self.keys:
                    columns = dict.fromkeys((*self.config.models[through].primary_key, *columns))
                record[through] = {c: junction[c] for c in columns}
            for child in node.children:
                nested = self._nest(child, group)
                record[child.path[-1]] = nested if child.to_many else (nested[0] if nested else None)
            records.append(record)
        return records


def _with_parent_flag(root: Node):
    """(node, True when every include above it is to-one)."""
    def visit(node, flag):
        for child in node.children:
            yield child, flag
            yield from visit(child, flag and not child.to_many)
    yield from visit(root, True)


def _order_items(raw):
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else raw
    if len(items) == 2 and isinstance(items[1], str) and items[1].lower() in ("asc", "desc"):
        items = [items]
    return items


def _order_item(item) -> tuple[tuple, str, bool]:
    text, direction = (item, "asc") if isinstance(item, str) else item
    match = _NESTED.match(text)
    *path, column = (match.group(1) if match else text).split(".")
    return tuple(path), column, direction.lower() == "desc"


def _own_order_item(item) -> tuple[str, bool]:
    """An include's own order item: a column of its target and whether it is descending."""
    path, column, desc = _order_item(item)
    assert not path, f"an include's order names its own columns, not {item!r}"
    return column, desc


def junction_key(path: tuple) -> tuple:
    """Where a flat row keeps the junction row of the belongs_to_many at ``path`` (never a path)."""
    return ("through", path)


def _keys_equal(left: dict, left_keys, right: dict, right_keys) -> bool:
    pairs = [(left[a], right[b]) for a, b in zip(left_keys, right_keys)]
    return all(x is not None and y is not None and x == y for x, y in pairs)


def _like(text: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


# ---------------------------------------------------------------------------


def normalize(value: Any) -> Any:
    """Plain comparable Python values: pandas Timestamps become datetimes."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value
