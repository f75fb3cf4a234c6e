"""The config as a Mermaid ER diagram: models grouped by database, associations labelled.

JupyterLab renders a fenced ``mermaid`` block in Markdown output, so
``explorer.diagram(config)`` (or ``%crossquery diagram``) draws the models
without any extension. Models are listed database by database and titled
``Model (database)``; an association that crosses databases is drawn dashed
and labelled with the databases it joins. A legend below names each database
and where it lives, with the password masked.
"""

from __future__ import annotations

import re
from typing import Any

from .config import Association, Config, load_config
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

    def __init__(self, config: Config):
        self.config = config

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
        foreign = self._foreign_keys().get(name, set())
        keys = list(dict.fromkeys([*model.primary_key, *sorted(foreign)]))
        attributes = [f'        key {_ident(c)} {_markers(c, model.primary_key, foreign)}'.rstrip()
                      for c in keys]
        title = _quote(f"{name} ({database}.{model.table})")
        return [f"    {_ident(name)}[{title}] {{", *attributes, "    }"]

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


def diagram(config: Any) -> Diagram:
    """A Mermaid ER diagram of ``config`` (a path, dict or Config); Jupyter renders it.

    >>> explorer.diagram("shop.yaml")  # doctest: +SKIP
    """
    return Diagram(load_config(config))


def _ident(name: str) -> str:
    """A Mermaid-safe identifier for a model or column name."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return cleaned if cleaned[:1].isalpha() else f"m_{cleaned}"


def _quote(text: str) -> str:
    """A Mermaid quoted string; Mermaid allows neither '"' nor '%' inside one."""
    return '"' + text.replace('"', "'").replace("%", " pct") + '"'


def _markers(column: str, primary: tuple[str, ...], foreign: set[str]) -> str:
    marks = [m for m, on in (("PK", column in primary), ("FK", column in foreign)) if on]
    return ", ".join(marks)
