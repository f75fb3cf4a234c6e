"""Shape the flat rows of the one statement into DataFrames and nested records.

``Result.frame`` is one row per joined row; ``Result.frames`` one frame per
model path, deduplicated by primary key; ``Result.records`` nested dicts as
Sequelize's ``toJSON()`` gives them, with exactly the listed attributes.

Every column is first read as the server's driver gives it (see ``decode``).
Both strategies then give per-path "node tables" (see ``nodes``): the join's
taken from the typed flat frame, whose dtypes (``Int64``, ``Float64``,
``string``, ...) hold every value exactly, the JSON strategy's from the decoded
documents; records and frames are built from the same node tables, so no value
passes through a lossy dtype on its way to a record.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .compile import Compiled, NodeLayout
from .config import Config
from .decode import arrow_frame_array, exact_reader, frame_array, json_reader, object_array, read_each
from .engines.run import Execution
from .errors import ExecutionError
from .nodes import FlatCodes, NodeTable, distinct_json, join_node_table, key_chains
from .pausegc import without_gc
from .statement import Statement, Target
from .unnest import json_node_tables, to_one_error


class Result(Statement):
    """The answer to one include query: the statement, its parameters and the data.

    >>> result = explorer.run("shop.yaml", {"from": "User", "include": ["orders"]})  # doctest: +SKIP
    >>> result.records[0]["orders"]                                                  # doctest: +SKIP
    """

    def __init__(self, config: Config, compiled: Compiled, execution: Execution, values: dict[str, Any],
                 target: Target | None = None):
        super().__init__(config, compiled, values, target)
        self.execution = execution
        self._exact_columns: dict[str, np.ndarray] = {}  # label -> exact values, read on first use
        self._flat_codes: FlatCodes | None = None  # the join's key codes per flat row (nodes.FlatCodes)

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
    def engine(self) -> str:
        """The engine that ran the statement: ``server``, ``duckdb`` or ``spark``."""
        return self.execution.engine

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
    def _types(self) -> dict[str, Any]:
        return self.compiled.column_types(self.config)

    @cached_property
    def _raw(self):
        """One sequence per label of the driver's values (the Arrow reader converts on access)."""
        return self.execution.driver_columns()

    def _column(self, index: int) -> np.ndarray:
        """The exact values of the statement's column ``index`` (the JSON text as is)."""
        label = self._labels[index]
        if label not in self._exact_columns:
            reader = exact_reader(self._types.get(label), self._dialect_kind)
            self._exact_columns[label] = _exact(self._raw[index], reader, self._where(label))
        return self._exact_columns[label]

    @property
    def _labels(self) -> list[str]:
        if self.strategy == "join":
            # The columns come back in layout order; the server may truncate long labels
            # (PostgreSQL keeps 63 bytes), so the names are taken from the layout.
            return [label for node in self.compiled.layout for label in node.labels]
        return list(self.execution.labels)

    @property
    def _zone(self):
        """The reading session's time zone (PostgreSQL), for tz-aware columns of only NULLs."""
        return self.execution.decoding.timezone if self.execution.decoding else None

    @property
    def _dialect_kind(self) -> str:
        # Engines other than the server hand over values already as each database's driver gives them.
        if self.execution.engine != "server":
            return "native"
        return self.execution.dialect if self.execution.dialect in ("sqlite", "postgresql") else "mysql"

    def _where(self, label: str) -> str:
        """How an error names a column: ``orders.total (Order.total)``."""
        for node in self.compiled.layout:
            for column, own in zip(node.columns, node.labels):
                if own == label:
                    return f"column {label!r} ({node.model}.{column})"
        return f"column {label!r}"

    @cached_property
    @without_gc
    def frame(self) -> pd.DataFrame:
        """One row per joined row; columns named by path (``id``, ``orders.products.name``)."""
        if self.strategy == "json":
            return join_tables(self._typed_tables, self.compiled.layout)
        arrow = self.execution.arrow
        data = {}
        for index, label in enumerate(self._labels):
            sql_type = self._types.get(label)
            array = arrow_frame_array(arrow.column(index), sql_type) if arrow is not None else None
            if array is None:
                array = frame_array(self._column(index), sql_type, self._zone)
            data[label] = _series(array)
        return pd.DataFrame(data, columns=self._labels)

    @cached_property
    @without_gc
    def _typed_tables(self) -> dict[tuple, pd.DataFrame]:
        """The node tables in frame dtypes, row for row (the join's from the typed flat frame)."""
        if self.strategy == "json":
            return {path: typed_frame(table.columns, self._types, self._zone)
                    for path, table in self._node_tables.items()}
        return {path: pd.DataFrame({label: _series(values) for label, values in table.columns.items()})
                for path, table in self._node_tables.items()}

    @cached_property
    @without_gc
    def _node_tables(self) -> dict[tuple, NodeTable]:
        """Per include path: the key chain of its ancestors and its own columns, deduplicated."""
        if self.strategy == "json":
            columns = [self._column(index) for index in range(len(self._labels))]
            tables = json_node_tables(self.compiled, self._labels, columns, self._json_column,
                                      sort=self._dialect_kind == "sqlite", counted=self._dialect_kind == "mysql")
            return distinct_json(tables, self.compiled.layout)
        # From the typed flat frame: its dtypes hold every value exactly, and keys hash fast.
        return self._join_tables({label: self.frame[label].array for label in self._labels})

    @cached_property
    @without_gc
    def _record_tables(self) -> dict[tuple, NodeTable]:
        """The node tables records are built from: the frames' own when they exist; else, for the
        join strategy, taken straight from the exact columns (records need no typed flat frame,
        and object arrays give records their values without a round trip through pandas)."""
        if self.strategy == "json" or "_node_tables" in self.__dict__ or "frame" in self.__dict__:
            return self._node_tables
        return self._join_tables({label: self._column(index) for index, label in enumerate(self._labels)})

    def _join_tables(self, flat: dict) -> dict[tuple, NodeTable]:
        """The join strategy's node tables from the flat columns ``flat`` (typed or exact). The key
        codes are made once per Result: either columns give the same codes for the same rows."""
        if self._flat_codes is None:
            self._flat_codes = FlatCodes(flat)
        chains = key_chains(self.compiled.layout)
        return {node.path: join_node_table(flat, node, chains[node.path], self._flat_codes)
                for node in self.compiled.layout}

    def _json_column(self, label: str, values) -> np.ndarray:
        """One column read out of the JSON documents, as the driver gives the plain column."""
        sql_type = self._types.get(label)
        read = json_reader(sql_type, self._dialect_kind, self.execution.decoding)
        if read is not None:
            try:
                values = read_each(read, values)
            except Exception as exc:  # noqa: BLE001 - the driver's own loader refused the text
                raise ExecutionError(f"{self._where(label)}: the driver cannot read a value of this "
                                     f"column ({type(exc).__name__}: {exc}); use strategy: join to "
                                     "see how the driver reads it.") from None
        return _exact(object_array(values), exact_reader(sql_type, self._dialect_kind), self._where(label))

    @cached_property
    @without_gc
    def frames(self) -> dict[str, pd.DataFrame]:
        """One frame per model path, deduplicated by key; child frames carry the parent's key."""
        layout = {n.path: n for n in self.compiled.layout}
        frames = {}
        for node in self.compiled.layout:
            parent = layout.get(node.parent) if node.parent is not None else None
            frames[node.frame_name] = node_frame(self._typed_tables[node.path], node, parent)
        return frames

    @cached_property
    @without_gc
    def records(self) -> list[dict[str, Any]]:
        """Nested dicts: lists for to-many includes, a dict or None for to-one; the listed attributes."""
        tables = self._record_tables  # first: building them makes the join's key codes
        return build_records(tables, self.compiled, self._flat_codes)

    # -- files (see explorer.files: the frames with their exact types)

    def to_parquet(self, folder) -> dict:
        """One Parquet file per frame in ``folder``; frame path -> file."""
        from . import files

        return files.to_parquet(self, folder)

    def to_csv(self, folder) -> dict:
        """One CSV file per frame in ``folder``; frame path -> file."""
        from . import files

        return files.to_csv(self, folder)

    def to_excel(self, path):
        """One workbook, a sheet per frame (and an index sheet); its path."""
        from . import files

        return files.to_excel(self, path)

    def to_json(self, path):
        """The records as exact JSON (what ``--format json`` prints); its path."""
        from . import files

        return files.to_json(self, path)

    def __repr__(self) -> str:
        return (f"<Result {self.query.model}: {self.root_count} root rows, {self.row_count} joined rows, "
                f"{self.statements} statement, {self.elapsed * 1000:.0f} ms, "
                f"databases {', '.join(self.databases)}>")

    def _repr_html_(self) -> str:
        from .display import result_html

        return result_html(self)


