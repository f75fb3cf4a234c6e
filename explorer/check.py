"""``crossquery check CONFIG``: validate a config against the live databases, every problem in one run.

``check_config(config)`` returns a sorted list of ``Finding`` (severity, key path,
message); ``has_errors(findings)`` says whether any would make a query fail.

What it looks at, in this order (a database that cannot be reached, or a model
whose table is broken, is reported once and the checks that need it are skipped):

* each database: the server answers and the database (schema) exists; the
  account cannot write (a warning: read-only is then only a session setting);
* each model: its table, listed ``columns:`` and primary key exist (Config's own
  checks, their ConfigError turned into findings);
* each association: its key columns exist (Config.check_association), their
  types are comparable (kind_of on the reflected types), string keys share a
  collation, and the column each join looks up is indexed;
* the engine: with ``engine: server``, associations between databases that no
  single server holds are errors; with ``auto`` a note that DuckDB joins them.

>>> for finding in check_config(load_config("shop.yaml")):   # doctest: +SKIP
...     print(finding)
warning: databases.products: the account 'root' can write to database 'products' ...
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .config import Association, Config, load_config
from .diagnose import KeyColumn, _clash, _type_name  # so check and diagnose agree
from .engines.base import driver_message, scrub, server_error
from .engines.sqlite import sqlite_path
from .errors import ExplorerError
from .kinds import kind_of

SEVERITIES = ("error", "warning", "note")

INTEGERS = {"int", "uint64"}
NUMBERS = INTEGERS | {"decimal", "float"}
# Privileges that let an account change data (SHOW GRANTS spells ALL as ALL PRIVILEGES).
WRITE_PRIVILEGES = re.compile(r"\b(ALL|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
MYSQL_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<target>\S+) TO ", re.IGNORECASE)
# May this PostgreSQL role change the schema's data? A superuser may do anything.
POSTGRES_WRITES_SQL = (
    "SELECT r.rolsuper, has_schema_privilege(n.oid, 'CREATE'), EXISTS ("
    " SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')"
    " AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE'))"
    " FROM pg_catalog.pg_namespace n, pg_catalog.pg_roles r"
    " WHERE n.nspname = :schema AND r.rolname = current_user"
)
# "file, line 3: models.Order.table: ..." (the loader) or "models.Order.table: ..." (Config's checks)
# How to change a key column's type or collation, per server kind.
ALTER = {"mysql": "ALTER TABLE ... MODIFY ...", "postgresql": "ALTER TABLE ... ALTER COLUMN ... TYPE ...",
         "sqlite": "a new table with the column's new type, as SQLite cannot alter a column"}
# Why the server refuses two collations, in its own words.
REFUSAL = {"mysql": "MariaDB/MySQL refuses to compare them (Illegal mix of collations)",
           "postgresql": "PostgreSQL refuses to compare them (could not determine which collation to use)"}
_LOCATED = re.compile(r"^(?:.*?, line \d+: )?(?P<path>(?:models|databases)\.[^\s:]+|engine(?:\.[^\s:]+)?|reader"
                      r"|timeout|max_rows): (?P<message>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Finding:
    """One problem: how bad it is, where in the config, and what to do about it."""

    severity: str  # error (queries fail) | warning (they run, but not as intended) | note
    path: str      # the config key path: models.Order.associations.user.foreign_key
    message: str   # one sentence: what is wrong and the fix

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {' '.join(self.message.split())}"


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def check_config(config: Any) -> list[Finding]:
    """Every problem of ``config`` (a Config, or what load_config accepts) against the live databases,
    sorted by path. Never raises for a problem it can report: a config that does not load is one
    error finding."""
    try:
        config = load_config(config)
    except ExplorerError as exc:
        return [_finding_from_error(exc, "config")]
    return _Checker(config).run()


def _finding_from_error(exc: BaseException, fallback: str, source: str | None = None) -> Finding:
    """An error's 'file, line 3: key.path: message' as an error Finding at that path (``fallback``
    when it names none)."""
    text = " ".join(str(exc).split())
    if source and text.startswith(f"{source}: "):
        text = text[len(source) + 2:]
    located = _LOCATED.match(text)
    if located:
        return Finding("error", located["path"], located["message"])
    return Finding("error", fallback, text)


class _Checker:
    def __init__(self, config: Config):
        self.config = config
        self.findings: set[Finding] = set()
        self.down: set[str] = set()    # databases that cannot be read
        self.broken: set[str] = set()  # models whose table, columns or primary key are wrong
        self._collations: dict[str, dict[str, str]] = {}
        self._indexed: dict[str, set[str]] = {}
        # (model, key columns) a join looks up -> the association key paths that make that join
        self._lookups: dict[tuple[str, tuple[str, ...]], list[str]] = {}

    def run(self) -> list[Finding]:
        for name in sorted(self.config.databases):
            self.check_database(name)
        for name in sorted(self.config.models):
            self.check_model(name)
        for association in self.associations():
            self.check_association(association)
        self.check_unindexed()
        self.check_servers()
        rank = {severity: i for i, severity in enumerate(SEVERITIES)}
        return sorted(self.findings, key=lambda f: (f.path, rank.get(f.severity, 9), f.message))

    def add(self, severity: str, path: str, message: str) -> None:
        self.findings.add(Finding(severity, path, message))

    def associations(self) -> list[Association]:
        return [self.config.models[m].associations[a] for m in sorted(self.config.models)
                for a in sorted(self.config.models[m].associations)]

    # -- databases

    def check_database(self, name: str) -> None:
        """The database answers and exists; then whether its account can write."""
        db = self.config.databases[name]
        path = f"databases.{name}"
        try:
            if self.config.backend(name).name == "sqlite":
                sqlite_path(db)  # its own file first: the engine fails for every attached file
            with self.config.engine(name).connect() as connection:
                if not self._schema_exists(connection, name):
                    self.down.add(name)
                    self.add("error", path, f"{db.where} does not exist on the server (no database or schema "
                                            f"{db.schema!r}); fix the URL's database name or the schema: key, or "
                                            "create it.")
                    return
                self.check_writable(connection, name)
        except ExplorerError as exc:
            self.down.add(name)
            self.findings.add(self._unopened(name, _finding_from_error(exc, path, self.config.source)))
        except sa.exc.DBAPIError as exc:
            self.down.add(name)
            self.add("error", path, str(server_error(db, exc, "connect to", self.config.secrets)))

    def _unopened(self, name: str, finding: Finding) -> Finding:
        """The error at this database; SQLite attaches every file to one connection, so another
        database's missing file stops this one too: say so instead of repeating it here."""
        path = f"databases.{name}"
        if finding.path == path or finding.path.startswith(path + "."):
            return finding
        return Finding("error", path, f"{self.config.databases[name].where} could not be opened because "
                                      f"{finding.path} is wrong ({finding.message.rstrip('.')}); fix that first.")

    def _schema_exists(self, connection: sa.Connection, name: str) -> bool:
        if self.config.backend(name).name == "sqlite":
            return True  # attached under its logical name when the engine connects
        return self.config.databases[name].schema in sa.inspect(connection).get_schema_names()

    def check_writable(self, connection: sa.Connection, name: str) -> None:
        backend = self.config.backend(name).name
        db = self.config.databases[name]
        if backend == "sqlite":
            path = sqlite_path(db)
            if os.access(path, os.W_OK):
                self.add("note", f"databases.{name}", f"the file {str(path)!r} is writable by this process; "
                                                      "crossquery attaches it read-only, and making the file "
                                                      "read-only (chmod a-w) guards it against other tools too.")
            return
        try:
            grants = self._mysql_writes(connection, db.schema) if backend == "mysql" else \
                self._postgres_writes(connection, db.schema)
        except sa.exc.DBAPIError as exc:  # the privileges are unknown, the database still usable
            self.add("note", f"databases.{name}", f"could not tell whether the account may write "
                                                  f"({scrub(driver_message(exc.orig), self.config.secrets)}); make sure it may only read.")
            return
        if grants:
            user = db.url.username or "(default)"
            fix = f"GRANT SELECT ON `{db.schema}`.* TO ..." if backend == "mysql" else \
                f'GRANT USAGE ON SCHEMA "{db.schema}" and SELECT ON ALL TABLES IN SCHEMA "{db.schema}" TO ...'
            self.add("warning", f"databases.{name}",
                     f"the account {user!r} can write to {db.where} ({grants}), so read-only is only a setting "
                     f"of crossquery's sessions; connect with an account that may only read ({fix}).")

    @staticmethod
    def _mysql_writes(connection: sa.Connection, schema: str) -> str:
        """'ALL PRIVILEGES ON *.*' when a grant of the current account lets it write to ``schema``."""
        for (line,) in connection.exec_driver_sql("SHOW GRANTS"):
            grant = MYSQL_GRANT.match(line)
            if grant and WRITE_PRIVILEGES.search(grant["privileges"]) and \
                    _grant_covers(grant["target"], schema):
                return f"{grant['privileges']} ON {grant['target']}"
        return ""

    @staticmethod
    def _postgres_writes(connection: sa.Connection, schema: str) -> str:
        row = connection.execute(sa.text(POSTGRES_WRITES_SQL), {"schema": schema}).first()
        if row is None:
            return ""
        superuser, create, write = row
        return ("a superuser" if superuser else "CREATE on the schema" if create else
                "INSERT, UPDATE or DELETE on its tables" if write else "")

    # -- models

    def check_model(self, name: str) -> None:
        """The table exists with its primary key (and listed columns): Config's own checks."""
        model = self.config.models[name]
        if model.database in self.down:
            self.broken.add(name)
            return
        try:
            self.config.table(name)
            self.config.check_columns([name])
        except ExplorerError as exc:
            self.broken.add(name)
            self.findings.add(_finding_from_error(exc, f"models.{name}", self.config.source))

    # -- associations

    def check_association(self, association: Association) -> None:
        models = {association.source, association.target, association.through} - {None}
        if models & self.broken:
            return  # its model's table is reported already
        try:
            self.config.check_association(association)
        except ExplorerError as exc:
            self.findings.add(_finding_from_error(exc, self._path(association), self.config.source))
            return
        try:
            for join in association.joins:
                self.check_join(association, *join)
        except sa.exc.DBAPIError as exc:  # a server that stopped answering mid-check
            db = self.config.databases[self.config.models[association.source].database]
            self.add("error", self._path(association),
                     str(server_error(db, exc, "read the key columns of the association from", self.config.secrets)))

    def check_join(self, association: Association, left_model: str, left_key: str, right_model: str,
                   right_key: str) -> None:
        """Types and collations of each key column pair; remember the lookup for the index check."""
        pointing = left_key if left_key in ("foreign_key", "other_key") else right_key
        path = f"{self._path(association)}.{pointing}"
        same_server = self.on_one_server(left_model, right_model)
        for left_column, right_column in zip(getattr(association, left_key), getattr(association, right_key)):
            left = self.key_column(left_model, left_column)
            right = self.key_column(right_model, right_column)
            self.check_types(path, left, right, self._alter(left_model, right_model))
            if same_server:  # across servers DuckDB or Spark compares, under its own rules
                self.check_collations(path, (left_model, left_column, left), (right_model, right_column, right))
        if same_server:
            # The join looks up the right-hand side (the target, or the junction) for each left row.
            key = (right_model, getattr(association, right_key))
            self._lookups.setdefault(key, []).append(f"{self._path(association)}.{right_key}")

    @staticmethod
    def _path(association: Association) -> str:
        return f"models.{association.source}.associations.{association.name}"

    def on_one_server(self, *model_names: str) -> bool:
        return len({self.config.server_key(self.config.models[m].database) for m in model_names}) == 1

    def key_column(self, model_name: str, column: str) -> KeyColumn:
        model = self.config.models[model_name]
        sql_type = self.config.column_type(model_name, column)
        return KeyColumn(f"{model.database}.{model.table}.{column}", sql_type,
                         _shown_type(sql_type, self.config.engine(model.database).dialect), None)

    def _alter(self, *model_names: str) -> str:
        kinds = {self.config.backend(self.config.models[m].database).name for m in model_names}
        return ALTER[kinds.pop()] if len(kinds) == 1 else "ALTER TABLE ..."

    def check_types(self, path: str, left: KeyColumn, right: KeyColumn, alter: str) -> None:
        kinds = {kind_of(left.type), kind_of(right.type)}
        if "unknown" in kinds:
            return
        pair = f"{left} and {right}"
        if kinds <= INTEGERS:
            if left.type_name != right.type_name:
                self.add("note", path, f"{pair} are integers of different ranges; the join works, but a value "
                                       "beyond the narrower range can exist on one side only, so make both columns "
                                       f"the same type ({alter}).")
        elif kinds <= NUMBERS and len(kinds) > 1:
            self.add("warning", path, f"{pair} are numbers of different kinds, so the server converts one side on "
                                      "every row (and may not use its index); make both key columns the same type "
                                      f"({alter}).")
        elif len(kinds) > 1 or (kinds == {"other"} and left.type_name != right.type_name):
            self.add("error", path, f"{pair} have incompatible types, so the server refuses the join or compares "
                                    "converted values that may not match; make both key columns the same type "
                                    f"({alter}) or point the association at a column of the same type.")

    def check_collations(self, path: str, left_side: tuple, right_side: tuple) -> None:
        """Each side is (model, column, KeyColumn); only string keys have a collation."""
        (left_model, left_column, left), (right_model, right_column, right) = left_side, right_side
        if kind_of(left.type) != "string" or kind_of(right.type) != "string":
            return
        left_collation = self.collations(left_model).get(left_column)
        right_collation = self.collations(right_model).get(right_column)
        if not left_collation or not right_collation or left_collation == right_collation:
            return
        pair = f"{left.where} ({left_collation}) and {right.where} ({right_collation})"
        backend = self.config.backend(self.config.models[left_model].database).name
        fix = "give both key columns the same collation (" + (
            "ALTER TABLE ... MODIFY ... COLLATE ..." if backend == "mysql" else
            "ALTER TABLE ... ALTER COLUMN ... TYPE ... COLLATE ...") + ")"
        if _clash(left_collation, right_collation):
            why = REFUSAL.get(backend, "the server refuses to compare them")
            self.add("error", path, f"{pair} have different collations and {why}, so every query through this "
                                    f"association fails; {fix}.")
        else:
            self.add("warning", path, f"{pair} have different collations, which the server reconciles by "
                                      "converting one side (or letting the binary collation win), so keys may "
                                      f"match differently than either column compares on its own; {fix}.")

    def collations(self, model_name: str) -> dict[str, str]:
        if model_name not in self._collations:
            model = self.config.models[model_name]
            with self.config.engine(model.database).connect() as connection:
                self._collations[model_name] = self.config.backend(model.database).collations(
                    connection, self.config.databases[model.database].schema, model.table)
        return self._collations[model_name]

    # -- indexes

    def check_unindexed(self) -> None:
        """A key column that the join looks up without an index: once per table and key."""
        for (model_name, key), paths in sorted(self._lookups.items()):
            try:
                if any(column in self.indexed(model_name) for column in key):
                    continue
            except sa.exc.DBAPIError as exc:
                db = self.config.databases[self.config.models[model_name].database]
                self.add("error", f"models.{model_name}",
                         str(server_error(db, exc, f"read the indexes of {model_name} from", self.config.secrets)))
                continue
            model = self.config.models[model_name]
            paths = sorted(set(paths))
            also = f" (also used by {', '.join(paths[1:])})" if paths[1:] else ""
            columns = ", ".join(key)
            where = f"{model.database}.{model.table}" + (f".{columns}" if len(key) == 1 else f" ({columns})")
            self.add("warning", paths[0],
                     f"{where} has no index that starts with {'it' if len(key) == 1 else 'any of them'}, so "
                     f"every join through this association{also} scans the table; add one (CREATE INDEX ... "
                     f"ON {model.table} ({columns})).")

    def indexed(self, model_name: str) -> set[str]:
        """The columns some index, the primary key or a unique constraint of the table starts with."""
        if model_name not in self._indexed:
            model = self.config.models[model_name]
            schema = self.config.databases[model.database].schema
            with self.config.engine(model.database).connect() as connection:
                inspector = sa.inspect(connection)
                keys = [inspector.get_pk_constraint(model.table, schema=schema).get("constrained_columns")]
                keys += [i.get("column_names") for i in inspector.get_indexes(model.table, schema=schema)]
                keys += [u.get("column_names") for u in inspector.get_unique_constraints(model.table, schema=schema)]
            self._indexed[model_name] = {columns[0] for columns in keys if columns and columns[0]}
        return self._indexed[model_name]

    # -- servers and engines

    def check_servers(self) -> None:
        crossing = [f"{a.source}.{a.name}" for a in self.associations()
                    if not self.on_one_server(*({a.source, a.target, a.through} - {None}))]
        if not crossing:
            return
        servers: dict[tuple, list[str]] = {}
        for name in sorted(self.config.databases):
            servers.setdefault(self.config.server_key(name), []).append(name)
        apart = "; ".join(f"{', '.join(names)} on {self._server(names[0])}" for names in servers.values())
        joined = crossing[0] + (f" and {len(crossing) - 1} more" if crossing[1:] else "")
        problem = f"the databases sit on different servers ({apart}) and associations join them ({joined})"
        choice = self.config.engine_choice or "auto"
        if choice == "server":
            self.add("error", "engine", f"{problem}, but engine: server runs each statement on one server, so "
                                        "those queries fail; put the databases on one server or set engine: auto "
                                        "(DuckDB then joins them).")
        elif choice == "auto":
            installed = importlib.util.find_spec("duckdb") is not None
            missing = "" if installed else ", which is not installed here: pip install 'crossquery-explorer[duckdb]'"
            self.add("note" if installed else "warning", "engine",
                     f"{problem}, so engine: auto runs those queries in DuckDB, which needs the duckdb "
                     f"extra{missing}.")

    def _server(self, database: str) -> str:
        db = self.config.databases[database]
        return self.config.backend(database).describe_server(db.url)


def _grant_covers(target: str, schema: str) -> bool:
    """Whether SHOW GRANTS's ``*.*``, ```db`.*`` or ```db`.`table``` covers ``schema``; in the
    database name ``_`` and ``%`` are LIKE wildcards unless escaped with a backslash."""
    database = target.split(".", 1)[0].strip("`")
    if database == "*":
        return True
    pattern, escaped = "", False
    for char in database:
        if escaped or char not in "\\_%":
            pattern += re.escape(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            pattern += "." if char == "_" else ".*"
    return re.fullmatch(pattern, schema) is not None


def _shown_type(sql_type: sa.types.TypeEngine, dialect) -> str:
    """INTEGER, BIGINT UNSIGNED (integers as the server spells them, without display widths) or
    VARCHAR(20) (other types as diagnose shows them)."""
    if kind_of(sql_type) in INTEGERS:
        try:
            return re.sub(r"\(\d+\)", "", sql_type.compile(dialect=dialect))
        except sa.exc.CompileError:
            pass
    return _type_name(sql_type, dialect)


__all__ = ["Finding", "check_config", "has_errors"]
