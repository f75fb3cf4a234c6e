"""The config as a Mermaid ER diagram: models grouped by database, associations labelled.

JupyterLab renders a fenced ``mermaid`` block in Markdown output, so
``explorer.diagram(config)`` (or ``%crossquery diagram``) draws the models
without any extension. Models are listed database by database and titled
``Model (database.table)``; an association that crosses databases is drawn dashed
and labelled with the databases it joins. A legend below names each database
and where it lives, with the password masked. By default an entity lists only
its key columns; ``columns=True`` lists every column with its SQL type.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from .config import Association, Config, Model, load_config
from .engines.base import mask_url

# Mermaid crow's-foot ends: (left end, right end) for source -> target.
_CARDINALITY = {
    "has_one": ("||", "o|"),
    "has_many": ("||", "o{"),
    "belongs_to": ("}o", "o|"),
    "belongs_to_many": ("}o", "o{"),
}


class Diagram:
    """A Mermaid ``erDiagram`` of a config; shows itself as Markdown in Jupyter."""

    def __init__(self, config: Config, columns: bool = False):
        self.config = config
        self.columns = columns  # every column with its type (reads the live tables), not only the keys

    @property
    def mermaid(self) -> str:
        """The diagram's Mermaid source (without the fence)."""
        return "\n".join(["erDiagram", *self._entities(), *self._relationships()])

    def cross_database(self) -> list[Association]:
        """Every association whose join crosses from one database to another."""
        return [a for m in self.config.models.values() for a in m.associations.values()
                if len(self._databases_of(a)) > 1]

    def legend(self) -> str:
        """Markdown lines: each database, where it lives (masked), its models; the crossings."""
        lines = ["", "**Databases**", ""]
        for database, models in self._by_database().items():
            url = mask_url(self.config.databases[database].url)
            lines.append(f"- `{database}` ({url}): {', '.join(models)}")
        crossing = [f"{a.source}.{a.name} ({' → '.join(self._databases_of(a))})"
                    for a in self.cross_database()]
        if crossing:
            lines += ["", "**Cross-database joins** (dashed): " + "; ".join(crossing)]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.mermaid}\n```\n{self.legend()}\n"

    def __repr__(self) -> str:
        return self.mermaid + "\n" + self.legend()

    def _by_database(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {name: [] for name in self.config.databases}
        for model in self.config.models.values():
            groups[model.database].append(model.name)
        return {name: models for name, models in groups.items() if models}

    def _entities(self) -> list[str]:
        lines = []
        for database, models in self._by_database().items():
            lines.append(f"%% database {database}")
            for name in models:
                lines += self._entity(name, database)
        return lines

    def _entity(self, name: str, database: str) -> list[str]:
        model = self.config.models[name]
        title = _quote(f"{name} ({database}.{model.table})")
        return [f"    {_ident(name)}[{title}] {{", *self._attributes(model), "    }"]

    def _attributes(self, model: Model) -> list[str]:
        """The entity's rows: its keys (``key id PK``), or with ``columns`` every column and its type."""
        foreign = self._foreign_keys().get(model.name, set())
        if not self.columns:
            keys = dict.fromkeys([*model.primary_key, *sorted(foreign)])
            return [_attribute("key", c, _markers(c, model.primary_key, foreign)) for c in keys]
        self.config.check_columns([model.name])  # columns listed in the config: their live types
        rows = []
        for column in self.config.columns(model.name):
            kind, comment = self._type_of(model, column)
            rows.append(_attribute(kind, column, _markers(column, model.primary_key, foreign), comment))
        return rows

    def _type_of(self, model: Model, column: str) -> tuple[str, str]:
        """The column's type as the model's server spells it, as a Mermaid type (and comment)."""
        sql_type = self.config.column_type(model.name, column)
        if isinstance(sql_type, sa.types.NullType):  # a SQLite column declared without a type
            return "untyped", ""
        dialect = self.config.databases[model.database].url.get_dialect()()
        try:
            return _type_token(sql_type.compile(dialect=dialect))
        except sa.exc.CompileError:
            return _type_token(type(sql_type).__name__)

    def _foreign_keys(self) -> dict[str, set[str]]:
        """Model name -> its columns that some association uses as a foreign key."""
        keys: dict[str, set[str]] = {}
        for model in self.config.models.values():
            for a in model.associations.values():
                holder = {"belongs_to": a.source, "belongs_to_many": a.through}.get(a.kind, a.target)
                keys.setdefault(holder, set()).update(a.foreign_key, a.other_key)
        return keys

    def _relationships(self) -> list[str]:
        lines = []
        for model in self.config.models.values():
            for association in model.associations.values():
                lines.append(self._relationship(association))
        return lines

    def _relationship(self, association: Association) -> str:
        left, right = _CARDINALITY[association.kind]
        databases = self._databases_of(association)
        line = ".." if len(databases) > 1 else "--"
        label = association.name
        if association.through:
            label += f" via {association.through}"
        if len(databases) > 1:
            label += " ⇄ " + " → ".join(databases)
        source, target = _ident(association.source), _ident(association.target)
        return f"    {source} {left}{line}{right} {target} : {_quote(label)}"

    def _databases_of(self, association: Association) -> list[str]:
        models = [association.source, association.through, association.target]
        return list(dict.fromkeys(self.config.models[m].database for m in models if m))


def diagram(config: Any, columns: bool = False) -> Diagram:
    """A Mermaid ER diagram of ``config`` (a path, dict or Config); Jupyter renders it.

    Each model shows its key columns; ``columns=True`` shows every column with its
    type (``decimal(10,2) total``), read from the live tables.

    >>> explorer.diagram("shop.yaml", columns=True)  # doctest: +SKIP
    """
    return Diagram(load_config(config), columns=columns)


def _ident(name: str) -> str:
    """A Mermaid-safe identifier for a model or column name."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return cleaned if cleaned[:1].isalpha() else f"m_{cleaned}"


def _column(name: str) -> str:
    """A Mermaid-safe attribute name; Mermaid would read a column named ``pk`` as a key mark."""
    cleaned = _ident(name)
    return cleaned + "_" if cleaned.upper() in ("PK", "FK", "UK") else cleaned


def _type_token(text: str) -> tuple[str, str]:
    """Mermaid's one-word attribute type for a SQL type, and the full type as a comment when
    the word cannot hold it: ``DECIMAL(10, 2)`` -> ``decimal(10,2)``, ``TIMESTAMP WITH TIME
    ZONE`` -> ``timestamp_with_time_zone``, ``ENUM('a','b')`` -> ``enum`` and the comment."""
    text = re.sub(r"\s+(CHARACTER SET|COLLATE)\s+\S+", "", text).strip()  # not the type itself
    token = re.sub(r"\s*,\s*", ",", text.lower()).replace(" ", "_")
    if re.fullmatch(r"[a-z_][\w\-\[\]().,]*", token, re.ASCII):
        return token, ""
    word = re.match(r"[a-z_]\w*", token, re.ASCII)
    return (word.group() if word else "type"), text


def _attribute(kind: str, column: str, marks: str, comment: str = "") -> str:
    """One ``type name PK, FK "comment"`` row of an entity block."""
    words = [kind, _column(column), marks, _quote(comment) if comment else ""]
    return "        " + " ".join(word for word in words if word)


def _quote(text: str) -> str:
    """A Mermaid quoted string; Mermaid allows neither '"' nor '%' inside one."""
    return '"' + text.replace('"', "'").replace("%", " pct") + '"'


def _markers(column: str, primary: tuple[str, ...], foreign: set[str]) -> str:
    marks = [m for m, on in (("PK", column in primary), ("FK", column in foreign)) if on]
    return ", ".join(marks)