# frames


def _exact(values, reader, where: str) -> np.ndarray:
    values = object_array(values)
    return values if reader is None else object_array(reader(values, where))


def typed_frame(columns: dict[str, np.ndarray], types: dict[str, Any], zone=None) -> pd.DataFrame:
    """A frame of exact Python values in pandas dtypes that hold them (see decode.frame_array)."""
    data = {label: _series(frame_array(values, types.get(label), zone)) for label, values in columns.items()}
    return pd.DataFrame(data, columns=list(columns))


def _series(array) -> pd.Series:
    # The array's own dtype: pandas would infer timedelta64 from objects otherwise.
    return pd.Series(array, dtype=array.dtype, copy=False)


def join_tables(tables: dict[tuple, pd.DataFrame], layout: tuple[NodeLayout, ...]) -> pd.DataFrame:
    """The flat frame rebuilt from node tables (LEFT JOIN semantics), for the JSON strategy."""
    chains = key_chains(layout)
    flat = tables[()]
    for node in layout[1:]:
        table = tables[node.path]
        flat = flat.merge(table, how="left", on=chains[node.parent], indicator="~match")
        unmatched = (flat["~match"] == "left_only").to_numpy()
        flat = flat.drop(columns="~match")
        if unmatched.any():  # merge fills object columns with NaN where the join gives NULL
            for label in table.columns.difference(chains[node.parent]):
                if flat[label].dtype == object:
                    values = flat[label].to_numpy(dtype=object).copy()
                    values[unmatched] = pd.NA
                    flat[label] = pd.Series(values, index=flat.index, dtype=object)
    return flat[[label for node in layout for label in node.frame_labels]].reset_index(drop=True)


