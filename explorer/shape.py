"""Shape the flat rows of the one statement into DataFrames and nested records.

``Result.frame`` is one row per joined row; ``Result.frames`` one frame per
model path, deduplicated by primary key; ``Result.records`` nested dicts as
Sequelize's ``toJSON()`` gives them. Columns are built column-wise with pandas
(nullable integer dtypes keep integers integer under LEFT JOIN nulls).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from .compile import Compiled, NodeLayout
from .config import Config
from .execute import Execution, Statement
from .unnest import json_node_tables, key_chains, node_columns, transpose


class Result(Statement):
    """The answer to one include query: the statement, its parameters and the data.

    >>> result = explorer.run("shop.yaml", {"from": "User", "include": ["orders"]})  # doctest: +SKIP
    >>> result.records[0]["orders"]                                                  # doctest: +SKIP
    """

    def __init__(self, config: Config, compiled: Compiled, execution: Execution, values: dict[str, Any]):
        super().__init__(config, compiled, values)
        self.execution = execution

    @property
    def sql(self) -> str:
        """The statement exactly as the server received it, with placeholders."""
        return self.execution.sql

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.execution.params)

    @property
    def dialect(self) -> str:
        return self.execution.dialect

    @property
    def elapsed(self) -> float:
        return self.execution.elapsed

    @property
    def databases(self) -> list[str]:
        return list(self.execution.databases)

    @property
    def statements(self) -> int:
        return self.execution.statements

    # -- the data

    @property
    def row_count(self) -> int:
        return self.execution.row_count

    @property
    def root_count(self) -> int:
        return len(self.frames[self.compiled.layout[0].frame_name])

    @property
    def strategy(self) -> str:
        return self.compiled.strategy

    @cached_property
    def frame(self) -> pd.DataFrame:
        """One row per joined row; columns named by path (``id``, ``orders.products.name``)."""
        if self.strategy == "json":
            return join_tables(self._node_tables, self.compiled.layout)
        return build_frame(self.config, self.compiled, self.execution)

    @cached_property
    def _node_tables(self) -> dict[tuple, pd.DataFrame]:
        """Per include path: the key chain of its ancestors and its own columns, deduplicated."""
        if self.strategy == "json":
            types = column_types(self.config, self.compiled)
            return json_node_tables(self.compiled, self.execution.labels, self.execution.rows,
                                    lambda label, values: typed_array(values, types.get(label)))
        return node_tables(self.frame, self.compiled.layout)

    @cached_property
    def frames(self) -> dict[str, pd.DataFrame]:
        """One frame per model path, deduplicated by key; child frames carry the parent's key."""
        layout = {n.path: n for n in self.compiled.layout}
        frames = {}
        for node in self.compiled.layout:
            parent = layout.get(node.parent) if node.parent is not None else None
            frames[node.frame_name] = node_frame(self._node_tables[node.path], node, parent)
        return frames

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """Nested dicts: lists for to-many includes, a dict or None for to-one."""
        return build_records(self._node_tables, self.compiled.layout)

    def __repr__(self) -> str:
        return (f"<Result {self.query.model}: {self.root_count} root rows, {self.row_count} joined rows, "
                f"{self.statements} statement, {self.elapsed * 1000:.0f} ms, "
                f"databases {', '.join(self.databases)}>")

    def _repr_html_(self) -> str:
        from .display import result_html

        return result_html(self)


# frame


def build_frame(config: Config, compiled: Compiled, execution: Execution) -> pd.DataFrame:
    labels = execution.labels
    if compiled.strategy == "join":
        # The columns come back in layout order; the server may truncate long labels
        # (PostgreSQL keeps 63 bytes), so the names are taken from the layout.
        labels = [label for node in compiled.layout for label in node.labels]
    types = column_types(config, compiled)
    if execution.arrow is not None:
        data = {label: arrow_array(column, types.get(label))
                for label, column in zip(labels, execution.arrow.columns)}
        return pd.DataFrame(data, columns=labels)
    columns = transpose(execution.rows, len(labels))
    data = {label: typed_array(values, types.get(label)) for label, values in zip(labels, columns)}
    return pd.DataFrame(data, columns=labels)


