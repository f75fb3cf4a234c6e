"""Compile a checked include query into ONE SQLAlchemy Core ``Select``.

Every include path gets its own table alias (``orders``, ``orders->products``),
so self-associations and two paths to one table never collide. Tables carry
their logical database as schema; execution maps it to the real name.

Join semantics follow Sequelize:

* an optional include is a LEFT OUTER JOIN, a required one an INNER JOIN;
* a required include below an optional one filters only its optional parent,
  so the optional branch is compiled as a nested join ``LEFT JOIN (a JOIN b)``;
* ``limit``/``offset`` count root rows: when a to-many include would multiply
  them, the roots are picked in a derived table that keeps the required
  includes, ``$nested$`` filters and the order on root and to-one columns,
  and the tree is joined to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import FromClause

from .aggregates import aggregate_type, aggregate_value
from .compile_json import JsonCompiler, OneAlias, equal_keys, in_window, order_key
from .config import Config
from .errors import QueryError
from .kinds import json_encoding, server_dialect
from .tree import BoolOp, Condition, Include, Param, Query, Where


@dataclass(frozen=True)
class NodeLayout:
    """Where one model of the tree sits in the flat result."""

    path: tuple[str, ...]
    frame_name: str                 # the key in Result.frames
    model: str
    to_many: bool
    columns: tuple[str, ...]        # column names, in output order (keys first)
    labels: tuple[str, ...]         # their labels in the flat frame
    key_labels: tuple[str, ...]     # labels of the primary key columns
    parent: tuple[str, ...] | None  # parent path, None for the root
    shown: tuple[str, ...] = ()     # the columns records show: the listed attributes, in their order
    junction: bool = False          # a belongs_to_many's junction row (through.attributes), under its target
    hidden: tuple[str, ...] = ()    # columns read only to order a JSON list (SQLite sorts it in Python)
    aggregates: tuple[str, ...] = ()  # the names in ``columns`` that are the node's aggregates

    @property
    def frame_labels(self) -> tuple[str, ...]:
        """The labels frames show: every column read but the hidden ones."""
        hidden = {label_for(self.path, c) for c in self.hidden}
        return tuple(label for label in self.labels if label not in hidden)

    @property
    def records_key(self) -> str:
        return self.path[-1] if self.path else ""


@dataclass(frozen=True)
class Compiled:
    statement: sa.Select
    layout: tuple[NodeLayout, ...]
    query: Query
    strategy: str = "join"

    def node(self, path: tuple[str, ...]) -> NodeLayout:
        return next(n for n in self.layout if n.path == path)

    @property
    def models(self) -> list[str]:
        """Every model the statement reads: the tree's, its junctions', its aggregates' paths'."""
        models = [node.model for node in self.layout]
        for node in (self.query, *self.query.walk()):
            if isinstance(node, Include) and node.association.through:
                models.append(node.association.through)
            for aggregate in node.aggregates:
                for step in aggregate.steps:
                    models += [step.association.target, *([step.association.through] if step.association.through else [])]
        return list(dict.fromkeys(models))

    def column_types(self, config: Config) -> dict[str, Any]:
        """Label -> the SQL type of every column of the statement (see ``column_type``)."""
        return {label: self.column_type(config, node, column)
                for node in self.layout for column, label in zip(node.columns, node.labels)}

    def column_type(self, config: Config, node: NodeLayout, column: str):
        """The SQL type of one of the node's columns, or of its aggregate of that name."""
        if column in node.aggregates:
            return aggregate_type(config, self.query.aggregate(node.path, column))
        return config.column_type(node.model, column)


def label_for(path: tuple[str, ...], column: str) -> str:
    return ".".join((*path, column))


def compile_query(config: Config, query: Query) -> Compiled:
    """The one statement for ``query``: a Select with labelled columns and its layout.

    The strategy is the query's ``strategy``; ``auto`` takes ``json`` when a flat
    join would multiply side-by-side to-many branches, and ``join`` otherwise.
    """
    compiler = _Compiler(config, query)
    if choose_strategy(query, json_unfit(config, query)) == "json":
        return compiler.compile_json()
    return compiler.compile()


