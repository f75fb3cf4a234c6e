"""The visual include builder: stock ipywidgets bound to a plain query-tree state.

``explorer.builder(config)`` shows a root model picker, the association tree
as nested nodes (a checkbox per association; a node's children are built only
when it is checked, so cycles such as ``User.referrals.referrals`` never expand
by themselves), per node the attributes (with a filter box over a long list), a
required toggle, where conditions and aggregates (function, path, name), and
where they apply the junction's columns (belongs_to_many), the list's own
order, limit and offset (to-many includes) and "show deleted" (paranoid
models); the root's order (its columns and aggregates), limit and offset, a live
SQL preview that wraps at blanks only, a Run button and exports. ``builder.query`` is the query dict, ``builder.sql`` its
one statement, ``builder.run()`` runs it; ``explorer.builder(config, query)``
opens an existing query, and builder -> YAML -> builder gives the same query.
The state the controls edit lives in ``explorer.builder_state``; putting the
equivalent cell into the notebook, in ``explorer.frontend``.
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

import explorer
from explorer.builder_state import (
    AGGREGATE_FUNCTIONS,
    COMBINATORS,
    AggregateState,
    NodeState,
    aggregate_paths,
    aggregate_targets,
    closest_target,
    default_aggregate_name,
    format_value,
    order_items,
    parse_count,
    parse_value,
    state_from_options,
)
from explorer.config import Association, Config
from explorer.display import SQL_PRE, sql_html
from explorer.errors import ExplorerError
from explorer.export import to_yaml
from explorer.frontend import connect_frontend, insert_cell_below
from explorer.tree import OPERATORS, read_query

INDENT = w.Layout(margin="2px 0 2px 18px", padding="0 0 0 6px", border_left="2px solid #ccc")
# Each button as wide as its label: a fixed 48px cut "desc" to "d...".
TOGGLE_STYLE = {"button_width": "auto"}
WIDE_LABEL = {"description_width": "initial"}
FILTER_OVER = 8  # columns; a longer attribute list gets a filter box
# An association checkbox: its own framed chip with room around it, so one label never runs into
# the next ("orders → Order [] paid_orders → Order").
CHIP = {"width": "auto", "margin": "2px 10px 2px 0", "padding": "0 8px", "border": "1px solid #d0d0d0"}
# JupyterLab gives every <pre> word-break: break-all, which cut "orders->products" anywhere; the
# preview's own style wins, and each run of non-blank text is kept whole (a browser would still
# break after the "-" of "->"), so a long line wraps at a blank only.


# ---------------------------------------------------------------------------
# Widgets


class NodeWidget:
    """The controls of one node; each control has one observer that updates the state."""

    def __init__(self, builder: Builder, state: NodeState, association: Association | None = None):
        self.builder = builder
        self.state = state
        self.association = association  # how the parent reaches this node; None for the root
        self._syncing = False
        self.columns = [str(c) for c in builder.config.columns(state.model)]
        self.children: dict[str, NodeWidget] = {}
        self.attributes = w.SelectMultiple(options=self.columns, rows=min(6, len(self.columns)),
                                           value=tuple(self._chosen()), description="attributes")
        self.attributes.observe(self._on_attributes, "value")
        self.attribute_filter = self._attribute_filter() if len(self.columns) > FILTER_OVER else None
        self.required = w.Checkbox(value=self._effective_required(), description="required (INNER JOIN)")
        self.required.observe(self._on_required, "value")
        self.combinator = w.ToggleButtons(options=COMBINATORS, value=state.combinator,
                                          description="where", style=TOGGLE_STYLE)
        self.combinator.observe(self._on_combinator, "value")
        self.condition_rows: list[ConditionRow] = []
        self.conditions_box = w.VBox()
        self.add_condition = w.Button(description="+ condition", layout=w.Layout(width="120px"))
        self.add_condition.on_click(lambda _: self.new_condition())
        self._aggregate_controls()
        self._optional_controls()
        self.checkboxes = {name: self._association_checkbox(name) for name in self._associations()}
        self.children_box = w.VBox()
        self.box = w.VBox(self._parts(), layout=INDENT if state.path else w.Layout())
        for row in list(state.conditions):
            self._add_row(row)
        for item in list(state.aggregates):
            self._add_aggregate_row(item)
        for name in state.children:
            self._show_child(name)
            self.checkboxes[name].value = True

    def _parts(self) -> list[w.Widget]:
        title = " → ".join(self.state.path) if self.state.path else self.state.model
        label = w.HTML(f"<b>{html.escape(title)}</b> ({html.escape(self.state.model)}, "
                       f"{html.escape(self._database())})")
        parts = [label, *([self.attribute_filter] if self.attribute_filter else []), self.attributes]
        parts += [self.required] if self.state.path else []
        self.association_box = w.HBox(list(self.checkboxes.values()),
                                      layout=w.Layout(flex_flow="row wrap", align_items="center"))
        return [*parts, *self._optional_rows(), w.HBox([self.combinator, self.add_condition]),
                self.conditions_box, self.add_aggregate, self.aggregates_box, self.aggregate_message,
                w.Label("include:") if self.checkboxes else w.Label(""), self.association_box,
                self.children_box]

    def _optional_rows(self) -> list[w.Widget]:
        """One row per group of the optional controls this node has."""
        rows = [[self.show_deleted], [self.through_attributes, self.show_deleted_links],
                [self.order_column, self.order_direction, self.limit, self.offset]]
        boxes = [w.HBox([c for c in row if c is not None], layout=w.Layout(flex_flow="row wrap"))
                 for row in rows if any(c is not None for c in row)]
        return boxes + ([self.count_message] if self.limit is not None else [])

    def _database(self) -> str:
        return self.builder.config.models[self.state.model].database

    def _associations(self):
        return self.builder.config.models[self.state.model].associations

    def _association_checkbox(self, name: str) -> w.Checkbox:
        association = self._associations()[name]
        target_db = self.builder.config.models[association.target].database
        cross = " ⇄ " + target_db if target_db != self._database() else ""
        box = w.Checkbox(value=False, description=f"{name} → {association.target}{cross}", indent=False,
                         layout=w.Layout(**CHIP))
        box.observe(lambda change, name=name: self._on_include(name, change["new"]), "value")
        return box

    def _attribute_filter(self) -> w.Text:
        """A box that narrows the attribute list shown; columns chosen but hidden stay chosen."""
        box = w.Text(placeholder=f"filter {len(self.columns)} columns", description="filter",
                     layout=w.Layout(width="260px"))
        box.observe(self._on_attribute_filter, "value")
        return box

    def _chosen(self) -> list[str]:
        """The attributes chosen, in column order (all of them when the state says none)."""
        chosen = self.state.attributes
        return list(self.columns) if chosen is None else [c for c in self.columns if c in chosen]

    def _aggregate_controls(self) -> None:
        self.aggregate_rows: list[AggregateRow] = []
        self.aggregates_box = w.VBox()
        self.aggregate_message = w.Label(style={"text_color": "#a00"}, layout=w.Layout(display="none"))
        self.add_aggregate = w.Button(description="+ aggregate", layout=w.Layout(width="120px"))
        self.add_aggregate.on_click(lambda _: self.new_aggregate())
        if not aggregate_paths(self.builder.config, self.state.model):
            self.add_aggregate.disabled = True
            self.add_aggregate.tooltip = f"{self.state.model} reaches no to-many association"

    # -- controls only some nodes have (None on the others)

    def _optional_controls(self) -> None:
        """show deleted (paranoid models), the junction's (belongs_to_many), the list's (to-many)."""
        association = self.association
        many_to_many = association is not None and association.kind == "belongs_to_many"
        to_many = association is not None and association.to_many
        self.show_deleted = self._show_deleted(self.state.model, "show deleted", "paranoid")
        self.through_attributes = self._through_attributes() if many_to_many else None
        self.show_deleted_links = (self._show_deleted(association.through, "show deleted links",
                                                      "through_paranoid") if many_to_many else None)
        self.order_column, self.order_direction = self._list_order() if to_many else (None, None)
        self.limit = self._count_box("limit") if to_many else None
        self.offset = self._count_box("offset") if to_many else None
        self.count_message = w.Label(style={"text_color": "#a00"})
        self._count_problems: dict[str, str] = {}

    def _show_deleted(self, model: str, label: str, key: str) -> w.Checkbox | None:
        """A "show deleted" box for a paranoid model: ticked writes ``paranoid: false`` at ``key``."""
        column = self.builder.config.models[model].paranoid
        if column is None:
            return None
        box = w.Checkbox(value=getattr(self.state, key) is False, description=f"{label} ({column} set)",
                         indent=False, layout=w.Layout(width="auto"))
        box.observe(lambda change: self._on_show_deleted(key, change["new"]), "value")
        return box

    def _through_attributes(self) -> w.SelectMultiple:
        """The junction's columns each target record shows (through.attributes); none by default."""
        junction = self.association.through
        columns = [str(c) for c in self.builder.config.columns(junction)]
        chosen = tuple(c for c in self.state.through_attributes or () if c in columns)
        control = w.SelectMultiple(options=columns, value=chosen, rows=min(4, len(columns)),
                                   description=f"{junction} columns", style=WIDE_LABEL)
        control.observe(self._on_through_attributes, "value")
        return control

    def _list_order(self) -> tuple[w.Dropdown, w.ToggleButtons]:
        """order by (a column of this node, or none) and its direction, for each parent's list."""
        column, direction = self.state.order[0] if self.state.order else ("", "asc")
        choices = [("(none)", ""), *((c, c) for c in self.columns)]
        choices += [(column, column)] if column and column not in self.columns else []
        dropdown = w.Dropdown(options=choices, value=column, description="order by", style=WIDE_LABEL)
        toggle = w.ToggleButtons(options=("asc", "desc"), value=direction, style=TOGGLE_STYLE)
        dropdown.observe(self._on_list_order, "value")
        toggle.observe(self._on_list_order, "value")
        return dropdown, toggle

    def _count_box(self, key: str) -> w.Text:
        """limit / offset of each parent's list: digits, blank for none."""
        value = getattr(self.state, key)
        box = w.Text(value="" if value is None else str(value), description=key, placeholder="none",
                     style=WIDE_LABEL, layout=w.Layout(width="140px"))
        box.observe(lambda change: self._on_count(key, change["new"]), "value")
        return box

    def _effective_required(self) -> bool:
        if self.state.required is not None:
            return self.state.required
        return self.state.where() is not None

    # -- observers

    def _on_attributes(self, change) -> None:
        if self._syncing:
            return
        shown = set(self.attributes.options)
        hidden = {c for c in self._chosen() if c not in shown}  # filtered out of view, still chosen
        chosen = [c for c in self.columns if c in change["new"] or c in hidden]
        self.state.attributes = None if len(chosen) == len(self.columns) else chosen
        self.builder.refresh()

    def _on_attribute_filter(self, change) -> None:
        text = change["new"].strip().lower()
        shown = [c for c in self.columns if text in c.lower()]
        self._syncing = True  # new options reset the value: the state keeps the choice
        self.attributes.options = shown
        self.attributes.value = tuple(c for c in self._chosen() if c in shown)
        self._syncing = False

    def _on_required(self, change) -> None:
        if self._syncing:
            return
        if change["new"] != self._effective_required():
            self.state.required = change["new"]
        self.builder.refresh()

    def _on_show_deleted(self, key: str, ticked: bool) -> None:
        setattr(self.state, key, False if ticked else None)
        self.builder.refresh()

    def _on_through_attributes(self, change) -> None:
        chosen = [c for c in self.through_attributes.options if c in change["new"]]
        self.state.through_attributes = chosen or None
        self.builder.refresh()

    def _on_list_order(self, _change) -> None:
        # The controls edit the first order item; items after it (written in YAML) stay while it is
        # set, and "(none)" clears the whole order.
        column, direction = self.order_column.value, self.order_direction.value
        self.state.order = [[column, direction], *self.state.order[1:]] if column else []
        self.builder.refresh()

    def _on_count(self, key: str, text: str) -> None:
        try:
            setattr(self.state, key, parse_count(text))
            self._count_problems.pop(key, None)
        except ValueError as exc:  # not applied until it is a number; said next to the boxes
            setattr(self.state, key, None)
            self._count_problems[key] = f"{key}: {exc}; not applied."
        self.count_message.value = " ".join(self._count_problems.values())
        self.builder.refresh()

    def _on_combinator(self, change) -> None:
        self.state.combinator = change["new"]
        self.changed()

    def changed(self) -> None:
        """After a where change: show the include's default required value, refresh the SQL."""
        if self.state.path and self.state.required is None:
            self._syncing = True
            self.required.value = self._effective_required()
            self._syncing = False
        self.builder.refresh()

    def _on_include(self, name: str, checked: bool) -> None:
        if checked and name not in self.state.children:
            target = self._associations()[name].target
            self.state.children[name] = NodeState(target, (*self.state.path, name))
            self._show_child(name)
        elif not checked and name in self.state.children:
            del self.state.children[name]
            self.children.pop(name, None)
            self.children_box.children = [c.box for c in self.children.values()]
        self.builder.refresh()

    def _show_child(self, name: str) -> None:
        if name not in self.children:
            association = self._associations()[name]
            self.children[name] = NodeWidget(self.builder, self.state.children[name], association)
            self.children_box.children = [c.box for c in self.children.values()]

    # -- conditions

    def new_condition(self, column: str | None = None, op: str = "eq", value: Any = "") -> ConditionRow:
        """Add a where row (column, operator, value) and return it."""
        row = [column or self.columns[0], op, value]
        self.state.conditions.append(row)
        widget = self._add_row(row)
        self.changed()
        return widget

    def _add_row(self, row: list[Any]) -> ConditionRow:
        widget = ConditionRow(self, row)
        self.condition_rows.append(widget)
        self.conditions_box.children = [r.box for r in self.condition_rows]
        return widget

    def remove_condition(self, widget: ConditionRow) -> None:
        self.condition_rows.remove(widget)
        self.state.conditions.remove(widget.row)
        self.conditions_box.children = [r.box for r in self.condition_rows]
        self.changed()

    # -- aggregates

    def new_aggregate(self, function: str = "count", path: str | None = None,
                      name: str | None = None) -> AggregateRow:
        """Add an aggregate row (function, path, name; by default the first path and its name)."""
        targets = aggregate_targets(self.builder.config, self.state.model, function)
        if not (path or targets):
            raise ValueError(f"{self.state.model} has no path to {function} over (no to-many association)")
        path = path or targets[0]
        taken = {item.name for item in self.state.aggregates}
        item = AggregateState(name or default_aggregate_name(function, path, taken), function, path)
        self.state.aggregates.append(item)
        widget = self._add_aggregate_row(item)
        self.aggregates_changed()
        return widget

    def _add_aggregate_row(self, item: AggregateState) -> AggregateRow:
        widget = AggregateRow(self, item)
        self.aggregate_rows.append(widget)
        self.aggregates_box.children = [r.box for r in self.aggregate_rows]
        return widget

    def remove_aggregate(self, widget: AggregateRow) -> None:
        self.aggregate_rows.remove(widget)
        self.state.aggregates.remove(widget.item)
        self.aggregates_box.children = [r.box for r in self.aggregate_rows]
        self.aggregates_changed()

    def aggregates_changed(self) -> None:
        """Say which rows are not applied (no name, a name used twice), then refresh the SQL."""
        names = [item.name for item in self.state.aggregates]
        problems = ["an aggregate without a name is not applied"] if "" in names else []
        twice = sorted({n for n in names if n and names.count(n) > 1})
        problems += [f"{n!r} names two aggregates; only the first is applied" for n in twice]
        self.aggregate_message.value = "; ".join(problems)
        self.aggregate_message.layout.display = None if problems else "none"
        self.builder.refresh()

    def node(self, path: tuple[str, ...]) -> NodeWidget:
        """The widget of a descendant node, by path relative to this one."""
        return self if not path else self.children[path[0]].node(path[1:])