def arrow_array(column, sql_type) -> Any:
    """A pandas array from an Arrow column, with the same dtypes the driver path gives."""
    import pyarrow as pa

    kind = _kind_of(sql_type)
    if kind == "decimal" and pa.types.is_decimal(column.type) and getattr(sql_type, "scale", None) is not None:
        column = column.cast(pa.decimal128(38, sql_type.scale))  # connectorx widens DECIMAL to scale 10
    if kind == "int" or pa.types.is_integer(column.type):
        return pd.array(column.to_pandas(types_mapper={column.type: pd.Int64Dtype()}.get), dtype="Int64")
    if kind == "bool":
        return pd.array(column.to_pandas(), dtype="boolean")
    if kind == "float":
        return pd.array(column.to_pandas(), dtype="Float64")
    if kind == "datetime":
        return pd.array(column.to_pandas().astype(DATETIME_DTYPE))
    values = column.to_pandas()
    if values.dtype == object:
        values = values.where(values.notna(), None)
    return values.array


def column_types(config: Config, compiled: Compiled) -> dict[str, Any]:
    types = {}
    for node in compiled.layout:
        table = config.table(node.model)
        for column, label in zip(node.columns, node.labels):
            types[label] = table.c[column].type
    return types


DATETIME_DTYPE = "datetime64[us]"  # the databases' own precision, whichever reader brought the values


def typed_array(values, sql_type) -> Any:
    """A pandas array for one column, typed by the column's SQL type where it is known."""
    kind = _kind_of(sql_type)
    if kind == "unknown":
        kind = _infer_kind(values)
    if kind == "int":
        return pd.array(values, dtype="Int64")
    if kind == "bool":
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    if kind == "float":
        return pd.array(values, dtype="Float64")
    if kind == "decimal":
        return pd.array(_decimals(values, getattr(sql_type, "scale", None)), dtype=object)
    if kind == "datetime":
        return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").astype(DATETIME_DTYPE).array
    if kind == "date":
        return pd.array([dt.date.fromisoformat(v) if isinstance(v, str) else v for v in values], dtype=object)
    return pd.Series(values, dtype=object).infer_objects().array if len(values) else pd.array([], dtype=object)


def _decimals(values, scale: int | None) -> list:
    """Decimals as the server declared them; SQLite stores NUMERIC as REAL and loses the scale."""
    sample = [v for v in values[:1000] if v is not None][:100]
    if all(isinstance(v, decimal.Decimal) for v in sample):
        return list(values)  # the driver already gave Decimals with the column's scale
    quantum = decimal.Decimal(1).scaleb(-scale) if scale else None
    result = []
    for v in values:
        if v is not None:
            v = v if isinstance(v, decimal.Decimal) else decimal.Decimal(str(v))
            v = v.quantize(quantum) if quantum is not None else v
        result.append(v)
    return result


def _kind_of(sql_type) -> str:
    if sql_type is None or isinstance(sql_type, sa.types.NullType):
        return "unknown"
    if isinstance(sql_type, sa.Boolean):
        return "bool"
    if isinstance(sql_type, sa.Integer):
        return "int"
    if isinstance(sql_type, sa.Float):
        return "float"
    if isinstance(sql_type, sa.Numeric):
        return "decimal"
    if isinstance(sql_type, sa.DateTime):
        return "datetime"
    if isinstance(sql_type, sa.Date):
        return "date"
    return "other"


def _infer_kind(values: tuple) -> str:
    sample = [v for v in values if v is not None][:1000]
    if sample and all(isinstance(v, int) and not isinstance(v, bool) for v in sample):
        return "int"
    if sample and all(isinstance(v, decimal.Decimal) for v in sample):
        return "decimal"
    return "other"