def choose_strategy(query: Query, unfit: list[str] = ()) -> str:
    """``join`` or ``json`` for this query (see compile_json for what json can express).

    ``unfit``: the included columns JSON cannot carry exactly (see ``json_unfit``).
    """
    nested_where = bool(_referenced_paths(query.where))
    to_one_order = any(ref.path and not query.node(ref.path).association.to_many for ref, _ in query.order)
    if query.strategy == "json":
        if nested_where or to_one_order:
            raise QueryError("strategy: json keeps each include inside its parent's row, so it cannot apply "
                             "$nested$ filters or order roots by an included to-one column; use strategy: join.")
        if unfit:
            raise QueryError(f"strategy: json cannot carry {', '.join(unfit)} exactly inside JSON (no "
                             "exact JSON form is known for its type); use strategy: join (or auto).")
        return "json"
    # Auto keeps the join whenever json would read differently: $nested$ filters, or roots
    # ordered by an included column (json orders roots by their own columns, lists by theirs),
    # or a column that JSON cannot carry exactly.
    nested_order = any(ref.path for ref, _ in query.order)
    if query.strategy == "auto" and multiplies_siblings(query) and not (nested_where or nested_order or unfit):
        return "json"
    return "join"


def json_unfit(config: Config, query: Query) -> list[str]:
    """Included columns the JSON strategy cannot carry exactly on the server that runs the query."""
    dialect = server_dialect(config.databases[config.models[query.model].database].url.get_backend_name())
    unfit = []
    for include in query.walk():
        table = config.table(include.model)
        pk = config.models[include.model].primary_key
        for column in dict.fromkeys((*pk, *include.attributes)):
            if json_encoding(table.c[column].type, dialect) is None:
                unfit.append(f"{label_for(include.path, column)} ({table.c[column].type!r})")
        for aggregate in include.aggregates:
            if json_encoding(aggregate_type(config, aggregate), dialect) is None:
                unfit.append(f"{label_for(include.path, aggregate.name)} ({aggregate.function} of {aggregate.path})")
        if include.through_attributes:
            junction = config.table(include.association.through)
            for column in dict.fromkeys((*config.models[include.association.through].primary_key,
                                         *include.through_attributes)):
                if json_encoding(junction.c[column].type, dialect) is None:
                    unfit.append(f"{label_for(include.through_path, column)} ({junction.c[column].type!r})")
    return unfit


NO_LIMIT = 2**62  # "all the rows" for an offset without a limit in the root picker
MAX_ALIAS_BYTES = 63  # PostgreSQL keeps 63 bytes of a name (MySQL 64): longer ones would collide


def _alias_name(name: str) -> str:
    """The alias as is when short enough, else a prefix and a digest that keep it unique."""
    if len(name.encode()) <= MAX_ALIAS_BYTES:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[: MAX_ALIAS_BYTES - 10].decode(errors="ignore") + "~" + digest


class _Aliases:
    """One alias per include path (and per junction), created on first use.

    A top-N include (its own limit/offset) is a derived table of its rows numbered per parent
    (see compile_json.JsonCompiler.ranked): of the target for has_many, of the junction for
    belongs_to_many, under the name the plain table would have.
    """

    def __init__(self, compiler: _Compiler):
        self.config = compiler.config
        self.query = compiler.query
        self.compiler = compiler
        self.by_path: dict[tuple, FromClause] = {}

    def node(self, path: tuple[str, ...]) -> FromClause:
        if path in self.compiler.junctions:  # the junction's columns that records show
            return self.junction(self.compiler.junctions[path])
        if path not in self.by_path:
            include = self.query.node(path) if path else None
            model = self.query.model if not path else include.model
            name = _alias_name(model if not path else "->".join(path))
            if include is not None and include.per_parent and include.association.kind != "belongs_to_many":
                self.by_path[path] = self.compiler.ranked(include, name)
            else:
                self.by_path[path] = self.config.table(model).alias(name)
        return self.by_path[path]

    def junction(self, include: Include) -> FromClause:
        key = (*include.path, "->through")
        if key not in self.by_path:
            name = _alias_name("->".join(include.path) + "->" + include.association.through)
            if include.per_parent:
                self.by_path[key] = self.compiler.ranked(include, name)
            else:
                self.by_path[key] = self.config.table(include.association.through).alias(name)
        return self.by_path[key]


