"""The association config: databases, models and the associations between them.

``load_config`` accepts a YAML or JSON file, a YAML string, a dict, or a loaded
``Config``. Errors name the file, the line and the key path.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchTableError

from .engines import ENGINES
from .engines.base import (
    READERS,
    Backend,
    Database,
    backend_for,
    driver_message,
    engine_for,
    known_dialects,
    mask_url,
    server_error,
)
from .errors import ConfigError, did_you_mean, yaml_problem

KINDS = ("has_one", "has_many", "belongs_to", "belongs_to_many")
TO_MANY = ("has_many", "belongs_to_many")

# Sequelize's camelCase spellings, accepted everywhere a key is read.
ALIASES = {
    "hasOne": "has_one", "hasMany": "has_many", "belongsTo": "belongs_to",
    "belongsToMany": "belongs_to_many", "foreignKey": "foreign_key", "sourceKey": "source_key",
    "targetKey": "target_key", "otherKey": "other_key", "primaryKey": "primary_key",
    "tableName": "table",
}
TOP_KEYS = ("databases", "models", "timeout", "max_rows", "reader", "engine")
DATABASE_KEYS = ("url", "schema", "password", "catalog")
# engine: a name, or a block of the engine's settings (see explorer.engines)
ENGINE_KEYS = {"duckdb": ("threads", "memory_limit"), "spark": ("master", "conf", "jars")}
MODEL_KEYS = ("database", "table", "primary_key", "columns", "associations", "paranoid")
ASSOCIATION_KEYS = (*KINDS, "foreign_key", "source_key", "target_key", "through", "other_key", "scope",
                    "inferred")

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Association:
    """A named association from ``source`` to ``target`` (Sequelize's ``as`` is ``name``)."""

    name: str
    kind: str
    source: str
    target: str
    foreign_key: tuple[str, ...]
    source_key: tuple[str, ...]  # has_one/has_many/belongs_to_many: key on the source
    target_key: tuple[str, ...]  # belongs_to/belongs_to_many: key on the target
    through: str | None = None
    other_key: tuple[str, ...] = ()
    scope: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    given: frozenset[str] = field(default=frozenset(), compare=False)  # keys the config sets

    @property
    def to_many(self) -> bool:
        return self.kind in TO_MANY

    @property
    def joins(self) -> tuple[tuple[str, str, str, str], ...]:
        """Each join the association makes, as (model, key, model, key), source side first.

        ``Order.products`` (through OrderProduct) gives ``("Order", "source_key",
        "OrderProduct", "foreign_key")`` and ``("OrderProduct", "other_key", "Product", "target_key")``.
        """
        if self.kind == "belongs_to_many":
            return ((self.source, "source_key", self.through, "foreign_key"),
                    (self.through, "other_key", self.target, "target_key"))
        if self.kind == "belongs_to":
            return ((self.source, "foreign_key", self.target, "target_key"),)
        return ((self.source, "source_key", self.target, "foreign_key"),)


@dataclass(frozen=True)
class Model:
    name: str
    database: str
    table: str
    primary_key: tuple[str, ...]
    columns: tuple[str, ...] | None
    associations: Mapping[str, Association] = field(hash=False, compare=False)
    primary_key_given: bool = True  # False: primary_key: is not set and defaults to id
    table_given: bool = True  # False: table: is not set and defaults to the model name lower-cased
    paranoid: str | None = None  # the soft-delete column: rows where it is not NULL are hidden


class Config:
    """A loaded config. Load once, run many: reflected tables are cached here."""

    def __init__(self, databases: dict[str, Database], models: dict[str, Model],
                 source: str | None = None, timeout: float | None = None, max_rows: int | None = None,
                 reader: str | None = None, engine: str | None = None,
                 engine_options: dict[str, Any] | None = None):
        self.databases = databases
        self.models = models
        self.source = source
        self.timeout = timeout
        self.max_rows = max_rows
        self.reader = reader  # auto | driver | arrow: who reads the rows (see explorer.engines.arrow)
        self.engine_choice = engine  # auto | server | duckdb | spark (see explorer.execute); None: auto
        self.engine_options = engine_options or {}  # the engine block's settings (spark: master, conf, jars)
        self._tables: dict[str, sa.Table] = {}
        self._checked: set[str] = set()
        self._live_types: dict[str, dict[str, Any]] = {}
        self._checked_associations: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        dbs = ", ".join(f"{name}={mask_url(db.url)}" for name, db in self.databases.items())
        return f"<Config {len(self.models)} models; databases: {dbs}>"

    def model(self, name: str, where: str = "from") -> Model:
        if name not in self.models:
            raise ConfigError(f"{where}: unknown model {name!r}." + did_you_mean(name, self.models))
        return self.models[name]

    def backend(self, database: str) -> Backend:
        return backend_for(self.databases[database].url)

    def server_key(self, database: str) -> tuple:
        return self.backend(database).server_key(self.databases[database].url)

    def server_databases(self, database: str) -> list[Database]:
        """Every database of the config that sits on the same server as ``database``."""
        key = self.server_key(database)
        return [db for name, db in self.databases.items() if self.server_key(name) == key]

    def engine(self, database: str):
        return engine_for(self.backend(database), self.server_databases(database))

    def table(self, model_name: str) -> sa.Table:
        """The model's table, qualified by its logical database, with declared or reflected columns.

        Built on first use, when its columns are known: a primary key the table lacks,
        or an association named like one of its columns, is a ConfigError here.
        """
        with self._lock:
            if model_name not in self._tables:
                model = self.models[model_name]
                table = self._build_table(model)
                self._check_primary_key(model, table)  # on error, not kept: the next use says it again
                self._check_association_names(model, table)
                self._check_paranoid(model, table)
                self._tables[model_name] = table
            return self._tables[model_name]

    def check_association(self, association: Association) -> None:
        """Check, once, that every key column of the association is a column of its table.

        foreign_key lives on the target of has_one/has_many, on the source of
        belongs_to and on the junction of belongs_to_many (with other_key);
        source_key on the source, target_key on the target.
        """
        if (association.source, association.name) in self._checked_associations:
            return
        for model_name, key in _key_owners(association):
            table = self.table(model_name)
            missing = [c for c in getattr(association, key) if c not in table.c]
            if missing:
                raise ConfigError(self._missing_key(association, key, model_name, missing, table))
        self._checked_associations.add((association.source, association.name))

    def columns(self, model_name: str) -> list[str]:
        return [c.name for c in self.table(model_name).columns]

    @property
    def secrets(self) -> list[str]:
        """The passwords of the config's URLs: no message may contain them."""
        return [db.url.password for db in self.databases.values() if db.url.password]

    def check_columns(self, model_names) -> None:
        """Check, once per model, that columns the config lists exist in the live table.

        Reflected models need no check; a listed column the table lacks would
        otherwise surface as a server error in the middle of a statement.
        """
        for name in dict.fromkeys(model_names):
            model = self.models[name]
            if model.columns is None or name in self._checked:
                continue
            with self._lock:
                found = self._live_columns(model)
                live = [c["name"] for c in found]
                missing = [c for c in model.columns if c not in live]
                if missing:
                    raise ConfigError(
                        f"{self._located(f'models.{name}.columns')}: table {model.table!r} in "
                        f"{self.databases[model.database].where} has no column "
                        f"{', '.join(map(repr, missing))}{_suggestion(missing[0], live)}; "
                        "remove it from columns or fix its name."
                    )
                self._live_types[name] = {c["name"]: c["type"] for c in found}
                self._checked.add(name)

    def column_type(self, model_name: str, column: str):
        """The column's SQL type: as reflected, or for a listed column the live table's type once
        ``check_columns`` has read it (so results read the same with or without ``columns:``)."""
        declared = self.table(model_name).c[column].type
        if isinstance(declared, sa.types.NullType):
            return self._live_types.get(model_name, {}).get(column, declared)
        return declared

    def _located(self, key_path: str) -> str:
        return f"{self.source}: {key_path}" if self.source else key_path

    # -- checks on a model's columns, once they are known

    def _lacks(self, model: Model, missing: list[str], table: sa.Table) -> str:
        """'table 'orders' (Order) in database ... has no column 'x' (did you mean: y?)'."""
        names = ", ".join(map(repr, missing))
        hint = _suggestion(missing[0], table.c.keys())
        if model.columns is not None:
            return f"{names} is not among the columns: listed for {model.name}{hint}"
        return (f"table {model.table!r} ({model.name}) in {self.databases[model.database].where} "
                f"has no column {names}{hint}")

    def _check_primary_key(self, model: Model, table: sa.Table) -> None:
        missing = [c for c in model.primary_key if c not in table.c]
        if not missing:
            return
        where = self._located(f"models.{model.name}.primary_key")
        live = self._live_primary_key(model) if model.columns is None else []
        if model.primary_key_given:
            found = f"; the table's primary key is {_key_list(live)}: set {_key_setting(live)}" if live else ""
            raise ConfigError(f"{where}: {self._lacks(model, missing, table)}; primary_key must name the "
                              f"column(s) that identify a row{found}.")
        db = self.databases[model.database]
        lacks = f"table {model.table!r} ({model.name}) in {db.where} has no column 'id'"
        if live:
            raise ConfigError(f"{where}: {lacks} and the model sets no primary_key:; the table's primary "
                              f"key is {_key_list(live)}: set {_key_setting(live)}.")
        raise ConfigError(f"{where}: {lacks} and no primary key, and the model sets no primary_key:; set "
                          f"primary_key: to the column(s) that identify a row{_suggestion('id', table.c.keys())}.")

    def _check_paranoid(self, model: Model, table: sa.Table) -> None:
        if model.paranoid is not None and model.paranoid not in table.c:
            raise ConfigError(f"{self._located(f'models.{model.name}.paranoid')}: "
                              f"{self._lacks(model, [model.paranoid], table)}; paranoid: names the "
                              "soft-delete column (rows where it is not NULL are hidden).")

    def _check_association_names(self, model: Model, table: sa.Table) -> None:
        # In records the association's value would replace the column's (Sequelize refuses this too).
        for name in model.associations:
            if name in table.c:
                raise ConfigError(
                    f"{self._located(f'models.{model.name}.associations.{name}')}: the association "
                    f"{name!r} is named like a column of {model.name} (table {model.table!r} in "
                    f"{self.databases[model.database].where}), so in records it would overwrite the "
                    "column's values; rename the association."
                )

    def _missing_key(self, association: Association, key: str, model_name: str, missing: list[str],
                     table: sa.Table) -> str:
        where = self._located(f"models.{association.source}.associations.{association.name}.{key}")
        default = "" if key in association.given else \
            f" ({key} is not set, so it defaults to {', '.join(getattr(association, key))})"
        return (f"{where}: {self._lacks(self.models[model_name], missing, table)}; {key} must name "
                f"{_key_role(association, key)}{default}.")

    def _live_primary_key(self, model: Model) -> list[str]:
        """The columns of the table's primary key constraint, as the server reports them."""
        db = self.databases[model.database]
        try:
            with self.engine(model.database).connect() as connection:
                found = sa.inspect(connection).get_pk_constraint(model.table, schema=db.schema)
        except sa.exc.DBAPIError as exc:
            raise server_error(db, exc, f"read the primary key of {model.name} from", self.secrets) from None
        return list(found.get("constrained_columns") or [])

    def _build_table(self, model: Model) -> sa.Table:
        if model.columns is not None:
            columns = [sa.Column(name, sa.types.NullType()) for name in model.columns]
        else:
            columns = [sa.Column(c["name"], c["type"], nullable=c.get("nullable", True))
                       for c in self._live_columns(model)]
        # A MetaData per model: two models may map one table (with different columns: lists).
        return sa.Table(model.table, sa.MetaData(), *columns, schema=model.database)

    def _live_columns(self, model: Model) -> list[dict]:
        """The table's columns as the server reports them; a clear error when it cannot."""
        db = self.databases[model.database]
        try:
            with self.engine(model.database).connect() as connection:
                inspector = sa.inspect(connection)
                found = inspector.get_columns(model.table, schema=db.schema)
                if not found:
                    raise NoSuchTableError(model.table)
                return found
        except NoSuchTableError:
            raise self._missing_table(model, db) from None
        except sa.exc.DBAPIError as exc:
            raise server_error(db, exc, f"read the columns of {model.name} from", self.secrets) from None

    def _missing_table(self, model: Model, db: Database) -> ConfigError:
        # Name only what the user wrote: models.X.table, or models.X when the table name is the default.
        where = self._located(f"models.{model.name}" + (".table" if model.table_given else ""))
        try:
            with self.engine(model.database).connect() as connection:
                schemas = sa.inspect(connection).get_schema_names()
        except sa.exc.DBAPIError:
            schemas = [db.schema]
        if db.schema not in schemas:
            return ConfigError(
                f"{where}: {db.where} does not exist on the server (no database or schema "
                f"{db.schema!r}); check the URL's database name or the schema: key, or create it."
            )
        table = repr(model.table) if model.table_given else \
            f"{model.table!r} (the default for model {model.name}: no table: is set)"
        return ConfigError(f"{where}: table {table} not found in {db.where}; check the table name "
                           "(table: ...), or create the table.")


def _driver_message(exc: sa.exc.DBAPIError) -> str:
    return driver_message(exc.orig)


def _key_owners(association: Association) -> list[tuple[str, str]]:
    """(model, key) for each key of the association: the model whose table holds its columns."""
    return [(model, key) for left, left_key, right, right_key in association.joins
            for model, key in ((left, left_key), (right, right_key))]


def _key_role(association: Association, key: str) -> str:
    """What a key column is, in words: 'the column of Order that points at User'."""
    a = association
    roles = {
        "foreign_key": (f"the column of the junction {a.through} that points at {a.source}" if a.through else
                        f"the column of {a.source} that points at {a.target}" if a.kind == "belongs_to" else
                        f"the column of {a.target} that points at {a.source}"),
        "other_key": f"the column of the junction {a.through} that points at {a.target}",
        "source_key": f"the column of {a.source} that foreign_key refers to",
        "target_key": f"the column of {a.target} that {'other_key' if a.through else 'foreign_key'} refers to",
    }
    return roles[key]


def _key_list(columns: list[str]) -> str:
    return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"


def _key_setting(columns: list[str]) -> str:
    return f"primary_key: {columns[0]}" if len(columns) == 1 else f"primary_key: [{', '.join(columns)}]"


def _suggestion(name: str, choices) -> str:
    """' (did you mean: a?)' or ' (known: a, b)', from did_you_mean, or ''."""
    hint = did_you_mean(name, choices).strip().rstrip(".?")
    return f" ({hint[0].lower()}{hint[1:]}{'?' if hint.startswith('Did') else ''})" if hint else ""


# ---------------------------------------------------------------------------
# Loading


def load_config(source: Any) -> Config:
    """Load a config from a YAML/JSON path, a YAML string, a dict, or return a Config as is.

    >>> config = load_config("shop.yaml")           # doctest: +SKIP
    >>> config.models["User"].associations["orders"].kind   # doctest: +SKIP
    'has_many'
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return _Loader(dict(source), origin=None, lines={}).build()
    if isinstance(source, (str, Path)):
        text, origin = _read_source(source)
        data, lines = _parse_yaml(text, origin)
        return _Loader(data, origin=origin, lines=lines, base_dir=_base_dir(origin)).build()
    raise ConfigError(f"A config must be a path, a YAML string or a dict, not {type(source).__name__}.")


def _read_source(source: str | Path) -> tuple[str, str | None]:
    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith("{")):
        return source, None
    path = Path(source).expanduser()
    if not path.is_file():
        raise ConfigError(f"Config file {str(path)!r} does not exist.")
    return path.read_text(encoding="utf-8"), str(path)


def _base_dir(origin: str | None) -> Path | None:
    return Path(origin).resolve().parent if origin else None


def _parse_yaml(text: str, origin: str | None) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML (JSON is YAML) and remember the line of every key path."""
    where = origin or "<config>"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML, {yaml_problem(exc, text)}") from None
    lines: dict[tuple, int] = {}
    _collect_lines(node, (), lines)
    return data, lines


def _collect_lines(node, path: tuple, lines: dict[tuple, int]) -> None:
    if node is None:
        return
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines[child] = key.start_mark.line + 1
            _collect_lines(value, child, lines) if not isinstance(value, yaml.ScalarNode) else None
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*path, index), lines)