# ---------------------------------------------------------------------------
# frames and records


def node_tables(frame: pd.DataFrame, layout: tuple[NodeLayout, ...]) -> dict[tuple, pd.DataFrame]:
    """The join strategy's node tables: each path's rows of the flat frame, deduplicated by key chain."""
    chains = key_chains(layout)
    tables = {}
    for node in layout:
        chain = chains[node.path]
        part = frame[node_columns(node, chain)]
        part = part[part[list(node.key_labels)].notna().all(axis=1)].drop_duplicates(subset=chain)
        tables[node.path] = part
    return tables


def join_tables(tables: dict[tuple, pd.DataFrame], layout: tuple[NodeLayout, ...]) -> pd.DataFrame:
    """The flat frame rebuilt from node tables (LEFT JOIN semantics), for the JSON strategy."""
    chains = key_chains(layout)
    flat = tables[()]
    for node in layout[1:]:
        flat = flat.merge(tables[node.path], how="left", on=chains[node.parent])
    flat = flat[[label for node in layout for label in node.labels]].reset_index(drop=True)
    for label in flat.columns[flat.dtypes == object]:
        flat[label] = flat[label].where(flat[label].notna(), None)  # merge fills NaN; the join gives None
    return flat


def node_frame(table: pd.DataFrame, node: NodeLayout, parent: NodeLayout | None) -> pd.DataFrame:
    """The rows of one model path, deduplicated, with the parent's key as ``<parent frame>.<key>``."""
    parent_labels = list(parent.key_labels) if parent else []
    parent_names = [f"{parent.frame_name}.{label.rsplit('.', 1)[-1]}" for label in parent_labels] if parent else []
    part = table[parent_labels + list(node.labels)]
    part = part.drop_duplicates(subset=parent_labels + list(node.key_labels))
    part.columns = parent_names + list(node.columns)
    return part.reset_index(drop=True)


def python_values(column: pd.Series) -> list:
    """A column as plain Python values (None for every kind of null), as toJSON() would give."""
    missing = column.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        # datetime.datetime, not pandas.Timestamp: records hold the values the database gave
        values = np.asarray(column.dt.to_pydatetime(), dtype=object)
    elif isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        values = column.array.to_numpy(dtype=object, na_value=None)
    else:
        values = column.to_numpy(dtype=object)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values.tolist()


def to_records(table: pd.DataFrame, labels: list[str], names: list[str]) -> list[dict[str, Any]]:
    """One dict per row, built column-wise (pandas' to_dict boxes every value one call at a time)."""
    columns = [python_values(table[label]) for label in labels]
    return [dict(zip(names, row)) for row in zip(*columns)] if columns else [{} for _ in range(len(table))]


def build_records(tables: dict[tuple, pd.DataFrame], layout: tuple[NodeLayout, ...]) -> list[dict[str, Any]]:
    chains = key_chains(layout)
    children: dict[tuple, list[NodeLayout]] = defaultdict(list)
    for node in layout[1:]:
        children[node.parent].append(node)
    grouped: dict[tuple, dict[tuple, list]] = {}
    for node in reversed(layout):  # children before parents
        chain = chains[node.path]
        part = tables[node.path]
        records = to_records(part, list(node.labels), list(node.columns))
        key_columns = [python_values(part[label]) for label in chain]
        keys = list(zip(*key_columns))
        for child in children[node.path]:
            groups = grouped.pop(child.path)
            for record, key in zip(records, keys):
                found = groups.get(key)
                record[child.records_key] = (found or []) if child.to_many else (found[0] if found else None)
        if not node.path:
            return records
        groups: dict[tuple, list] = defaultdict(list)
        for record, parent_key in zip(records, zip(*key_columns[: -len(node.key_labels)])):
            groups[parent_key].append(record)
        grouped[node.path] = groups
    return []
