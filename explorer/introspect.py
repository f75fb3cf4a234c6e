"""Draft an association config from live schemas (``crossquery init URL [URL ...]``).

``draft_config(urls)`` reflects every table of each database with SQLAlchemy's
Inspector and writes a model per table, a ``belongs_to`` per foreign key (across
databases of one server too), the inverse ``has_many`` (``has_one`` where the key is
unique), a ``belongs_to_many`` both ways through each junction table, and, where no
constraint exists, associations inferred from column names (marked with a comment,
and with ``inferred: true`` once the config loader accepts that key).

Each URL is read as follows:

- MySQL/MariaDB: the URL names ONE database (``mysql+pymysql://u@h:3306/shop``); it
  becomes the logical database ``shop``. Give one URL per database; a foreign key into
  a database of the same server that is not among the URLs is reported in the notes.
- PostgreSQL: the URL names a database; every non-system schema of it that holds
  tables becomes one logical database named after the schema, written with
  ``schema:``. ``?schema=sales`` (repeatable, or ``?schema=sales,hr``) restricts it to
  those schemas; that parameter is only read here and never written to the config.
- SQLite: the URL names a file (``sqlite:///shop.db``); the logical database is the
  file's stem and the URL is written with the absolute path. SQLite cannot enforce a
  foreign key into another file, but one declared to a table that only another file
  holds is resolved to it (and noted).

Logical names keep letters, digits and ``_``; a name taken twice gets ``_2``, ``_3``
in URL order. A password is used only to connect: the config gets
``password: ${<NAME>_PASSWORD}`` (one variable per server, named after its first
logical database) with a comment saying which variable to set.

Naming: models are singular PascalCase of the table (``invoice_lines`` ->
``InvoiceLine``; a name taken by another database's table is prefixed with that
database, ``ArchiveUser``); ``belongs_to`` is named from the column (``author_id`` ->
``author``, ``SupportRepId`` -> ``support_rep``), ``has_many``/``belongs_to_many``
from the target table's plural (``orders``), ``has_one`` from its singular. When
several keys link the same two tables (or a table to itself through a junction), the
column's role qualifies the name (``sender_messages``, ``friends``). A name is never a
column of its model nor taken twice: it gets a suffix (``_ref``, ``_by_<role>``,
``_via_<junction>``, then ``_2``...), always in the same order, so a second run gives
the same file.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from .config import ASSOCIATION_KEYS
from .engines.base import HINTS, backend_for, driver_message, mask_url, scrub
from .errors import ConfigError

SUPPORTED = ("mysql", "mariadb", "postgresql", "sqlite")
PG_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")
CONNECT_TIMEOUT = 10  # seconds; an unreachable host must fail fast, not hang the CLI
# The loader may accept `inferred: true` on an association (SPEC); write it only if it does.
WRITE_INFERRED_KEY = "inferred" in ASSOCIATION_KEYS
INFERRED_COMMENT = "inferred from the column name: no foreign key constraint"


@dataclass
class Draft:
    """A drafted config: ``data`` (loadable by explorer.load_config), ``yaml`` (the same
    with comments) and ``notes`` (what was inferred, skipped or needs a decision)."""

    data: dict
    yaml: str
    notes: list[str]


def draft_config(urls: list[str]) -> Draft:
    """Draft a config from the live schemas behind ``urls`` (see the module docstring).

    Raises ConfigError, naming the (masked) URL, when a server cannot be reached, a
    database or schema does not exist, or a database holds no tables.
    """
    if not urls:
        raise ConfigError("crossquery init needs at least one database URL.")
    notes: list[str] = []
    sources = _assign_names([source for url in urls for source in _open(url, notes)])
    tables = [table for source in sources for table in source.tables]
    _name_models(tables)
    links = _declared_links(tables, sources, notes)
    links += _inferred_links(tables, links, notes)
    junctions = _junctions(tables, links)
    _key_junctions(junctions)
    assocs = _associations(tables, links, junctions)
    data, comments = _build_data(sources, tables, assocs, notes)
    text = _render(data, comments, len(sources))
    if yaml.safe_load(text) != data:  # the comments and quoting must never change the config
        raise RuntimeError("crossquery init rendered YAML that does not match its config (a bug)")
    return Draft(data, text, notes)


def write_yaml(draft: Draft, path: str | Path) -> Path:
    """Write the draft's YAML to ``path`` (refusing nothing: the CLI decides about overwriting)."""
    path = Path(path)
    path.write_text(draft.yaml, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# Reading the databases


@dataclass
class Source:
    """One logical database of the draft."""

    name: str
    url: URL  # with the password, to connect; never written
    schema: str | None  # as the server knows it: MySQL database, PostgreSQL schema, None for SQLite
    backend: str  # mysql | postgresql | sqlite
    tables: list[Table] = field(default_factory=list)

    @property
    def server(self) -> tuple:
        """Sources with equal keys are joined by one statement (all SQLite files attach to one)."""
        if self.backend == "sqlite":
            return ("sqlite",)
        return (self.backend, self.url.host or "localhost", self.url.port, self.url.username)


@dataclass
class Table:
    source: Source
    name: str
    columns: list[dict]
    primary_key: list[str]
    pk_comment: str | None  # why the written primary key is what it is, when not a constraint
    foreign_keys: list[dict]
    unique_sets: list[frozenset]
    model: str = ""

    @property
    def singular(self) -> str:
        """The table as a singular snake_case word: ``invoice_lines`` -> ``invoice_line``."""
        return _singular_snake(self.name)

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    @property
    def key(self) -> list[str]:
        """The columns that identify a row: the primary key, or id as the config assumes."""
        return self.primary_key or (["id"] if "id" in self.column_names else [])

    def is_unique(self, columns: tuple[str, ...]) -> bool:
        return frozenset(columns) == frozenset(self.key) or frozenset(columns) in self.unique_sets


def _open(text: str, notes: list[str]) -> list[Source]:
    """The logical databases behind one URL, reflected (names assigned later)."""
    url = _parse_url(text)
    kind = url.get_backend_name()
    if kind == "sqlite":
        url = _sqlite_url(url)
    elif kind in ("mysql", "mariadb") and not url.database:
        raise ConfigError(f"{mask_url(url)} names no database: give one URL per database, "
                          f"e.g. {mask_url(url.set(database='shop'))}.")
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            sources = _sources_of(url, kind, inspector)
            with warnings.catch_warnings():
                # A type SQLAlchemy does not know (PostGIS geometry...) is only a column to us.
                warnings.simplefilter("ignore", sa.exc.SAWarning)
                for source in sources:
                    source.tables = _reflect_tables(inspector, source, notes)
    except sa.exc.DBAPIError as exc:
        raise _server_error(url, exc) from None
    finally:
        engine.dispose()
    if not any(s.tables for s in sources):
        raise ConfigError(f"The database at {mask_url(url)} has no tables to draft a config from.")
    for source in sources:
        if not source.tables and source.schema in _requested_schemas(url):  # asked for, so say why not
            notes.append(f"Schema {source.schema} of {mask_url(url)} holds no tables; it is left out.")
    return [s for s in sources if s.tables]


def _parse_url(text: str) -> URL:
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError(f"Not a database URL: {scrub(str(text), [])!r}; write e.g. "
                          "mysql+pymysql://user@host:3306/shop.") from None
    if url.get_backend_name() not in SUPPORTED:
        raise ConfigError(f"{mask_url(url)}: crossquery init reads MySQL/MariaDB, PostgreSQL and SQLite "
                          f"databases, not {url.get_backend_name()!r}.")
    return url


def _sqlite_url(url: URL) -> URL:
    # Never let SQLite create an empty file for a mistyped path.
    if not url.database or url.database == ":memory:":
        raise ConfigError(f"{mask_url(url)}: an in-memory SQLite database has no tables; name a file.")
    path = Path(url.database).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{mask_url(url)}: the SQLite file {str(path)!r} does not exist.")
    return url.set(database=str(path))


def _engine(url: URL) -> sa.Engine:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() != "sqlite" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    try:
        return sa.create_engine(url.difference_update_query(["schema"]), poolclass=NullPool,
                                connect_args=connect_args)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError(f"Cannot open {mask_url(url)}: the driver {url.drivername!r} is not available "
                          f"({exc}); {HINTS['driver_missing']}.") from None


def _server_error(url: URL, exc: sa.exc.DBAPIError) -> ConfigError:
    orig = getattr(exc, "orig", None) or exc
    kind = backend_for(url).error_kind(orig)
    hint = f"; {HINTS[kind]}" if kind in HINTS else ""
    text = f"Could not read the database at {mask_url(url)} ({driver_message(orig)}){hint}."
    return ConfigError(scrub(text, [url.password]))


def _sources_of(url: URL, kind: str, inspector) -> list[Source]:
    if kind == "sqlite":
        return [Source(Path(url.database).stem, url, None, "sqlite")]
    if kind in ("mysql", "mariadb"):
        return [Source(url.database, url, url.database, "mysql")]
    present = [s for s in inspector.get_schema_names()
               if s not in PG_SYSTEM_SCHEMAS and not s.startswith("pg_")]
    wanted = _requested_schemas(url)
    missing = [s for s in wanted if s not in present]
    if missing:
        raise ConfigError(f"The database at {mask_url(url)} has no schema {', '.join(map(repr, missing))}; "
                          f"it has: {', '.join(present) or 'none'}.")
    return [Source(schema, url, schema, "postgresql") for schema in (wanted or sorted(present))]


def _requested_schemas(url: URL) -> list[str]:
    value = url.query.get("schema", ())
    values = [value] if isinstance(value, str) else list(value)
    return [name.strip() for item in values for name in item.split(",") if name.strip()]


def _reflect_tables(inspector, source: Source, notes: list[str]) -> list[Table]:
    """The source's tables, ordered by their singular (Order, OrderLine, ...) so related ones sit together."""
    tables = []
    for name in inspector.get_table_names(schema=source.schema):
        try:
            tables.append(_reflect_table(inspector, source, name))
        except sa.exc.NoSuchTableError:  # dropped while we read the schema
            notes.append(f"Table {source.name}.{name} disappeared while it was read; it is left out.")
    return sorted(tables, key=lambda t: (t.singular, t.name))


def _reflect_table(inspector, source: Source, name: str) -> Table:
    schema = source.schema
    fk_options = {"postgresql_ignore_search_path": True} if source.backend == "postgresql" else {}
    columns = inspector.get_columns(name, schema=schema)
    primary_key = list(inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
    uniques = [tuple(u["column_names"]) for u in inspector.get_unique_constraints(name, schema=schema)]
    uniques += [tuple(i["column_names"]) for i in inspector.get_indexes(name, schema=schema)
                if i.get("unique") and all(i.get("column_names") or [None])]
    table = Table(source, name, columns, primary_key, None,
                  inspector.get_foreign_keys(name, schema=schema, **fk_options),
                  [frozenset(u) for u in uniques])
    if not primary_key:
        _choose_primary_key(table, uniques)
    return table


def _choose_primary_key(table: Table, uniques: list[tuple]) -> None:
    """A table without a primary key: a unique key of NOT NULL columns stands in, if there is one."""
    nullable = {c["name"]: c.get("nullable", True) for c in table.columns}
    for columns in uniques:
        if not any(nullable.get(c, True) for c in columns):
            table.primary_key = list(columns)
            table.pk_comment = "no primary key constraint: a unique key of NOT NULL columns"
            return
    if "id" in table.column_names:
        table.pk_comment = "no primary key constraint: the id column is assumed to identify a row"
    else:
        table.pk_comment = ("no primary key: set primary_key: to the column(s) that identify a row "
                            "before querying this model")


def _assign_names(sources: list[Source]) -> list[Source]:
    """Logical names: letters, digits and _, unique in URL order (shop, shop_2, ...)."""
    taken: set[str] = set()
    for source in sources:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", source.name).strip("_") or "db"
        # SQLite files are attached under their logical names, and main/temp are SQLite's own.
        reserved = {"main", "temp"} if source.backend == "sqlite" else set()
        source.name = _first_free([f"{base}_db" if base.lower() in reserved else base], taken)
        taken.add(source.name.lower())
    return sources


# ---------------------------------------------------------------------------
# Names


def _snake(name: str) -> str:
    """``SupportRepId`` -> ``support_rep_id``, ``HTTPStatus`` -> ``http_status``, ``a-b`` -> ``a_b``."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


UNCOUNTABLE = {"data", "metadata", "info", "information", "news", "series", "species", "equipment",
               "feedback", "staff", "sheep", "fish", "media", "inventory", "software", "audio"}
PLURAL_OF = {"person": "people", "child": "children", "man": "men", "woman": "women", "mouse": "mice",
             "goose": "geese", "foot": "feet", "tooth": "teeth", "ox": "oxen", "analysis": "analyses",
             "crisis": "crises", "thesis": "theses", "axis": "axes", "index": "indexes", "quiz": "quizzes",
             "criterion": "criteria", "matrix": "matrices", "vertex": "vertices", "movie": "movies",
             "cookie": "cookies", "cache": "caches", "status": "statuses", "alias": "aliases", "bus": "buses",
             "bonus": "bonuses", "campus": "campuses", "virus": "viruses"}
SINGULAR_OF = {plural: singular for singular, plural in PLURAL_OF.items()} | {"indices": "index"}


def singularize(word: str) -> str:
    """Simple English singular of a lower-case word: ies->y, (ss|x|ch|sh)es->-es, s->''."""
    if word in UNCOUNTABLE or word in PLURAL_OF:
        return word
    if word in SINGULAR_OF:
        return SINGULAR_OF[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")) or not word.endswith("s") or len(word) < 3:
        return word
    return word[:-1]


def pluralize(word: str) -> str:
    """Simple English plural of a lower-case word: y->ies, (s|x|z|ch|sh)->+es, else +s."""
    if word in UNCOUNTABLE:
        return word
    if word in PLURAL_OF:
        return PLURAL_OF[word]
    if word in SINGULAR_OF:  # already plural
        return word
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _last_word(snake: str, change) -> str:
    head, _, last = snake.rpartition("_")
    return f"{head}_{change(last)}" if head else change(last)


def _singular_snake(table: str) -> str:
    snake = _snake(table) or "table"
    return _last_word(snake, singularize)


def _plural_snake(singular: str) -> str:
    return _last_word(singular, pluralize)


def _pascal(snake: str) -> str:
    name = "".join(part.capitalize() for part in snake.split("_") if part)
    return name if name[:1].isalpha() else f"T{name}"


def _role(columns: tuple[str, ...], target: Table) -> str:
    """What a key column calls its target: ``author_id`` -> ``author``; a composite key -> the table."""
    if len(columns) != 1:
        return target.singular
    snake = _snake(columns[0])
    base = snake[:-3] if snake.endswith("_id") and len(snake) > 3 else snake
    if base == f"{target.singular}id":  # authorid (PostgreSQL folds AuthorId to it) -> author
        return target.singular
    return "" if base == "id" else base or target.singular


def _first_free(candidates: list[str], taken: set[str]) -> str:
    """The first candidate not taken (case-insensitively), else the first with _2, _3, ..."""
    for name in candidates:
        if name and name.lower() not in taken:
            return name
    number = 2
    while f"{candidates[0]}_{number}".lower() in taken:
        number += 1
    return f"{candidates[0]}_{number}"


def _name_models(tables: list[Table]) -> None:
    """Singular PascalCase of the table; a name already taken is prefixed with its database."""
    taken: set[str] = set()
    for table in tables:
        base = _pascal(table.singular)
        table.model = _first_free([base, _pascal(_snake(table.source.name)) + base], taken)
        taken.add(table.model.lower())


# ---------------------------------------------------------------------------
# Links: foreign keys, declared or inferred


@dataclass
class Link:
    """``child.columns`` point at ``parent.referred``."""

    child: Table
    columns: tuple[str, ...]
    parent: Table
    referred: tuple[str, ...]
    inferred: bool = False
    comment: str | None = None

    @property
    def unique(self) -> bool:
        return self.child.is_unique(self.columns)


def _declared_links(tables: list[Table], sources: list[Source], notes: list[str]) -> list[Link]:
    links = []
    for table in tables:
        for fk in sorted(table.foreign_keys, key=lambda f: tuple(f["constrained_columns"])):
            parent, comment = _referred_table(table, fk, sources, notes)
            if parent is not None:
                links.append(Link(table, tuple(fk["constrained_columns"]), parent,
                                  tuple(fk["referred_columns"]), comment=comment))
    return links


def _referred_table(table: Table, fk: dict, sources: list[Source], notes: list[str]):
    """(the Table a foreign key refers to, a comment) or (None, None) with a note saying why."""
    source = table.source
    schema = fk.get("referred_schema") or source.schema
    where = f"{source.name}.{table.name}({', '.join(fk['constrained_columns'])})"
    same_server = [s for s in sources if s.server == source.server]
    owner = next((s for s in same_server if s.schema == schema), None)
    found = _table_named(owner, fk["referred_table"]) if owner else None
    if found is None and source.backend == "sqlite":
        # SQLite cannot reach into another file: a key to a table only another file holds means that one.
        others = [t for s in same_server if s is not source
                  for t in [_table_named(s, fk["referred_table"])] if t is not None]
        if len(others) == 1:
            found = others[0]
            notes.append(f"Foreign key {where} names table {fk['referred_table']!r}, which only "
                         f"{found.source.name} holds: drafted as {table.model} -> {found.model}.")
            return found, f"declared to table {fk['referred_table']!r}, found in {found.source.name}"
    if found is None:
        target = f"{schema}.{fk['referred_table']}" if schema else fk["referred_table"]
        hint = " (add its URL to draft it too)" if owner is None and schema else ""
        notes.append(f"Foreign key {where} -> {target} skipped: that table is not in the draft{hint}.")
    return found, None


def _table_named(source: Source | None, name: str) -> Table | None:
    return next((t for t in source.tables if t.name == name), None) if source else None


def _inferred_links(tables: list[Table], declared: list[Link], notes: list[str]) -> list[Link]:
    """For a column no constraint covers, a link to the table its name names (user_id -> users)."""
    covered = {(id(link.child), column) for link in declared for column in link.columns}
    by_singular: dict[str, list[Table]] = {}
    for table in tables:
        by_singular.setdefault(table.singular, []).append(table)
    links = []
    for table in tables:
        for column in table.columns:
            if (id(table), column["name"]) in covered:
                continue
            link = _infer_link(table, column, by_singular)
            if link is not None:
                links.append(link)
                notes.append(f"Inferred {table.model}.{column['name']} -> {link.parent.model}."
                             f"{link.referred[0]} from the column name (no foreign key constraint).")
    return links


def _infer_link(table: Table, column: dict, by_singular: dict[str, list[Table]]) -> Link | None:
    snake = _snake(column["name"])
    is_key_name = snake.endswith("_id") and len(snake) > 3
    base = _last_word(snake[:-3] if is_key_name else snake, singularize)
    if base not in by_singular and snake.endswith("id") and len(snake) > 2:
        base = snake[:-2]  # authorid: a name folded to lower case, as PostgreSQL does
    candidates = [t for t in by_singular.get(base, []) if len(t.key) == 1]
    # Prefer the table's own database, then its server, then the first in URL order.
    candidates.sort(key=lambda t: (t.source is not table.source, t.source.server != table.source.server))
    for target in candidates:
        if target is table and column["name"] in table.key:
            continue  # a table's own key column (users.user_id) does not point at itself
        key = next(c for c in target.columns if c["name"] == target.key[0])
        if _compatible(column["type"], key["type"]):
            return Link(table, (column["name"],), target, (key["name"],), inferred=True)
    return None


def _compatible(left, right) -> bool:
    """Both numbers, both text, or a type we cannot tell (a column `user` of text is no key to users.id)."""
    families = {_family(left), _family(right)}
    return len(families) == 1 or None in families


def _family(sql_type) -> str | None:
    try:
        python = sql_type.python_type
    except (NotImplementedError, AttributeError):
        return None
    if python is bool:
        return "bool"
    if python in (int, float) or getattr(python, "__name__", "") == "Decimal":
        return "number"
    return "text" if python in (str, bytes) else python.__name__


# ---------------------------------------------------------------------------
# Associations


@dataclass
class Assoc:
    owner: Table
    name: str
    spec: dict
    comment: str | None = None


def _associations(tables: list[Table], links: list[Link],
                  junctions: list[tuple[Table, Link, Link]]) -> list[Assoc]:
    """Every association, named in a fixed order: belongs_to, then the inverses, then junctions."""
    taken = {id(t): {c.lower() for c in t.column_names} for t in tables}
    result: list[Assoc] = []

    def add(owner: Table, candidates: list[str], spec: dict, inferred: bool, comment: str | None = None):
        name = _first_free(candidates, taken[id(owner)])
        taken[id(owner)].add(name.lower())
        if inferred and WRITE_INFERRED_KEY:
            spec["inferred"] = True
        result.append(Assoc(owner, name, spec, INFERRED_COMMENT if inferred else comment))

    for link in links:
        role = _role(link.columns, link.parent) or link.parent.singular
        qualified = f"{role}_{link.parent.singular}" if role != link.parent.singular else ""
        add(link.child, [role, qualified, f"{role}_ref"], _belongs_to(link), link.inferred, link.comment)
    for link in links:
        add(link.parent, *_inverse(link, links), link.inferred)
    pairs = Counter(frozenset((id(a.parent), id(b.parent))) for _, a, b in junctions)
    for junction, first, second in junctions:
        # Through a self-junction, or one of several junctions of a pair, the far role names it.
        ambiguous = first.parent is second.parent or pairs[frozenset((id(first.parent), id(second.parent)))] > 1
        for near, far in ((first, second), (second, first)):
            add(near.parent, _many_names(far, junction, ambiguous), _many(junction, near, far),
                near.inferred or far.inferred)
    return result


def _keys(columns: tuple[str, ...]):
    return columns[0] if len(columns) == 1 else list(columns)


def _belongs_to(link: Link) -> dict:
    spec = {"belongs_to": link.parent.model, "foreign_key": _keys(link.columns)}
    if list(link.referred) != link.parent.key:
        spec["target_key"] = _keys(link.referred)
    return spec


def _inverse(link: Link, links: list[Link]) -> tuple[list[str], dict]:
    """(name candidates, spec) of the has_one/has_many on the parent."""
    kind = "has_one" if link.unique else "has_many"
    word = link.child.singular if link.unique else _plural_snake(link.child.singular)
    role = _role(link.columns, link.parent)
    # Several keys from one table to the same parent: the column's role tells them apart.
    twins = [other for other in links if other.child is link.child and other.parent is link.parent]
    qualified = len(twins) > 1 and role != link.parent.singular
    first = f"{role}_{word}" if qualified and role else word
    spec = {kind: link.child.model, "foreign_key": _keys(link.columns)}
    if list(link.referred) != link.parent.key:
        spec["source_key"] = _keys(link.referred)
    return [first, f"{word}_by_{role}" if role else word], spec


def _junctions(tables: list[Table], links: list[Link]) -> list[tuple[Table, Link, Link]]:
    """Tables whose primary key is two foreign keys (or that hold just the two key columns)."""
    found = []
    for table in tables:
        own = [link for link in links if link.child is table]
        key = set(table.primary_key)
        pair = [link for link in own if set(link.columns) <= key] if key else own
        columns = [c for link in pair for c in link.columns]
        whole = key or set(table.column_names)
        if len(pair) == 2 and len(columns) == len(set(columns)) and set(columns) == whole:
            found.append((table, pair[0], pair[1]))
    return found


def _key_junctions(junctions: list[tuple[Table, Link, Link]]) -> None:
    """A junction without a primary key is keyed by its two key columns (the loader needs a key)."""
    for table, first, second in junctions:
        if not table.primary_key:
            table.primary_key = [*first.columns, *second.columns]
            table.pk_comment = "no primary key constraint: the junction's two key columns identify a row"


def _many_names(far: Link, junction: Table, ambiguous: bool) -> list[str]:
    """``products`` for Order through order_products; the far column's role when ambiguous."""
    role = _role(far.columns, far.parent)
    first = _plural_snake(role if ambiguous and role else far.parent.singular)
    return [first, f"{first}_via_{junction.singular}"]


def _many(junction: Table, near: Link, far: Link) -> dict:
    spec = {"belongs_to_many": far.parent.model, "through": junction.model,
            "foreign_key": _keys(near.columns), "other_key": _keys(far.columns)}
    if list(near.referred) != near.parent.key:
        spec["source_key"] = _keys(near.referred)
    if list(far.referred) != far.parent.key:
        spec["target_key"] = _keys(far.referred)
    return spec


# ---------------------------------------------------------------------------
# The config and its YAML


def _build_data(sources: list[Source], tables: list[Table], assocs: list[Assoc], notes: list[str]):
    """(config dict, comments by key path)."""
    comments: dict[tuple, str] = {}
    databases = {}
    variables: dict[tuple, str] = {}
    for source in sources:
        databases[source.name] = _database_entry(source, variables, comments, notes)
    models = {}
    for table in tables:
        entry: dict[str, Any] = {"database": table.source.name, "table": table.name}
        if table.primary_key and table.primary_key != ["id"]:
            entry["primary_key"] = _keys(tuple(table.primary_key))
        if table.pk_comment:
            comments[("models", table.model)] = table.pk_comment
            notes.append(f"{table.model} (table {table.source.name}.{table.name}): {table.pk_comment}.")
        soft_delete = _soft_delete_column(table)
        if soft_delete:  # suggested, never written: paranoid hides rows, which a draft must not decide
            suggestion = f"{soft_delete} looks like a soft-delete column: add paranoid: {soft_delete} to hide its rows"
            comments.setdefault(("models", table.model), suggestion)
            notes.append(f"{table.model} (table {table.source.name}.{table.name}): {suggestion}.")
        own = [a for a in assocs if a.owner is table]
        if own:
            entry["associations"] = {a.name: a.spec for a in own}
            for a in own:
                if a.comment:
                    comments[("models", table.model, "associations", a.name)] = a.comment
        models[table.model] = entry
    return {"databases": databases, "models": models}, comments


SOFT_DELETE_NAMES = ("deleted_at", "deletedAt", "deleted_on", "removed_at")


def _soft_delete_column(table: Table) -> str | None:
    """A nullable date/time column named like Sequelize's deletedAt, for a paranoid: suggestion."""
    for column in table.columns:
        if column["name"] in SOFT_DELETE_NAMES and column.get("nullable", True) and \
                isinstance(column["type"], sa.DateTime | sa.Date):
            return column["name"]
    return None


def _database_entry(source: Source, variables: dict[tuple, str], comments: dict, notes: list[str]) -> dict:
    url = source.url.difference_update_query(["schema"])
    entry: dict[str, Any] = {"url": url._replace(password=None).render_as_string(hide_password=False)}
    if source.backend == "postgresql":
        entry["schema"] = source.schema
    if source.url.password:
        if source.server not in variables:
            variables[source.server] = re.sub(r"\W", "_", source.name.upper()) + "_PASSWORD"
            notes.append(f"Set the environment variable {variables[source.server]} to the password of "
                         f"{mask_url(url._replace(database=None))} (the config reads it; it is not written).")
        variable = variables[source.server]
        entry["password"] = f"${{{variable}}}"
        login = f"{url.username}@{url.host or 'localhost'}" + (f":{url.port}" if url.port else "")
        comments[("databases", source.name, "password")] = f"set {variable} to the password of {login}"
    return entry


def _render(data: dict, comments: dict[tuple, str], count: int) -> str:
    lines = [f"# Drafted by crossquery init from {count} database{'s' if count != 1 else ''}.",
             "# Association names are guesses from table and column names: rename them freely.",
             "databases:"]
    for name, entry in data["databases"].items():
        lines.append(f"  {_scalar(name)}:")
        for key, value in entry.items():
            lines.append(_commented(f"    {key}: {_scalar(value, flow=False)}", comments.get(("databases", name, key))))
    lines.append("models:")
    for model, entry in data["models"].items():
        lines.append(_commented(f"  {_scalar(model)}:", comments.get(("models", model))))
        for key, value in entry.items():
            if key == "associations":
                lines.append("    associations:")
                for name, spec in value.items():
                    line = f"      {_scalar(name)}: {_flow(spec)}"
                    lines.append(_commented(line, comments.get(("models", model, "associations", name))))
            else:
                lines.append(f"    {key}: {_flow(value) if isinstance(value, list) else _scalar(value, flow=False)}")
    return "\n".join(lines) + "\n"


def _commented(line: str, comment: str | None) -> str:
    return f"{line}  # {comment}" if comment else line


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _scalar(value: Any, flow: bool = True) -> str:
    """Plain when YAML reads it back as the same string (in flow context too), else quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    try:
        if yaml.safe_load(f"k: {text}") == {"k": text} and (
                not flow or yaml.safe_load(f"{{k: {text}}}") == {"k": text}):
            return text
    except yaml.YAMLError:
        pass
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
