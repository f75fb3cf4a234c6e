"""Aggregates per row of a node, inside the one statement: a correlated subquery each.

``loan_count: {count: loans}`` on Member becomes, in the member's row,

    (SELECT count(*) FROM lending.loans AS "~loan_count0"
     WHERE "~loan_count0".member_id = "Member".id AND "~loan_count0".deleted_at IS NULL)

A path several associations deep joins them inside the subquery (junctions too),
with each association's scope and soft deletes; the aggregate's own ``where``
filters the last model. A correlated subquery is one value per parent row
whatever else the statement joins, so siblings never multiply it, and ``count``
over no rows is 0. The same expression serves the join strategy's columns, the
JSON strategy's objects, ``having`` and ``order``.

What each function gives (the same on every server and engine):

* ``count``, ``count_distinct``: an integer;
* ``min``, ``max``: a value of the column, as the column reads;
* ``sum``: integers sum to an integer (MySQL's DECIMAL sum is read back as one),
  decimals to a decimal (on SQLite, which keeps them as REAL, to the double it
  computes), floats to a float;
* ``avg``: a double, ``CAST(SUM AS DOUBLE) / COUNT``: an exact decimal mean has no fixed
  scale, and each server would pick its own (MariaDB 4 digits, PostgreSQL 16).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .compile_json import equal_keys
from .config import Config
from .kinds import IntegralSum, kind_of
from .tree import Aggregate, Where

WhereFn = Callable[[Where | None, object], object]  # (where, alias) -> SQL condition or None


def aggregate_type(config: Config, aggregate: Aggregate):
    """The SQL type the aggregate's value reads as."""
    if aggregate.function in ("count", "count_distinct"):
        return sa.BigInteger()
    if aggregate.function == "avg":
        return sa.Float()
    column_type = config.column_type(aggregate.model, aggregate.column)
    if aggregate.function == "sum" and kind_of(column_type) in ("int", "uint64"):
        return IntegralSum()
    if aggregate.function == "sum" and kind_of(column_type) == "decimal" and \
            config.backend(config.models[aggregate.model].database).name == "sqlite":
        return sa.Float()  # SQLite keeps decimals as REAL and adds them as doubles: say so, claim no digits
    return column_type


def aggregate_value(config: Config, aggregate: Aggregate, parent, where: WhereFn):
    """The aggregate of one row of ``parent`` (an alias of the node's table), a scalar subquery."""
    from_clause, link, last, conditions = None, None, parent, []
    for index, step in enumerate(aggregate.steps):
        assoc = step.association
        target = config.table(assoc.target).alias(f"~{aggregate.name}{index}")
        if assoc.kind == "belongs_to_many":
            junction = config.table(assoc.through).alias(f"~{aggregate.name}{index}~links")
            joined_on = equal_keys(last, assoc.source_key, junction, assoc.foreign_key)
            right = junction.join(target, equal_keys(junction, assoc.other_key, target, assoc.target_key))
            conditions.append(where(step.junction, junction))
        elif assoc.kind == "belongs_to":
            joined_on, right = equal_keys(last, assoc.foreign_key, target, assoc.target_key), target
        else:
            joined_on, right = equal_keys(last, assoc.source_key, target, assoc.foreign_key), target
        if from_clause is None:  # the first step is linked to the parent row: the correlation
            from_clause, link = right, joined_on
        else:
            from_clause = from_clause.join(right, joined_on)
        conditions.append(where(step.scope, target))
        last = target
    conditions.append(where(aggregate.where, last))
    value, value_type = _function(aggregate, last), aggregate_type(config, aggregate)
    if isinstance(value_type, sa.Float) and aggregate.function == "sum":
        value = as_double(value)  # SQLite's sum of integer-valued REALs would be an integer
    query = sa.select(value).select_from(from_clause).where(link, *[c for c in conditions if c is not None])
    return sa.type_coerce(query.scalar_subquery(), value_type)


def _function(aggregate: Aggregate, alias):
    column = alias.c[aggregate.column] if aggregate.column else None
    function = aggregate.function
    if function == "count":
        return sa.func.count() if column is None else sa.func.count(column)
    if function == "count_distinct":
        return sa.func.count(sa.distinct(column))
    if function == "avg":  # in double precision on every server (see the module docstring)
        return as_double(sa.func.sum(column)) / sa.func.nullif(sa.func.count(column), 0)
    return getattr(sa.func, function)(column)


class as_double(FunctionElement):
    """A number as a double: ``CAST(x AS DOUBLE)``, spelled as each server takes it."""

    inherit_cache = True
    type = sa.Float()


@compiles(as_double)
def _double(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DOUBLE)"


@compiles(as_double, "postgresql")
def _double_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DOUBLE PRECISION)"


@compiles(as_double, "sqlite")
def _double_sqlite(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS REAL)"


@compiles(as_double, "mysql")
def _double_mysql(element, compiler, **kw):  # a DOUBLE literal makes the product a double (CAST AS DOUBLE: 10.4+)
    return f"({compiler.process(element.clauses, **kw)} * 1e0)"