class ConditionRow:
    """column / operator / value controls for one where condition."""

    def __init__(self, node: NodeWidget, row: list[Any]):
        self.node = node
        self.row = row
        self.column = w.Dropdown(options=node.columns, value=row[0], layout=w.Layout(width="150px"))
        self.op = w.Dropdown(options=OPERATORS, value=row[1], layout=w.Layout(width="110px"))
        self.value = w.Text(value=format_value(row[2]) if row[2] != "" else "",
                            placeholder="value, [a, b] or :variable", layout=w.Layout(width="220px"))
        self.remove = w.Button(description="✕", layout=w.Layout(width="32px"))
        self.column.observe(self._on_column, "value")
        self.op.observe(self._on_op, "value")
        self.value.observe(self._on_value, "value")
        self.remove.on_click(lambda _: node.remove_condition(self))
        self.box = w.HBox([self.column, self.op, self.value, self.remove])

    def _on_column(self, change) -> None:
        self.row[0] = change["new"]
        self.node.changed()

    def _on_op(self, change) -> None:
        self.row[1] = change["new"]
        self.row[2] = parse_value(change["new"], self.value.value)
        self.node.changed()

    def _on_value(self, change) -> None:
        self.row[2] = parse_value(self.row[1], change["new"])
        self.node.changed()


