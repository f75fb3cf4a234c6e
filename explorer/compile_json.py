"""The JSON strategy: ONE statement that returns one row per root, each include as JSON.

A flat join repeats every parent once per child, and side-by-side to-many
includes multiply each other (users x orders x reviews). Here each include
is a correlated subquery that aggregates its rows into a JSON array (to-many)
or object (to-one) per parent, nested to any depth:

    SELECT "User".id, "User".name,
           (SELECT JSON_ARRAYAGG(JSON_OBJECT('id', orders.id, ...)) FROM ... ) AS orders,
           (SELECT JSON_ARRAYAGG(JSON_OBJECT('id', reviews.id, ...)) FROM ...) AS reviews
    FROM users AS "User"

so the wire carries each root once and each child once. The JSON functions are
dialect-neutral SQLAlchemy elements rendered per dialect below (MySQL/MariaDB
``JSON_ARRAYAGG``/``JSON_OBJECT``, PostgreSQL ``json_agg``/``json_build_object``,
SQLite ``json_group_array``/``json_object``), so ``to_sql(dialect=...)`` still
works. Required includes become ``EXISTS`` filters on their parent, which is
Sequelize's semantics for required-below-optional too.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from .config import Config
from .kinds import CHUNK, json_encoding
from .tree import Include, Query


class json_object(FunctionElement):
    """A JSON object from alternating key, value arguments."""

    inherit_cache = True
    type = sa.JSON()


class json_array_agg(FunctionElement):
    """Aggregate JSON values into one JSON array (NULL over no rows): ``json_array_agg(value,
    *order)`` orders the items inside the aggregate, by the server's own collation and NULL
    rules, so lists come in the order the join strategy's ORDER BY gives them."""

    inherit_cache = True
    type = sa.JSON()


class json_nested(FunctionElement):
    """A JSON value produced by a subquery, kept as JSON (not a string) inside a parent object."""

    inherit_cache = True
    type = sa.JSON()


class json_key(sa.sql.expression.ColumnElement):
    """A JSON object key: a column or association name from the config (never a user value),
    written as a string literal with the dialect's own escaping (MySQL escapes backslashes)."""

    inherit_cache = True
    type = sa.String()
    _traverse_internals = [("name", InternalTraversal.dp_string)]  # the name is part of the cache key

    def __init__(self, name: str):
        self.name = name


@compiles(json_key)
def _render_key(element, compiler, **kw):
    return compiler.render_literal_value(element.name, sa.String())


class json_exact(FunctionElement):
    """A column inside a JSON object, encoded so that it comes back exactly (see kinds.json_encoding)."""

    inherit_cache = True
    type = sa.JSON()


class json_text(FunctionElement):
    """The top-level JSON of an include, sent as text so every driver decodes it the same way."""

    inherit_cache = True
    type = sa.Text()


# How each element reads per dialect (None: every other dialect); {} is the argument list.
TEMPLATES = {
    json_object: {None: "JSON_OBJECT({})", "postgresql": "json_build_object({})", "sqlite": "json_object({})"},
    # SQLite forgets that a subquery's value is JSON; json() restores it.
    json_nested: {None: "{}", "sqlite": "json({})"},
    # psycopg would parse json itself, with floats; as text, decimals survive.
    json_text: {None: "{}", "postgresql": "CAST({} AS TEXT)"},
}


def _register(element, dialect: str | None, template: str) -> None:
    def render(clause, compiler, **kw):
        return template.format(compiler.process(clause.clauses, **kw))

    compiles(element, *([dialect] if dialect else []))(render)


# The aggregate with its ORDER BY; SQLite before 3.44 has none (unnest sorts by SQLite's rules).
# MariaDB cuts a JSON_ARRAYAGG at max_allowed_packet with only a warning: the row count sent
# beside it lets the reader tell a cut list from a whole one (unnest.COUNTED).
AGGREGATES = {None: "JSON_ARRAY(COUNT(*), JSON_ARRAYAGG({value}{order}))", "postgresql": "json_agg({value}{order})",
              "sqlite": "json_group_array({value})"}


def _register_aggregate(dialect: str | None, template: str) -> None:
    def render(clause, compiler, **kw):
        value, *order = list(clause.clauses)
        order_sql = ", ".join(compiler.process(item, **kw) for item in order)
        return template.format(value=compiler.process(value, **kw),
                               order=f" ORDER BY {order_sql}" if order_sql else "")

    compiles(json_array_agg, *([dialect] if dialect else []))(render)


for _dialect, _template in AGGREGATES.items():
    _register_aggregate(_dialect, _template)

for _element, _templates in TEMPLATES.items():
    for _dialect, _template in _templates.items():
        _register(_element, _dialect, _template)

