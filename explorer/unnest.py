"""Decode the JSON strategy's rows into one table per include path.

Each root row carries its includes as JSON (see ``compile_json``). Walking it
once gives, per include path, the rows of that model with the key chain of
their ancestors: the same "node tables" the join strategy gets by
deduplicating its flat rows, so frames and records are built one way for both.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from .compile import Compiled, NodeLayout
from .decode import object_array
from .errors import ExecutionError, QueryError
from .kinds import CHUNK
from .nodes import NodeTable, key_chains, node_columns

# Decimals stay exact in both. msgspec's decoder is C (4x the standard library's on the bench);
# what it refuses (a lone surrogate escape, which SQLite may hold) goes to the standard library.
_FAST_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_DECODER = json.JSONDecoder(parse_float=Decimal)


def json_node_tables(compiled: Compiled, labels: list[str], columns: list,
                     typed: Callable[[str, Any], Any], sort: bool = False,
                     counted: bool = False) -> dict[tuple, NodeTable]:
    """Walk every root row's JSON once; return path -> NodeTable (key chain + own columns), whose
    ``owners`` give each row's parent row (its root row for the root's children).

    ``columns`` are the statement's columns (root columns, then one JSON text per include);
    ``typed(label, values)`` turns one column's values into exact Python values. Lists come
    ordered by the server (ORDER BY inside the aggregate); ``sort``: order them here instead,
    by SQLite's rules (its json_group_array takes no ORDER BY before 3.44). ``counted``: each
    list comes as ``[row count, list]`` (MySQL/MariaDB, see compile_json.AGGREGATES).
    """
    layout = compiled.layout
    chains = key_chains(layout)
    children: dict[tuple, list[NodeLayout]] = {node.path: [] for node in layout}
    for node in layout[1:]:
        children[node.parent].append(node)
    root = layout[0]
    position = {label: i for i, label in enumerate(labels)}
    # Per node: its items (JSON objects) and, for each, the index of its parent's item (the root
    # row's index under the root). A node is read for all its parents at once, level by level, so
    # the per-item work happens in C (map, chain, repeat), not in a Python call per JSON object.
    items: dict[tuple, list[dict]] = {}
    parents: dict[tuple, np.ndarray] = {}

    def chain_of(path: tuple, index: int) -> tuple:  # for an error message only
        if not path:
            return tuple(columns[position[label]][index] for label in root.key_labels)
        node = compiled.node(path)
        item = items[path][index]
        return chain_of(node.parent, int(parents[path][index])) + tuple(item[c] for c in node.columns[: len(node.key_labels)])

    def read(node: NodeLayout, values: list) -> None:
        lists, lengths = _lists(node, values, counted)
        if not node.to_many and len(lengths) and lengths.max() > 1:
            parent = int(np.argmax(lengths > 1))
            raise to_one_error(compiled, node, chain_of(node.parent, parent), int(lengths[parent]))
        own = list(itertools.chain.from_iterable(lists))
        owners = np.repeat(np.arange(len(lists), dtype=np.intp), lengths)
        if None in own:  # a NULL object in a list stands for no row
            kept = np.fromiter((item is not None for item in own), dtype=bool, count=len(own))
            own, owners = [item for item in own if item is not None], owners[kept]
        if own and FIRST_CHUNK in own[0]:  # chunking is the node's (its column count), not the item's
            own = list(map(unchunk, own))
        items[node.path], parents[node.path] = own, owners
        for child in children[node.path]:
            read(child, list(map(operator.methodcaller("get", child.records_key), own)))

    for child in children[()]:
        read(child, list(columns[position[child.records_key]]))

    root_labels = node_columns(root, chains[()])
    exact = {label: object_array(columns[position[label]]) for label in root_labels}
    chain_values = {(): [exact[label] for label in chains[()]]}  # per node, in walk order
    tables = {(): NodeTable(exact)}
    for node in layout[1:]:
        owners = parents[node.path]
        exact = {label: values.take(owners) for label, values in zip(chains[node.parent], chain_values[node.parent])}
        for column, label in zip(node.columns, node.labels):
            if label not in exact:  # the node's own columns, in their JSON form
                exact[label] = typed(label, list(map(operator.itemgetter(column), items[node.path])))
        chain_values[node.path] = [exact[label] for label in chains[node.path]]
        tables[node.path] = NodeTable({label: exact[label] for label in node_columns(node, chains[node.path])},
                                      owners=owners)
    return sort_children(tables, compiled) if sort else tables


def _lists(node: NodeLayout, values: list, counted: bool) -> tuple[list[list], np.ndarray]:
    """Each parent's list of ``node``'s JSON objects from its JSON value, decoded and checked
    against the server's counts; and each list's length."""
    if node.junction:  # the junction row: one object inside its target's object
        lists = [[] if value is None else [value] for value in values]
    elif counted and None in values:  # [count, list] is never NULL: the server dropped a value too long to send
        raise ExecutionError(_cut(node))
    else:
        values = [_decode(value, node) if isinstance(value, (str, bytes)) else value for value in values]
        lists = [value[1] or [] for value in values] if counted else [value or [] for value in values]
    lengths = np.fromiter(map(len, lists), dtype=np.intp, count=len(lists))
    if counted and not node.junction:
        counts = np.fromiter((value[0] for value in values), dtype=np.intp, count=len(values))
        if (short := np.flatnonzero(counts != lengths)).size:
            raise ExecutionError(_cut(node, int(counts[short[0]]), int(lengths[short[0]])))
    return lists, lengths


def _decode(text, node: NodeLayout):
    try:
        return _FAST_DECODER.decode(text)
    except msgspec.DecodeError:
        pass
    try:
        return _DECODER.decode(text if isinstance(text, str) else text.decode())
    except ValueError:  # a cut document (MariaDB cuts JSON_ARRAYAGG at max_allowed_packet)
        raise ExecutionError(_cut(node)) from None


def _cut(node: NodeLayout, count: int | None = None, got: int | None = None) -> str:
    what = f"{got} of its {count} rows" if count is not None else "a JSON document that is cut short"
    return (f"include {'.'.join(node.path)}: the server sent {what} (MariaDB cuts a JSON_ARRAYAGG "
            "longer than max_allowed_packet); use strategy: join for this query, or raise the "
            "server's max_allowed_packet.")


def to_one_error(compiled: Compiled, node: NodeLayout, parent_chain: tuple, count: int) -> QueryError:
    """A belongs_to / has_one include that matched several rows for one parent."""
    include = compiled.query.node(node.path)
    parent = compiled.node(node.parent)
    key = ", ".join(f"{label.rsplit('.', 1)[-1]}={value!r}"
                    for label, value in zip(parent.key_labels, parent_chain[-len(parent.key_labels):]))
    return QueryError(
        f"include.{'.include.'.join(node.path)}: {include.association.source}.{include.name} is a "
        f"{include.association.kind} (one {node.model} per {parent.model}) but {count} rows of "
        f"{node.model} match the {parent.model} with {key}; make the key it joins on unique "
        "(primary_key: / target_key:), add a scope that picks one, or declare it has_many."
    )


FIRST_CHUNK = CHUNK + "0"


def unchunk(item: dict) -> dict:
    """A JSON object sent in chunks (more columns than a JSON function takes arguments), merged."""
    if CHUNK + "0" not in item:
        return item
    merged: dict = {}
    for part in item.values():
        merged.update(part)
    return merged


def sort_children(tables: dict[tuple, NodeTable], compiled: Compiled) -> dict[tuple, NodeTable]:
    """Each to-many list ordered as SQLite orders, parents kept in their order: by the query's
    order on its path, then key; NULL first ascending and last descending, text by code point
    (BINARY). A parent's rows move, so its children's owners follow them."""
    moved: dict[tuple, np.ndarray] = {}  # path -> old row -> new row, for the paths that moved
    result = {(): tables[()]}
    for node in compiled.layout[1:]:
        table = tables[node.path]
        owners = moved[node.parent][table.owners] if node.parent in moved else table.owners
        table = NodeTable(table.columns, owners=owners)
        if node.to_many and len(table):  # a junction row is one per target: nothing to sort
            order = _sqlite_order(table, node, compiled)
            table = NodeTable({label: values.take(order) for label, values in table.columns.items()},
                              owners=owners.take(order))
            moved[node.path] = np.empty(len(order), dtype=np.intp)
            moved[node.path][order] = np.arange(len(order))
        result[node.path] = table
    return result


def _sqlite_order(table: NodeTable, node: NodeLayout, compiled: Compiled) -> np.ndarray:
    order = [(label, desc) for column, desc in compiled.query.list_order(node.path)
             if (label := ".".join((*node.path, column))) in table.columns]
    order += [(label, False) for label in node.key_labels]
    keys = {"~parent": table.owners}
    ascending = [True]
    for i, (label, desc) in enumerate(order):
        values = pd.array(table.columns[label])  # inferred: Int64, string, ... sort fast
        keys[f"~null{i}"] = np.asarray(pd.isna(values)) == desc  # NULLs first ascending, last descending
        keys[f"~{i}"] = values
        ascending += [True, not desc]
    ranked = pd.DataFrame(keys).sort_values(by=list(keys), ascending=ascending, kind="stable")
    return ranked.index.to_numpy()