def _frame_labels(node: NodeLayout, parent: NodeLayout | None) -> list[tuple[str, str]]:
    """(frame column, flat label) pairs of a node's frame: the parent's key, then the node's columns."""
    parent_pairs = [(f"{parent.frame_name}.{label.rsplit('.', 1)[-1]}", label)
                    for label in parent.key_labels] if parent else []
    shown = set(node.frame_labels)
    return parent_pairs + [(column, label) for column, label in zip(node.columns, node.labels) if label in shown]


def node_frame(table: pd.DataFrame, node: NodeLayout, parent: NodeLayout | None) -> pd.DataFrame:
    """The rows of one model path, deduplicated, with the parent's key as ``<parent frame>.<key>``."""
    pairs = _frame_labels(node, parent)
    parent_labels = list(parent.key_labels) if parent else []
    part = table[[label for _, label in pairs]]
    part = part.drop_duplicates(subset=parent_labels + list(node.key_labels))
    part.columns = [name for name, _ in pairs]
    return part.reset_index(drop=True)


def to_records(table: NodeTable, labels: list[str], names: list[str]) -> list[dict[str, Any]]:
    """One dict per row, built column-wise (pandas' to_dict boxes every value one call at a time)."""
    columns = [table.values(label) for label in labels]
    return list(map(record_maker(names), *columns)) if columns else [{} for _ in range(len(table))]