class AggregateRow:
    """function / path / name controls for one aggregate; the path choices follow the function.

    A name the builder gave (``count_orders``) follows the function and path; a name typed by
    hand stays. The parts of a spec the row has no control for (its ``where``) are shown, kept.
    """

    def __init__(self, node: NodeWidget, item: AggregateState):
        self.node = node
        self.item = item
        self._default = self._default_name()
        self.function = w.Dropdown(options=AGGREGATE_FUNCTIONS, value=item.function,
                                   layout=w.Layout(width="140px"))
        self.path = w.Dropdown(options=self._targets(item.function, item.path), value=item.path,
                               layout=w.Layout(width="280px"))
        # applied on Enter or leaving the box: a half-typed name never reaches the query
        self.name = w.Text(value=item.name, placeholder="aggregate name", continuous_update=False,
                           layout=w.Layout(width="200px"))
        self.remove = w.Button(description="✕", layout=w.Layout(width="32px"))
        self.function.observe(self._on_function, "value")
        self.path.observe(self._on_path, "value")
        self.name.observe(self._on_name, "value")
        self.remove.on_click(lambda _: node.remove_aggregate(self))
        kept = [w.Label(f"{key}: {format_value(value)} (kept as written)") for key, value in item.extra.items()]
        self.box = w.HBox([self.function, self.path, w.Label("as"), self.name, self.remove, *kept],
                          layout=w.Layout(flex_flow="row wrap", align_items="center"))

    def _targets(self, function: str, keep: str | None = None) -> list[str]:
        targets = aggregate_targets(self.node.builder.config, self.node.state.model, function)
        return targets + ([keep] if keep and keep not in targets else [])

    def _default_name(self) -> str:
        taken = {i.name for i in self.node.state.aggregates if i is not self.item}
        return default_aggregate_name(self.item.function, self.item.path, taken)

    def _on_function(self, change) -> None:
        self.item.function = change["new"]
        targets = self._targets(change["new"]) or [self.item.path]
        self.item.path = closest_target(self.item.path, targets)
        self.path.unobserve(self._on_path, "value")
        self.path.options, self.path.value = targets, self.item.path
        self.path.observe(self._on_path, "value")
        self._changed()

    def _on_path(self, change) -> None:
        self.item.path = change["new"]
        self._changed()

    def _changed(self) -> None:
        following, self._default = self.item.name == self._default, self._default_name()
        if following and self.name.value != self._default:
            self.name.value = self._default  # its observer refreshes
        else:
            self.node.aggregates_changed()

    def _on_name(self, change) -> None:
        old, self.item.name = self.item.name, change["new"].strip()
        if not self.node.state.path:  # the root's order may name it
            self.node.builder.rename_order(old, self.item.name)
        self.node.aggregates_changed()