# json_exact per encoding and dialect (None: MySQL/MariaDB and every other dialect).
ENCODINGS = {
    None: {"plain": "{}", "text": "CAST({} AS CHAR)", "hex": "HEX(CAST({} AS BINARY))"},
    "postgresql": {"plain": "{}", "text": "CAST({} AS TEXT)", "output": "{}"},
    # SQLite's json_object() writes reals with 15 digits and refuses blobs: tag both.
    # Its printf is exact to 17 digits only below about 1e100: larger reals are tagged 'R', which
    # the reader refuses (decode._untag) rather than return a neighbouring number.
    "sqlite": {"tagged": "CASE typeof({0}) WHEN 'real' THEN json_array(CASE WHEN abs({0}) < 1e100 "
                         "THEN 'r' ELSE 'R' END, printf('%!.17g', {0})) "
                         "WHEN 'blob' THEN json_array('b', hex({0})) ELSE {0} END"},
}


def _register_exact(dialect: str | None, templates: dict[str, str]) -> None:
    def render(clause, compiler, **kw):
        column = next(iter(clause.clauses))
        encoding = json_encoding(column.type, dialect or "mysql")
        if encoding not in templates:
            raise sa.exc.CompileError(f"the JSON strategy cannot carry column {column.name!r} "
                                      f"({column.type}) exactly on {compiler.dialect.name}")
        return templates[encoding].format(compiler.process(column, **kw))

    compiles(json_exact, *([dialect] if dialect else []))(render)


for _dialect, _templates in ENCODINGS.items():
    _register_exact(_dialect, _templates)

def equal_keys(left, left_keys, right, right_keys):
    """``left.a = right.b AND ...`` for an association's key columns, pairwise."""
    return sa.and_(*[left.c[a] == right.c[b] for a, b in zip(left_keys, right_keys)])


RANK = "~rank"  # a top-N include's row number within its parent (see JsonCompiler.ranked)


def in_window(ranked, include: Include):
    """The rows a top-N include keeps of each parent's: ``offset < rank <= offset + limit``."""
    offset = include.offset or 0
    rank = ranked.c[RANK]
    kept = [rank > sa.bindparam("rank_after", offset, unique=True)]
    if include.limit is not None:
        kept.append(rank <= sa.bindparam("rank_upto", offset + include.limit, unique=True))
    return sa.and_(*kept)


# PostgreSQL's json_build_object and SQLite's json_object take at most 100 arguments.
MAX_PAIRS = 40