class _Compiler:
    def __init__(self, config: Config, query: Query):
        self.config = config
        self.query = query

    # -- aggregates: values of a node's row, in its columns, having and order

    def value(self, alias, path: tuple[str, ...], name: str):
        """A node's column, or its aggregate of that name, for the row of ``alias``."""
        if path in self.junctions:
            return alias.c[name]
        aggregate = self.query.aggregate(path, name)
        if aggregate is None:
            return alias.c[name]
        return aggregate_value(self.config, aggregate, alias,
                               lambda where, target: self._where(where, OneAlias(target), ()))

    @cached_property
    def junctions(self) -> dict[tuple, Include]:
        """The layout paths of the junctions whose columns records show, and their includes."""
        return {inc.through_path: inc for inc in self.query.walk() if inc.through_attributes}

    def having(self, having: Where | None, alias, path: tuple[str, ...]):
        """``having`` of the node at ``path``: its conditions over the row's aggregates."""
        if having is None:
            return None
        return self._where_by(having, lambda ref: self.value(alias, path, ref.column))

    def _root_filter(self, aliases):
        conditions = [c for c in (self._where(self.query.where, aliases, ()),
                                  self.having(self.query.having, aliases.node(()), ())) if c is not None]
        return sa.and_(*conditions) if conditions else None

    def ranked(self, include: Include, name: str) -> sa.Subquery:
        return self._ranker.ranked(include, name)

    @cached_property
    def _ranker(self) -> JsonCompiler:
        """Builds the top-N derived tables (shared with the JSON strategy), one per compile."""
        return JsonCompiler(self, self.config, self.query, self._layout())

    def compile(self) -> Compiled:
        aliases = _Aliases(self)
        root = aliases.node(())
        layout = self._layout()
        start = root
        if self._limits_roots_in_subquery():
            picked = self._root_picker()
            start = root.join(picked, sa.and_(*[picked.c[c.name] == c for c in self._pk_columns(root, ())]))
        from_clause = self._from_clause(aliases, keep=lambda node: True, start=start)
        columns, selected = [], {}
        for n in layout:
            for c, label in zip(n.columns, n.labels):
                columns.append(self.value(aliases.node(n.path), n.path, c).label(label))
                if c in n.aggregates:  # ordered by its label: Spark takes no correlated subquery in ORDER BY
                    selected[(n.path, c)] = columns[-1]
        statement = sa.select(*columns).select_from(from_clause)
        where = self._root_filter(aliases)
        if where is not None:
            statement = statement.where(where)
        statement = statement.order_by(*self._order_by(aliases, layout, selected))
        if not self._limits_roots_in_subquery():
            statement = self._limit(statement)
        return Compiled(statement, layout, self.query)

    def compile_json(self) -> Compiled:
        layout = self._layout(json=True)
        statement = JsonCompiler(self, self.config, self.query, layout).statement()
        return Compiled(statement, layout, self.query, strategy="json")

    # -- layout

    def _layout(self, json: bool = False) -> tuple[NodeLayout, ...]:
        config, query = self.config, self.query
        root_pk = config.models[query.model].primary_key
        nodes = [self._node_layout((), query.model, query.attributes, root_pk, False, None,
                                   aggregates=[a.name for a in query.aggregates])]
        for inc in query.walk():
            pk = config.models[inc.model].primary_key
            # A JSON list may be sorted after reading (SQLite): its order columns come along.
            order = [column for column, _ in query.list_order(inc.path)] if json and inc.association.to_many else []
            nodes.append(self._node_layout(inc.path, inc.model, inc.attributes, pk,
                                           inc.association.to_many, inc.path[:-1], order=order,
                                           aggregates=[a.name for a in inc.aggregates]))
            if inc.through_attributes:  # one junction row per target row: a to-one node below it
                through = inc.association.through
                nodes.append(self._node_layout(inc.through_path, through, inc.through_attributes,
                                               config.models[through].primary_key, False, inc.path,
                                               junction=True))
        return tuple(nodes)

    def _node_layout(self, path, model, attributes, pk, to_many, parent, junction=False, order=(),
                     aggregates=()) -> NodeLayout:
        read = tuple(dict.fromkeys((*pk, *attributes)))
        hidden = tuple(c for c in dict.fromkeys(order) if c not in read and c not in aggregates)
        columns = read + hidden + tuple(aggregates)
        return NodeLayout(
            path=path,
            frame_name=".".join(path) if path else model,
            model=model,
            to_many=to_many,
            columns=columns,
            labels=tuple(label_for(path, c) for c in columns),
            key_labels=tuple(label_for(path, c) for c in pk),
            parent=parent,
            shown=(*attributes, *aggregates),  # aggregates are attributes of their node
            junction=junction,
            hidden=hidden,
            aggregates=tuple(aggregates),
        )

    # -- joins

    def _from_clause(self, aliases: _Aliases, keep, start: FromClause | None = None) -> FromClause:
        from_clause: FromClause = aliases.node(()) if start is None else start
        for include in self.query.includes:
            if keep(include):
                from_clause = self._attach(from_clause, include, aliases, keep)
        return from_clause

    def _attach(self, left: FromClause, include: Include, aliases: _Aliases, keep) -> FromClause:
        """Join one include (with its kept descendants) onto ``left``."""
        head, on, steps = self._unit(include, aliases, keep)
        if include.required or all(not inner for inner, _, _ in steps):
            joined = left.join(head, on, isouter=not include.required)
            for inner, right, condition in steps:
                joined = joined.join(right, condition, isouter=not inner)
            return joined
        nested = head  # an optional branch with inner joins inside: LEFT JOIN (a JOIN b ...)
        for inner, right, condition in steps:
            nested = nested.join(right, condition, isouter=not inner)
        return left.join(nested, on, isouter=True)

    def _unit(self, include: Include, aliases: _Aliases, keep):
        """(head table, ON clause linking it to the parent, [(inner?, table, ON), ...])."""
        assoc = include.association
        parent = aliases.node(include.path[:-1])
        target = aliases.node(include.path)
        filters = [f for f in (self._where(include.scope, aliases, include.path),
                               self._where(include.where, aliases, include.path),
                               self.having(include.having, target, include.path)) if f is not None]
        if assoc.kind == "belongs_to_many":
            junction = aliases.junction(include)
            head = junction
            # A ranked junction holds only the rows that passed every filter, numbered per parent.
            kept = in_window(junction, include) if include.per_parent else \
                self._where(include.through_where, OneAlias(junction), ())
            on = sa.and_(equal_keys(parent, assoc.source_key, junction, assoc.foreign_key),
                         *([kept] if kept is not None else []))
            steps = [(True, target, sa.and_(equal_keys(junction, assoc.other_key, target, assoc.target_key), *filters))]
        else:
            head = target
            if assoc.kind == "belongs_to":
                link = equal_keys(parent, assoc.foreign_key, target, assoc.target_key)
            else:
                link = equal_keys(parent, assoc.source_key, target, assoc.foreign_key)
            on = sa.and_(link, in_window(target, include)) if include.per_parent else sa.and_(link, *filters)
            steps = []
        for child in include.includes:
            if keep(child):
                steps.extend(self._child_steps(target, child, aliases, keep))
        return head, on, steps

    def _child_steps(self, target, child: Include, aliases: _Aliases, keep):
        head, on, steps = self._unit(child, aliases, keep)
        if child.required or all(not inner for inner, _, _ in steps):
            return [(child.required, head, on), *steps]
        nested = head
        for inner, right, condition in steps:
            nested = nested.join(right, condition, isouter=not inner)
        return [(False, nested, on)]

    # -- limit on roots

    def _limits_roots_in_subquery(self) -> bool:
        # offset: 0 limits nothing; every picker then carries a LIMIT (MariaDB 10.11 mis-joins a
        # GROUP BY derived table that has none, next to a nested join).
        has_limit = self.query.limit is not None or bool(self.query.offset)
        return has_limit and any(n.association.to_many for n in self.query.walk())

    def _root_picker(self) -> sa.Subquery:
        """A derived table of the root keys that the limit/offset selects."""
        aliases = _Aliases(self)
        # Order items a root has one value for (its columns, to-one includes) decide which roots count.
        order = [(ref, desc) for ref, desc in self.query.order if self._to_one(ref.path)]
        filtering = self._filtering_paths(_referenced_paths(self.query.where) | {ref.path for ref, _ in order})
        from_clause = self._from_clause(aliases, keep=lambda node: node.path in filtering)
        pk = self._pk_columns(aliases.node(()), ())
        order_columns = [self.value(aliases.node(ref.path), ref.path, ref.column) for ref, _ in order]
        labels = [column.label(f"order_{i}") for i, column in enumerate(order_columns)]
        picker = sa.select(*pk, *labels).select_from(from_clause)
        where = self._root_filter(aliases)
        if where is not None:
            picker = picker.where(where)
        keys = self.config.models[self.query.model].primary_key
        if any(self.query.node(p).association.to_many for p in filtering):
            # GROUP BY, not DISTINCT: MariaDB drops the OFFSET of a DISTINCT it can prove constant.
            picker = picker.group_by(*pk, *[column for (ref, _), column in zip(order, order_columns)
                                            if ref.path or ref.column not in keys])
        ordered = {ref.column for ref, _ in order if not ref.path}
        picker = picker.order_by(*[label.desc() if desc else label.asc()
                                   for label, (_, desc) in zip(labels, order)],
                                 *[column for column, key in zip(pk, keys) if key not in ordered])
        # An offset alone needs a limit in MySQL; MariaDB overflows on offset + 2**64-1 (SQLAlchemy's).
        return self._limit(picker, no_limit=NO_LIMIT).subquery("picked")

    def _to_one(self, path: tuple[str, ...]) -> bool:
        return not any(self.query.node(path[:i]).association.to_many for i in range(1, len(path) + 1))

    def _filtering_paths(self, referenced: set[tuple]) -> set[tuple]:
        """Includes that decide which roots exist: required chains from the root, and $nested$ paths."""
        kept: set[tuple] = set()

        def visit(includes):
            for node in includes:
                on_reference = any(r[: len(node.path)] == node.path for r in referenced)
                if node.required or on_reference:
                    kept.add(node.path)
                    visit(node.includes)

        visit(self.query.includes)
        return kept

    def _pk_columns(self, alias, path) -> list[sa.Column]:
        model = self.query.model if not path else self.query.node(path).model
        return [alias.c[c] for c in self.config.models[model].primary_key]

    def _limit(self, statement: sa.Select, no_limit: int | None = None) -> sa.Select:
        limit = self.query.limit if self.query.limit is not None or not self.query.offset else no_limit
        if limit is not None:
            statement = statement.limit(limit)
        if self.query.offset:
            statement = statement.offset(self.query.offset)
        return statement

    # -- order

    def _order_by(self, aliases: _Aliases, layout, selected: dict) -> list:
        clauses = [order_key(selected[(ref.path, ref.column)] if (ref.path, ref.column) in selected
                              else aliases.node(ref.path).c[ref.column], desc)
                   for ref, desc in self.query.order]
        # Tie-breakers make the row order (and so every list in records) deterministic; a key
        # column the query already orders by is not repeated.
        ordered = self._ordered()
        for node in layout:
            if node.path and node.to_many:  # each list in its include's own order, then by key
                own = self.query.node(node.path).order
                clauses.extend(order_key(aliases.node(node.path).c[c], desc) for c, desc in own
                               if (node.path, c) not in ordered)
                ordered |= {(node.path, c) for c, _ in own}
            if not node.path or node.to_many:
                clauses.extend(aliases.node(node.path).c[c] for c in node.columns[: len(node.key_labels)]
                               if (node.path, c) not in ordered)
        return clauses

    def _ordered(self) -> set[tuple[tuple[str, ...], str]]:
        """(path, column) of every item of the query's order."""
        return {(ref.path, ref.column) for ref, _ in self.query.order}

    # -- where

    def _where(self, where: Where | None, aliases: _Aliases, base: tuple[str, ...]):
        return self._where_by(where, lambda ref: aliases.node((*base, *ref.path)).c[ref.column])

    def _where_by(self, where: Where | None, column_of):
        """The SQL condition of a where tree; ``column_of(ColumnRef)`` gives each column's expression."""
        if where is None:
            return None
        if isinstance(where, BoolOp):
            parts = [self._where_by(item, column_of) for item in where.items]
            if where.op == "not":
                return sa.not_(parts[0])
            return sa.and_(*parts) if where.op == "and" else sa.or_(*parts)
        return _condition(column_of(where.column), where)