# ---------------------------------------------------------------------------
# The builder


class Builder:
    """The include builder: state, controls, live SQL, run and export.

    >>> b = explorer.builder("shop.yaml")                       # doctest: +SKIP
    >>> b.node().checkboxes["orders"].value = True              # doctest: +SKIP
    >>> b.query                                                 # doctest: +SKIP
    {'from': 'User', 'include': ['orders']}
    """

    def __init__(self, config: Config, query: Any = None, config_ref: str | None = None):
        self.config = config
        self.config_ref = config_ref
        self.result = None
        self._ready = False
        self._syncing_order = False
        raw = read_query(query) if query is not None else {"from": next(iter(config.models))}
        raw = {("from" if k == "model" else k): v for k, v in raw.items()}
        explorer.parse_query(config, raw)  # a mistake is a QueryError naming it, before any control
        self._build_controls(raw)
        connect_frontend()
        self._ready = True
        self.refresh()

    # -- public API

    @property
    def query(self) -> dict:
        """The include query the controls describe, as a plain dict (what YAML would load)."""
        query: dict[str, Any] = {"from": self.root.state.model, **self.root.state.options()}
        order = [[column, direction] for column, direction in self.order_rows if column]
        if order:
            query["order"] = order
        for key, control in (("limit", self.limit), ("offset", self.offset)):
            if control.value:
                query[key] = control.value
        return query

    @property
    def yaml(self) -> str:
        """The query as YAML, ready for a ``%%crossquery`` cell or a file."""
        return to_yaml(self.query)

    @property
    def cell(self) -> str:
        """The equivalent ``%%crossquery`` cell."""
        ref = self.config_ref or self.config.source
        header = "%%crossquery" + (f" -c {shlex.quote(str(ref))}" if ref else "")
        return f"{header}\n{self.yaml}"

    def statement(self, params: dict[str, Any] | None = None):
        """The compiled (unrun) Statement for the current query."""
        return explorer.prepare(self.config, self.query, params)

    @property
    def sql(self) -> str:
        """The one statement for the current query, formatted."""
        return self.statement(self._params()).to_sql()

    def run(self, params: dict[str, Any] | None = None):
        """Run the query (``:name`` values from ``params`` or the notebook) and show the result."""
        self.result = explorer.run(self.config, self.query, params if params is not None else self._params())
        self.output.clear_output()
        with self.output:
            from IPython.display import display

            display(self.result)
        return self.result

    def export_sql(self, path: str | Path, dialect: str | None = None, literal: bool = False) -> Path:
        """Write the statement as a commented .sql snippet file (see explorer.export)."""
        return self.statement(self._params()).export(path, dialect=dialect, literal=literal)

    def insert_cell(self) -> str:
        """Put the equivalent %%crossquery cell below the current one; return its text.

        Where the front-end cannot insert it (a button outside JupyterLab), the cell is
        shown in the text box to copy.
        """
        if insert_cell_below(self.cell):
            self.status.value = "Inserted a %%crossquery cell below."
        else:
            self._show_text(lambda: self.cell, "This front-end cannot insert a cell from a button; copy this one:")
        return self.cell

    def node(self, path: tuple[str, ...] | str = ()) -> NodeWidget:
        """The controls of a node: ``()`` for the root, ``("orders", "products")`` or "orders.products"."""
        return self.root.node(tuple(path.split(".")) if isinstance(path, str) else tuple(path))

    def refresh(self) -> None:
        """Recompute the order choices and the SQL preview after a change."""
        if not self._ready:
            return
        self._update_order_choices()
        try:
            self.preview.value = sql_html(self.sql)
        except ExplorerError as exc:
            self.preview.value = f'<pre style="color:#a00;{SQL_PRE}">{html.escape(str(exc))}</pre>'
        if self._shown_text is not None:  # the YAML or cell on show follows the controls
            self.yaml_box.value = self._shown_text()

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<Builder on {self.root.state.model}>\n{self.yaml}"

    # -- controls

    def _build_controls(self, raw: dict) -> None:
        self.model = w.Dropdown(options=list(self.config.models), value=raw["from"], description="from")
        self.model.observe(self._on_model, "value")
        self.root_box = w.VBox()
        self._set_root(state_from_options(self.config, raw["from"], raw))
        self.order_rows: list[list[str]] = []
        self.order_box = w.VBox()
        self.add_order = w.Button(description="+ order by", layout=w.Layout(width="120px"))
        self.add_order.on_click(lambda _: self.new_order())
        self.limit = w.BoundedIntText(value=raw.get("limit") or 0, min=0, max=10**9, description="limit")
        self.offset = w.BoundedIntText(value=raw.get("offset") or 0, min=0, max=10**9, description="offset")
        self.limit.observe(lambda _: self.refresh(), "value")
        self.offset.observe(lambda _: self.refresh(), "value")
        self.preview = w.HTML()
        self.output = w.Output()
        self._shown_text: Callable[[], str] | None = None
        self.yaml_box = w.Textarea(layout=w.Layout(width="100%", height="12em", display="none"))
        self.status = w.Label()
        for item in order_items(raw.get("order")):
            self.new_order(*item)
        self.widget = w.VBox([self.model, self.root_box, w.HBox([self.add_order, self.order_box]),
                              w.HBox([self.limit, self.offset]), w.Label("SQL (live preview):"),
                              self.preview, self._buttons(), self.status, self.yaml_box, self.output])

    def _buttons(self) -> w.HBox:
        self.path = w.Text(value="query.sql", description="file", layout=w.Layout(width="240px"))
        self.dialect = w.Dropdown(options=["(server)", "mysql", "mariadb", "sqlite", "postgresql"],
                                  value="(server)", layout=w.Layout(width="110px"))
        self.literal = w.Checkbox(value=False, description="inline values", indent=False,
                                  layout=w.Layout(width="auto"))
        buttons = {"Run": self._on_run, "Write .sql": self._on_export, "Insert cell": self._on_cell,
                   "Show YAML": self._on_yaml}
        widgets = []
        for label, handler in buttons.items():
            button = w.Button(description=label, button_style="primary" if label == "Run" else "")
            button.on_click(handler)
            widgets.append(button)
        return w.HBox([*widgets, self.path, self.dialect, self.literal], layout=w.Layout(flex_flow="row wrap"))

    def _set_root(self, state: NodeState) -> None:
        self.root = NodeWidget(self, state)
        self.root_box.children = [self.root.box]

    def new_order(self, column: str | None = None, direction: str = "asc") -> None:
        """Add an order-by row (column path, asc/desc)."""
        row = [column or "", direction]
        self.order_rows.append(row)
        columns = w.Dropdown(options=self._order_choices(column), value=row[0], layout=w.Layout(width="220px"))
        way = w.ToggleButtons(options=("asc", "desc"), value=direction, style=TOGGLE_STYLE)
        columns.observe(lambda change: self._set_order(row, 0, change["new"]), "value")
        way.observe(lambda change: self._set_order(row, 1, change["new"]), "value")
        self.order_box.children = [*self.order_box.children, w.HBox([columns, way])]
        self.refresh()

    def _set_order(self, row: list[str], index: int, value: str) -> None:
        if self._syncing_order:
            return
        row[index] = value or ""
        self.refresh()

    def rename_order(self, old: str, new: str) -> None:
        """A root aggregate renamed: the order rows that name it follow (a blank name is no rename)."""
        for row in self.order_rows:
            if old and new and row[0] == old:
                row[0] = new

    def _order_choices(self, keep: str | None = None) -> list[str]:
        """Every column of the included paths, then the root's aggregates (attributes of the root)."""
        choices = [""]
        stack = [self.root.state]
        while stack:
            state = stack.pop(0)
            prefix = ".".join(state.path) + "." if state.path else ""
            choices += [prefix + str(c) for c in self.config.columns(state.model)]
            stack.extend(state.children.values())
        choices += [name for name in self.root.state.aggregate() if name not in choices]
        return choices + ([keep] if keep and keep not in choices else [])

    def _update_order_choices(self) -> None:
        for box, row in zip(self.order_box.children, self.order_rows):
            dropdown = box.children[0]
            choices = self._order_choices(row[0])
            if list(dropdown.options) != choices or dropdown.value != row[0]:
                self._syncing_order = True  # new options reset the value on the way
                dropdown.options = choices
                dropdown.value = row[0]
                self._syncing_order = False

    # -- button and model observers

    def _on_model(self, change) -> None:
        self._set_root(NodeState(change["new"]))
        self.order_rows.clear()
        self.order_box.children = []
        self.refresh()

    def _on_run(self, _button) -> None:
        try:
            result = self.run()
            self.status.value = f"Ran: {result.root_count} root rows, {result.row_count} joined rows."
        except ExplorerError as exc:
            self.status.value = f"Error: {exc}"

    def _on_export(self, _button) -> None:
        dialect = None if self.dialect.value == "(server)" else self.dialect.value
        try:
            path = self.export_sql(self.path.value, dialect=dialect, literal=self.literal.value)
            self.status.value = f"Wrote {path}"
        except ExplorerError as exc:
            self.status.value = f"Error: {exc}"

    def _on_cell(self, _button) -> None:
        self.insert_cell()

    def _on_yaml(self, _button) -> None:
        self._show_text(lambda: self.yaml, "The query as YAML (select and copy):")

    def _show_text(self, text: Callable[[], str], status: str) -> None:
        self._shown_text = text
        self.yaml_box.layout.display = None
        self.yaml_box.value = text()
        self.status.value = status

    def _params(self) -> dict[str, Any]:
        """Values of ``:name`` placeholders from the notebook's variables."""
        from IPython import get_ipython

        shell = get_ipython()
        names = explorer.parse_query(self.config, self.query).param_names
        namespace = shell.user_ns if shell is not None else {}
        return {name: namespace[name] for name in names if name in namespace}


def builder(config: Config, query: Any = None, config_ref: str | None = None) -> Builder:
    """Open the visual include builder on a loaded config, optionally on an existing query.

    ``config_ref`` is how the exported ``%%crossquery`` cell names the config
    (``-c shop.yaml`` or a variable); by default the config's file, if any.

    >>> explorer.builder(config, query="from: User\\ninclude: [orders]")  # doctest: +SKIP
    """
    return Builder(config, query=query, config_ref=config_ref)