class JsonCompiler:
    """Builds the JSON-strategy statement; shares layout, where and order logic with the join compiler."""

    def __init__(self, base, config: Config, query: Query, layout):
        self.base = base  # the join compiler (compile._Compiler): its _where and _limit are reused
        self.config = config
        self.query = query
        self.columns = {node.path: node.columns for node in layout}
        self.root_layout = layout[0]
        self._names: dict[str, int] = {}

    def alias(self, model: str, name: str):
        count = self._names.get(name, 0)
        self._names[name] = count + 1
        return self.config.table(model).alias(name if not count else f"{name}~{count}")

    def statement(self) -> sa.Select:
        root = self.alias(self.query.model, self.query.model)
        node = self.root_layout
        columns = [self.base.value(root, (), c).label(label) for c, label in zip(node.columns, node.labels)]
        columns += [json_text(self.include_value(inc, root)).label(inc.name) for inc in self.query.includes]
        statement = sa.select(*columns).select_from(root)
        conditions = [self.where(self.query.where, root), self.base.having(self.query.having, root, ())]
        conditions += [self.exists(inc, root) for inc in self.query.includes if inc.required]
        conditions = [c for c in conditions if c is not None]
        if conditions:
            statement = statement.where(*conditions)
        labelled = {c: column for c, column in zip(node.columns, columns) if c in node.aggregates}
        order = [order_key(labelled[ref.column] if ref.column in labelled else root.c[ref.column], desc)
                 for ref, desc in self.query.order if not ref.path]  # aggregates by label, as in compile
        ordered = {ref.column for ref, _ in self.query.order if not ref.path}
        statement = statement.order_by(*order, *[root.c[c] for c in node.columns[: len(node.key_labels)]
                                                 if c not in ordered])
        return self.base._limit(statement)

    def where(self, where, alias):
        if where is None:
            return None
        aliases = OneAlias(alias)
        return self.base._where(where, aliases, ())

    def source(self, include: Include, parent, suffix: str = ""):
        """(FROM clause, target alias, junction alias or None, conditions linking it to ``parent``
        and filtering it)."""
        assoc = include.association
        name = "->".join(include.path) + suffix
        if include.per_parent:
            return self.ranked_source(include, parent, name)
        target = self.alias(include.model, name)
        junction = None
        if assoc.kind == "belongs_to_many":
            junction = self.alias(assoc.through, f"{name}->{assoc.through}")
            from_clause = junction.join(target, equal_keys(junction, assoc.other_key, target, assoc.target_key))
            link = sa.and_(equal_keys(parent, assoc.source_key, junction, assoc.foreign_key),
                           *[c for c in [self.where(include.through_where, junction)] if c is not None])
        elif assoc.kind == "belongs_to":
            from_clause, link = target, equal_keys(parent, assoc.foreign_key, target, assoc.target_key)
        else:
            from_clause, link = target, equal_keys(parent, assoc.source_key, target, assoc.foreign_key)
        conditions = [link, self.where(include.scope, target), self.where(include.where, target),
                      self.base.having(include.having, target, include.path)]
        conditions += [self.exists(child, target) for child in include.includes if child.required]
        return from_clause, target, junction, [c for c in conditions if c is not None]

    def ranked(self, include: Include, name: str) -> sa.Subquery:
        """A top-N include's rows with their number within each parent, as a derived table:

            SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.<foreign key> ORDER BY <own order>, <key>)
            FROM t WHERE <scope, where, paranoid, required children>

        (for belongs_to_many the junction's rows, numbered by the target's order). The rows
        numbered are exactly those the include would show, so the window keeps N of them.
        It is uncorrelated, so MariaDB, which allows no outer reference in a derived table,
        runs it too; the parent joins it on the foreign key and the rank.
        """
        assoc = include.association
        inner = "->".join(include.path)  # the derived table's own scope: names need not differ outside
        target = self.alias(include.model, f"{inner}~rows")
        conditions = [self.where(include.scope, target), self.where(include.where, target),
                      self.base.having(include.having, target, include.path)]
        conditions += [self.exists(child, target) for child in include.includes if child.required]
        if assoc.kind == "belongs_to_many":
            junction = self.alias(assoc.through, f"{inner}~links")
            from_clause = junction.join(target, equal_keys(junction, assoc.other_key, target, assoc.target_key))
            conditions.append(self.where(include.through_where, junction))
            kept, partition = junction, [junction.c[c] for c in assoc.foreign_key]
        else:
            from_clause, kept, partition = target, target, [target.c[c] for c in assoc.foreign_key]
        order = self.order_within(include, target, own_only=True)
        rank = sa.func.row_number().over(partition_by=partition, order_by=order).label(RANK)
        rows = sa.select(*kept.c, rank).select_from(from_clause)
        return rows.where(*[c for c in conditions if c is not None]).subquery(name)

    def ranked_source(self, include: Include, parent, name: str):
        """``source`` of a top-N include: its ranked rows, the parent's N of them."""
        assoc = include.association
        ranked = self.ranked(include, f"{name}~ranked")
        conditions = [equal_keys(parent, assoc.source_key, ranked, assoc.foreign_key), in_window(ranked, include)]
        if assoc.kind != "belongs_to_many":
            return ranked, ranked, None, conditions
        target = self.alias(include.model, name)
        from_clause = ranked.join(target, equal_keys(ranked, assoc.other_key, target, assoc.target_key))
        return from_clause, target, ranked, conditions

    def exists(self, include: Include, parent):
        from_clause, _, _, conditions = self.source(include, parent, suffix="?")
        return sa.exists().select_from(from_clause).where(*conditions)

    def order_within(self, include: Include, target, own_only: bool = False) -> list:
        """The join strategy's order within a parent: the query's order on this path and the
        include's own order (``own_only``: that alone, as the top-N window counts), then the key."""
        own = list(include.order) if own_only else self.query.list_order(include.path)
        keys = self.config.models[include.model].primary_key
        ordered = {column for column, _ in own}
        return [order_key(self.base.value(target, include.path, column), desc) for column, desc in own] + \
            [target.c[column].asc() for column in keys if column not in ordered]

    def include_value(self, include: Include, parent):
        from_clause, target, junction, conditions = self.source(include, parent)
        pairs = [(column, json_exact(self.base.value(target, include.path, column)))
                 for column in self.columns[include.path]]
        if include.through_attributes:  # the junction row as an object under its model's name
            through = [(column, json_exact(junction.c[column])) for column in self.columns[include.through_path]]
            pairs.append((include.association.through, _object(through)))
        pairs += [(child.name, json_nested(self.include_value(child, target))) for child in include.includes]
        value = _object(pairs)
        # To-one includes are arrays too: several matching rows are an error when read (unnest),
        # never one of them picked silently.
        query = sa.select(json_array_agg(value, *self.order_within(include, target)))
        query = query.select_from(from_clause).where(*conditions)
        return query.scalar_subquery()


def _object(pairs: list[tuple[str, object]]):
    """JSON_OBJECT of (key, value) pairs; a wide one as an object of chunks (see unnest.unchunk)."""
    if len(pairs) > MAX_PAIRS:
        chunks = [pairs[i:i + MAX_PAIRS] for i in range(0, len(pairs), MAX_PAIRS)]
        return _object([(f"{CHUNK}{i}", _object(chunk)) for i, chunk in enumerate(chunks)])
    arguments = []
    for key, value in pairs:
        arguments += [json_key(key), value]
    return json_object(*arguments)


def order_key(column, desc: bool):
    return column.desc() if desc else column.asc()


class OneAlias:
    """Stands in for the join compiler's alias registry: every path is the one alias."""

    def __init__(self, alias):
        self.alias = alias

    def node(self, path):
        return self.alias