def _condition(column, cond: Condition):
    op, value = cond.op, _bind(cond.value, cond.op)
    if op == "eq":
        return column.is_(None) if value is None else column == value
    if op == "ne":
        return column.is_not(None) if value is None else column != value
    if op == "is":
        return column.is_(_constant(value))
    if op == "not":
        return column.is_not(_constant(value)) if _is_constant(value) else column != value
    if op in ("between", "not_between"):
        clause = column.between(*value)
        return sa.not_(clause) if op == "not_between" else clause
    return getattr(column, _METHODS[op])(value)


_METHODS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__", "like": "like",
            "not_like": "not_like", "ilike": "ilike", "not_ilike": "not_ilike", "in": "in_",
            "not_in": "not_in"}


def _is_constant(value) -> bool:
    return value is None or isinstance(value, bool)  # 1 == True in Python, but 1 is not TRUE


def _constant(value):
    if not _is_constant(value):
        return value
    return sa.null() if value is None else sa.true() if value else sa.false()


def _bind(value: Any, op: str) -> Any:
    if isinstance(value, Param):
        return sa.bindparam(value.name, expanding=op in ("in", "not_in"))
    if isinstance(value, tuple):
        return [_bind(v, "eq") for v in value]
    return value


def multiplies_siblings(query: Query) -> bool:
    """True when some node has two or more child branches that each hold a to-many include."""

    def has_to_many(node: Include) -> bool:
        return node.association.to_many or any(has_to_many(c) for c in node.includes)

    def check(includes) -> bool:
        return sum(has_to_many(n) for n in includes) >= 2 or any(check(n.includes) for n in includes)

    return check(query.includes)


def _referenced_paths(where: Where | None) -> set[tuple]:
    if isinstance(where, BoolOp):
        return set().union(*(_referenced_paths(w) for w in where.items))
    if isinstance(where, Condition):
        return {where.column.path} if where.column.path else set()
    return set()
