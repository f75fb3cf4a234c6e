"""Node tables: each include path's rows, once per key chain, as exact Python values.

A node table holds, for one path of the include tree, the key chain of its
ancestors and the node's own columns, one row per distinct chain, in the
order the rows first came. Records and frames are built from node tables.
Columns are either object arrays of exact Python values (``None`` for NULL) or
the frame's pandas arrays, whose dtypes hold every value exactly (see
``decode.frame_array``), so records read the same values either way; the work
is done on arrays, not a DataFrame per node.

Two rows with one key chain but different values mean the declared key is not
unique: an error naming the model, the key and the column, never a silent merge.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .compile import NodeLayout
from .decode import na_as_none
from .errors import ConfigError


def key_chains(layout: tuple[NodeLayout, ...]) -> dict[tuple, list[str]]:
    """For each node, the key labels of its ancestors and itself, root first."""
    chains: dict[tuple, list[str]] = {}
    for node in layout:
        base = chains[node.parent] if node.parent is not None else []
        chains[node.path] = base + list(node.key_labels)
    return chains


def node_columns(node: NodeLayout, chain: list[str]) -> list[str]:
    """A node table's columns: the key chain, then the node's other labels."""
    return chain + [label for label in node.labels if label not in chain]


@dataclass
class NodeTable:
    """Label -> object array. ``rows``: each row's position in the flat rows (join strategy);
    ``owners``: each row's parent row in the parent's table (JSON strategy)."""

    columns: dict[str, np.ndarray]
    rows: np.ndarray | None = None
    owners: np.ndarray | None = None

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def values(self, label: str) -> list:
        """A column as plain Python values, None for NULL (as the driver gives them)."""
        return python_list(self.columns[label])


def python_list(values) -> list:
    if isinstance(values, np.ndarray):
        return values.tolist()
    if isinstance(values, pd.arrays.NumpyExtensionArray):  # objects: only <NA> is NULL, NaN is a value
        return na_as_none(values.to_numpy()).tolist()
    if isinstance(values, pd.arrays.DatetimeArray):  # datetime.datetime, not pandas.Timestamp
        result = values.to_pydatetime().astype(object)
        result[values.isna()] = None
        return result.tolist()
    return values.to_numpy(dtype=object, na_value=None).tolist()  # NaN (a value) stays NaN


class FlatCodes:
    """label -> one integer per flat row, equal exactly where the values are equal: each key
    column of the flat rows factorized once, however many node tables' chains it is part of."""

    def __init__(self, columns: dict):
        self.columns, self.done, self.chains = columns, {}, {}

    def __call__(self, label: str) -> np.ndarray:
        if label not in self.done:
            self.done[label], _ = pd.factorize(self.columns[label], use_na_sentinel=False)
        return self.done[label]

    def chain(self, labels: list[str]) -> np.ndarray:
        """One integer per flat row, equal exactly where all of ``labels`` are: made from the
        codes of the chain's prefix, so a node adds one combination to its parent's chain."""
        key = tuple(labels)
        if key not in self.chains:
            last = self(key[-1])
            self.chains[key] = last if len(key) == 1 else combine_codes(self.chain(list(key[:-1])), last)
        return self.chains[key]