def interpolate_env(text: str, where: str) -> str:
    """Replace ${NAME} (or ${NAME:-default}) with the environment variable's value."""

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{where}: environment variable {name!r} is not set. Set it, or "
                          f"write ${{{name}:-default}} to give a default.")

    return _ENV.sub(replace, text)


class _Loader:
    """Turns the raw mapping into Config objects, with located errors."""

    def __init__(self, data: Any, origin: str | None, lines: dict[tuple, int], base_dir: Path | None = None):
        self.data = data
        self.origin = origin
        self.lines = lines
        self.base_dir = base_dir

    def error(self, path: tuple, message: str) -> ConfigError:
        prefix = self.origin or ""
        line = self._line(path)
        if line:
            prefix += f", line {line}" if prefix else f"line {line}"
        key_path = ".".join(str(p) for p in path)
        location = ": ".join(part for part in (prefix, key_path) if part)
        return ConfigError(mask_text(f"{location}: {message}" if location else message))

    def _line(self, path: tuple) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    # -- structure helpers

    def mapping(self, value: Any, path: tuple, allowed: tuple[str, ...] | None = None) -> dict:
        if not isinstance(value, Mapping):
            raise self.error(path, f"expected a mapping, got {_kind(value)}.")
        result = {}
        for key, item in value.items():
            name = ALIASES.get(key, key)
            if allowed is not None and name not in allowed:
                raise self.error((*path, key), f"unknown key {key!r}." + did_you_mean(str(key), allowed))
            result[name] = item
        return result

    def names(self, value: Any, path: tuple) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(i, str) and i for i in items):
            raise self.error(path, f"expected a column name or a list of column names, got {value!r}.")
        return tuple(items)

    # -- sections

    def build(self) -> Config:
        top = self.mapping(self.data, (), TOP_KEYS)
        for key in ("databases", "models"):
            if key not in top:
                raise self.error((), f"missing required key {key!r}.")
        databases = {name: self.database(name, raw) for name, raw in
                     self.mapping(top["databases"], ("databases",)).items()}
        raw_models = self.mapping(top["models"], ("models",))
        models = {name: self.model(name, raw, databases) for name, raw in raw_models.items()}
        models = {name: self.with_associations(m, raw_models[name], models) for name, m in models.items()}
        return Config(databases, models, source=self.origin,
                      timeout=self.number(top, "timeout", float), max_rows=self.number(top, "max_rows", int),
                      reader=self.reader_choice(top), **self.engine_choice(top))

    def engine_choice(self, top: dict) -> dict[str, Any]:
        """engine: auto|server|duckdb|spark, or {duckdb: {...}} / {spark: {master:, conf:, jars:}}."""
        value = top.get("engine")
        if value is None:
            return {}
        if isinstance(value, str):
            if value not in ENGINES:
                raise self.error(("engine",), f"expected one of {', '.join(ENGINES)} or an engine block "
                                 f"such as {{spark: {{master: local[2]}}}}, got {value!r}.")
            return {"engine": value}
        block = self.mapping(value, ("engine",), tuple(ENGINE_KEYS))
        if len(block) != 1:
            raise self.error(("engine",), f"expected one engine block (duckdb or spark), got {sorted(block)}.")
        (name, settings), = block.items()
        options = self.mapping(settings or {}, ("engine", name), ENGINE_KEYS[name])
        if name == "spark":
            self.spark_options(options)
        return {"engine": name, "engine_options": dict(options)}

    def spark_options(self, options: dict) -> None:
        if "master" in options and not (isinstance(options["master"], str) and options["master"]):
            raise self.error(("engine", "spark", "master"), f"expected a master URL such as local[2] or "
                             f"spark://host:7077, got {options['master']!r}.")
        if not isinstance(options.get("conf", {}), dict):
            raise self.error(("engine", "spark", "conf"), "expected a mapping of Spark settings.")
        jars = options.get("jars", [])
        if not isinstance(jars, list) or not all(isinstance(j, str) and j for j in jars):
            raise self.error(("engine", "spark", "jars"), f"expected a list of jar paths, got {jars!r}.")

    def reader_choice(self, top: dict) -> str | None:
        value = top.get("reader")
        if value is not None and value not in READERS:
            raise self.error(("reader",), f"expected one of {', '.join(READERS)}, got {value!r}.")
        return value

    def number(self, top: dict, key: str, kind: type):
        value = top.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self.error((key,), f"expected a positive number, got {value!r}.")
        return kind(value)

    def database(self, name: str, raw: Any) -> Database:
        path = ("databases", name)
        if isinstance(raw, str):
            raw = {"url": raw}
        spec = self.mapping(raw, path, DATABASE_KEYS)
        if "url" not in spec:
            raise self.error(path, "missing required key 'url'.")
        values = {k: interpolate_env(str(v), self._where((*path, k))) for k, v in spec.items()}
        try:
            url = make_url(values["url"])
        except ArgumentError:
            raise self.error((*path, "url"), f"not a database URL: {mask_text(values['url'])!r}.") from None
        if "password" in values:
            url = url.set(password=values["password"])
        try:
            backend = backend_for(url)
        except KeyError:
            raise self.error((*path, "url"), f"unsupported database kind {url.get_backend_name()!r}. "
                             f"Supported: {', '.join(known_dialects())}.") from None
        url = self.resolve_sqlite_path(url) if backend.name == "sqlite" else url
        return Database(name, url, values.get("schema") or backend.default_schema(name, url),
                        catalog=values.get("catalog"))

    def resolve_sqlite_path(self, url: URL) -> URL:
        # Relative SQLite paths are relative to the config file, so a project folder can move.
        if url.database and url.database != ":memory:" and self.base_dir is not None:
            path = Path(url.database).expanduser()
            if not path.is_absolute():
                return url.set(database=str(self.base_dir / path))
        return url

    def _where(self, path: tuple) -> str:
        return str(self.error(path, "")).rstrip(": ")

    def model(self, name: str, raw: Any, databases: dict[str, Database]) -> Model:
        path = ("models", name)
        spec = self.mapping(raw if raw is not None else {}, path, MODEL_KEYS)
        database = spec.get("database")
        if database is None and len(databases) == 1:
            database = next(iter(databases))
        if database is None:
            raise self.error(path, "missing required key 'database' (the config has several databases: "
                             f"{', '.join(databases)}); say which one holds the table.")
        if database not in databases:
            raise self.error((*path, "database"), f"unknown database {database!r}." + did_you_mean(str(database), databases))
        columns = self.names(spec["columns"], (*path, "columns")) if "columns" in spec else None
        primary_key = self.names(spec.get("primary_key", "id"), (*path, "primary_key"))
        if columns is not None:
            self.check_listed_primary_key(primary_key, columns, "primary_key" in spec, path)
        return Model(name, database, str(spec.get("table", name.lower())), primary_key, columns, {},
                     primary_key_given="primary_key" in spec, table_given="table" in spec,
                     paranoid=self.paranoid(spec.get("paranoid"), (*path, "paranoid")))

    def paranoid(self, raw: Any, path: tuple) -> str | None:
        """``paranoid: deleted_at`` (Sequelize's paranoid with its deletedAt column)."""
        if raw is None or raw is False:
            return None
        if not isinstance(raw, str) or not raw:
            raise self.error(path, f"expected the name of the soft-delete column (paranoid: deleted_at), "
                             f"got {raw!r}.")
        return raw

    def check_listed_primary_key(self, primary_key: tuple[str, ...], columns: tuple[str, ...], given: bool,
                                 path: tuple) -> None:
        for key in primary_key:
            if key not in columns:
                what = f"primary key column {key!r}" if given else \
                    "the model sets no primary_key:, so it defaults to 'id', which"
                raise self.error((*path, "primary_key"), f"{what} is not among the listed columns"
                                 f"{_suggestion(key, columns)}; set primary_key: to the column(s) that "
                                 "identify a row.")

    def with_associations(self, model: Model, raw: Any, models: dict[str, Model]) -> Model:
        spec = self.mapping(raw if raw is not None else {}, ("models", model.name), MODEL_KEYS)
        path = ("models", model.name, "associations")
        raw_assocs = self.mapping(spec.get("associations") or {}, path)
        assocs = {name: self.association(model, str(name), value, models, (*path, name))
                  for name, value in raw_assocs.items()}
        return replace(model, associations=assocs)

    def association(self, source: Model, name: str, raw: Any, models: dict[str, Model], path: tuple) -> Association:
        spec = self.mapping(raw, path, ASSOCIATION_KEYS)
        kinds = [k for k in KINDS if k in spec]
        if len(kinds) != 1:
            raise self.error(path, f"expected exactly one of {', '.join(KINDS)}, got {kinds or 'none'}.")
        kind = kinds[0]
        target = self.target(spec[kind], models, (*path, kind))
        through = self.target(spec["through"], models, (*path, "through")) if "through" in spec else None
        if (kind == "belongs_to_many") != (through is not None):
            raise self.error(path, "belongs_to_many needs 'through' (the junction model); other kinds take no 'through'.")
        keys = self.default_keys(kind, source, target, name)
        for key in ("foreign_key", "source_key", "target_key", "other_key"):
            if key in spec:
                keys[key] = self.names(spec[key], (*path, key))
        self.check_key_lengths(keys, kind, path)
        if not isinstance(spec.get("inferred", False), bool):
            raise self.error((*path, "inferred"), f"expected true or false, got {spec['inferred']!r}.")
        scope = spec.get("scope")
        if scope is not None and not isinstance(scope, Mapping):
            raise self.error((*path, "scope"), f"expected a where mapping, got {_kind(scope)}.")
        given = frozenset(key for key in ("foreign_key", "source_key", "target_key", "other_key") if key in spec)
        return Association(name, kind, source.name, target.name, through=through and through.name,
                           scope=scope, given=given, **keys)

    def target(self, value: Any, models: dict[str, Model], path: tuple) -> Model:
        if not isinstance(value, str) or value not in models:
            raise self.error(path, f"unknown model {value!r}." + did_you_mean(str(value), models))
        return models[value]

    @staticmethod
    def default_keys(kind: str, source: Model, target: Model, name: str) -> dict[str, tuple[str, ...]]:
        if kind in ("has_one", "has_many"):
            foreign = (f"{_snake(source.name)}_id",)
        elif kind == "belongs_to":
            foreign = (f"{_snake(name)}_id",)
        else:
            foreign = (f"{_snake(source.name)}_id",)
        return {"foreign_key": foreign, "source_key": source.primary_key,
                "target_key": target.primary_key,
                "other_key": (f"{_snake(target.name)}_id",) if kind == "belongs_to_many" else ()}

    def check_key_lengths(self, keys: dict, kind: str, path: tuple) -> None:
        pairs = {"has_one": ("foreign_key", "source_key"), "has_many": ("foreign_key", "source_key"),
                 "belongs_to": ("foreign_key", "target_key")}
        checks = [pairs[kind]] if kind in pairs else [("foreign_key", "source_key"), ("other_key", "target_key")]
        for left, right in checks:
            if len(keys[left]) != len(keys[right]):
                raise self.error((*path, left), f"{left} has {len(keys[left])} column(s) but {right} has "
                                 f"{len(keys[right])}: {list(keys[left])} vs {list(keys[right])}.")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def mask_text(text: str) -> str:
    """Mask a password inside any URL-looking text."""
    return re.sub(r"(://[^:/@\s]+:)[^@\s]*@", r"\1***@", text)


def config_to_json(config: Config) -> str:
    """The config's databases without credentials, for headers and diagrams."""
    return json.dumps({name: mask_url(db.url) for name, db in config.databases.items()}, indent=2)