def record_maker(names: list[str]) -> Callable[..., dict[str, Any]]:
    """A function of one value per name that returns ``{name: value, ...}`` in that order.

    A dict display is 2x faster than ``dict(zip(names, row))`` per record. The function is
    generated the way ``dataclasses`` makes ``__init__``; the names themselves never enter
    the generated source: they are bound as closure cells ``k0``, ``k1``, ...
    """
    keys = ", ".join(f"k{i}" for i in range(len(names)))
    values = ", ".join(f"v{i}" for i in range(len(names)))
    pairs = ", ".join(f"k{i}: v{i}" for i in range(len(names)))
    source = f"def bind({keys}):\n    return lambda {values}: {{{pairs}}}\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - source built from the indices above, nothing else
    return namespace["bind"](*names)


def build_records(tables: dict[tuple, NodeTable], compiled: Compiled,
                  flat_codes: FlatCodes | None = None) -> list[dict[str, Any]]:
    """Every node's records, then each child's records attached to its parents' as a list (to-many)
    or a dict or None (to-one). Children find their parent by integer codes of the key chain
    and are grouped by a stable sort, not by a dict lookup per row. ``flat_codes``: the join
    strategy's key codes of the flat rows, which its tables (with ``rows``) take their chains' codes from;
    the JSON strategy's tables know each row's parent row (``owners``)."""
    layout = compiled.layout
    chains = key_chains(layout)
    records = {}
    for node in layout:
        label_of = dict(zip(node.columns, node.labels))
        records[node.path] = to_records(tables[node.path], [label_of[c] for c in node.shown], list(node.shown))
    for node in layout[1:]:  # in layout order: a record's includes come in the query's order
        parent, child = tables[node.parent], tables[node.path]
        parent_codes, child_codes = _parent_codes(parent, child, chains[node.parent], flat_codes)
        _attach(records[node.parent], parent_codes, records[node.path], child_codes, node, parent,
                chains[node.parent], compiled)
    return records[()]


def _parent_codes(parent: NodeTable, child: NodeTable, parent_chain: list[str],
                  flat_codes: FlatCodes | None) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row of each table, equal exactly where a child row belongs to a parent row."""
    if child.owners is not None:  # the JSON strategy: each child row knows its parent row
        return np.arange(len(parent)), child.owners
    chain = flat_codes.chain(parent_chain)  # the join: the flat rows' codes, one code space for both
    return chain[parent.rows], chain[child.rows]


def _attach(parents: list[dict], parent_codes: np.ndarray, children: list[dict], child_codes: np.ndarray,
            node: NodeLayout, parent_table: NodeTable, parent_chain: list[str], compiled: Compiled) -> None:
    key = node.records_key
    position = np.full(int(max(parent_codes.max(initial=-1), child_codes.max(initial=-1))) + 1, -1, dtype=np.int64)
    position[parent_codes] = np.arange(len(parent_codes))
    owner = position[child_codes]  # the parent record of each child row (-1: none, never shown)
    if len(owner) < 2 or bool((owner[1:] >= owner[:-1]).all()):  # the usual case: rows come by parent
        ordered, grouped = children, owner
    else:
        order = np.argsort(owner, kind="stable")  # each parent's children together, in their row order
        ordered, grouped = [children[i] for i in order.tolist()], owner[order]
    bounds = np.searchsorted(grouped, np.arange(len(parents) + 1))
    if node.to_many:
        for record, start, stop in zip(parents, bounds[:-1].tolist(), bounds[1:].tolist()):
            record[key] = ordered[start:stop]
        return
    counts = np.diff(bounds)
    if (counts > 1).any():
        index = int(np.flatnonzero(counts > 1)[0])
        chain = tuple(parent_table.values(label)[index] for label in parent_chain)
        raise to_one_error(compiled, node, chain, int(counts[index]))
    for record, start, count in zip(parents, bounds[:-1].tolist(), counts.tolist()):
        record[key] = ordered[start] if count else None