def combine_codes(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Codes of the pairs of two code arrays (each dense, from 0): equal exactly where both are;
    dense and in first-seen order, as ``pd.factorize`` gives them."""
    width = int(right.max(initial=-1)) + 1
    codes, _ = pd.factorize(left.astype(np.int64, copy=False) * width + right)
    return codes


def join_node_table(columns: dict, node: NodeLayout, chain: list[str], codes: FlatCodes | None = None) -> NodeTable:
    """The join strategy's table of one node: rows where its key is not NULL, once per key chain.

    ``columns``: label -> the flat frame's arrays (or exact object arrays); ``codes``: the
    flat rows' key codes, shared by every node (one factorization per column, not per node).
    """
    present = np.ones(len(columns[chain[0]]), dtype=bool)
    for label in node.key_labels if node.path else ():  # an include's NULL key: no row joined
        present &= ~np.asarray(pd.isna(columns[label]))
    rows = np.flatnonzero(present)
    table = NodeTable({label: columns[label].take(rows) for label in node_columns(node, chain)}, rows)
    return distinct(table, node, chain, None if codes is None else pd.factorize(codes.chain(chain)[rows])[0])


def distinct_json(tables: dict[tuple, NodeTable], layout: tuple[NodeLayout, ...]) -> dict[tuple, NodeTable]:
    """The JSON strategy's tables (each row's parent known by ``owners``) once per key chain.

    A row's chain is its parent row's chain and its own key, so a node combines its own key's
    codes with its parent's, and a kept parent row's position is its code (dense, first-seen):
    the owners move to the kept parent rows without a lookup.
    """
    chains, codes_of, result = key_chains(layout), {}, {}
    for node in layout:
        table = tables[node.path]
        codes = chain_codes([table.columns[label] for label in node.key_labels])
        if node.parent is not None:
            owners = codes_of[node.parent][table.owners]
            codes = combine_codes(owners, codes)
            table = NodeTable(table.columns, owners=owners)
        codes_of[node.path] = codes
        result[node.path] = distinct(table, node, chains[node.path], codes)
    return result


def distinct(table: NodeTable, node: NodeLayout, chain: list[str], codes: np.ndarray | None = None) -> NodeTable:
    """One row per key chain, in first-seen order; a chain seen with different values is an error.
    ``codes``: the chains as integer codes, dense and in first-seen order, when known already."""
    if len(table) == 0:
        return table
    for label in node.key_labels:  # a root's (or a JSON item's) NULL key identifies nothing
        if np.asarray(pd.isna(table.columns[label])).any():
            raise _null_key(node)
    if codes is None:
        codes = chain_codes([table.columns[label] for label in chain])
    if int(codes.max()) + 1 == len(codes):  # every chain once
        return table
    first = first_seen(codes)  # first[code]: where that chain is first seen (ascending)
    repeated = np.ones(len(codes), dtype=bool)
    repeated[first] = False
    _check_same(table, node, chain, np.flatnonzero(repeated), first, codes)
    return NodeTable({label: values.take(first) for label, values in table.columns.items()},
                     *(None if kept is None else kept[first] for kept in (table.rows, table.owners)))


def first_seen(codes: np.ndarray) -> np.ndarray:
    """Where each code of dense, first-seen codes first occurs: where a code exceeds all before it."""
    before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    return np.flatnonzero(codes > before)


def chain_codes(columns: list[np.ndarray]) -> np.ndarray:
    """One integer per row, equal for equal chains (each column factorized, then combined);
    dense and in first-seen order."""
    codes, _ = pd.factorize(columns[0], use_na_sentinel=False)
    for values in columns[1:]:
        codes = combine_codes(codes, pd.factorize(values, use_na_sentinel=False)[0])
    return codes


def _check_same(table: NodeTable, node: NodeLayout, chain: list[str], repeated: np.ndarray,
                first: np.ndarray, codes: np.ndarray) -> None:
    originals = first[codes[repeated]]
    for label, values in table.columns.items():
        if label in chain:
            continue
        suspects = np.flatnonzero(~_equal_at(values, repeated, originals))
        for index in suspects:  # NaN != NaN: look closer before calling it a difference
            a, b = python_list(values.take([repeated[index], originals[index]]))
            if not _same_value(a, b):
                key = [python_list(table.columns[k].take([repeated[index]]))[0] for k in node.key_labels]
                raise _not_unique(node, key, label, a, b)


def _equal_at(values, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """values[left] == values[right] element-wise, NULL equal to NULL; a first pass (a value
    that hashes by identity, such as Decimal NaN, is looked at again by the caller)."""
    if isinstance(values, np.ndarray | pd.arrays.NumpyExtensionArray):  # Python objects: compare
        objects = np.asarray(values, dtype=object)
        try:  # exact values: None for NULL, and None equals None
            return np.equal(objects[left], objects[right]).astype(bool)
        except TypeError:  # a frame's <NA>, which equals nothing
            objects = na_as_none(objects)
            return np.equal(objects[left], objects[right]).astype(bool)
    codes, _ = pd.factorize(values, use_na_sentinel=False)  # typed arrays: hashed in C, NULLs one code
    return codes[left] == codes[right]


def _same_value(a, b) -> bool:
    if a is b or a == b:
        return True
    return all(isinstance(v, float) and math.isnan(v) or isinstance(v, decimal.Decimal) and v.is_nan()
               for v in (a, b))


def _not_unique(node: NodeLayout, key: list, label: str, a, b) -> ConfigError:
    columns = node.columns[: len(node.key_labels)]
    key_text = ", ".join(f"{column}={value!r}" for column, value in zip(columns, key))
    return ConfigError(
        f"models.{node.model}.primary_key: the key ({', '.join(columns)}) is not unique: two rows of "
        f"{node.model} have {key_text} but differ in column {label.rsplit('.', 1)[-1]!r} "
        f"({_short(a)} vs {_short(b)}), so they cannot be told apart in records; set primary_key: to "
        "the column(s) that identify a row."
    )


def _null_key(node: NodeLayout) -> ConfigError:
    columns = ", ".join(node.columns[: len(node.key_labels)])
    return ConfigError(
        f"models.{node.model}.primary_key: a row of {node.model} has NULL in its key ({columns}), so "
        "records cannot tell it apart from other rows; set primary_key: to column(s) that are never "
        "NULL, or filter those rows out (where: {" + node.columns[0] + ": {not: null}})."
    )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
