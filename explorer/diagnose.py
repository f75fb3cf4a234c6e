"""Why the server refused a join: the association whose key columns it cannot compare.

Runs only after a failure (PostgreSQL's ``operator does not exist: integer = text``,
MariaDB's ``Illegal mix of collations``): it reads the key columns' types and
collations from the server and names the association and both columns, so the
message says what to change instead of pointing at the connection.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import sqlalchemy as sa

from .compile import Compiled
from .config import Association, Config
from .engines.base import backend_for, server_error
from .errors import ExecutionError, ExplorerError

JOIN_KINDS = ("type_mismatch", "collation")  # error kinds (see backends.HINTS) a join can cause


@dataclass(frozen=True)
class KeyColumn:
    """One key column as the server holds it."""

    where: str                # users_and_orders.order_products.product_id (logical database)
    type: sa.types.TypeEngine
    type_name: str            # VARCHAR(20)
    collation: str | None

    def __str__(self) -> str:
        details = ", ".join(filter(None, (self.type_name, self.collation)))
        return f"{self.where} ({details})"


def explain_join_error(config: Config, compiled: Compiled, kind: str | None) -> str | None:
    """A sentence naming the association(s) whose key columns differ in type or collation.

    ``kind`` is the error's kind (``ExecutionError.kind``); anything but a type
    mismatch or a collation clash gives None, as does a query whose joins all
    look comparable (then the generic hint stays). Never raises: it runs while
    another error is being reported.

    >>> explain_join_error(config, compiled, "type_mismatch")  # doctest: +SKIP
    'Association Order.products joins ... (VARCHAR(20)) to products.products.id (INTEGER): ...'
    """
    if kind not in JOIN_KINDS:
        return None
    try:
        return _Diagnosis(config, kind).explain(compiled)
    except (sa.exc.SQLAlchemyError, ExplorerError):
        return None


class _Diagnosis:
    def __init__(self, config: Config, kind: str):
        self.config = config
        self.kind = kind
        self._columns: dict[str, dict[str, KeyColumn]] = {}

    def explain(self, compiled: Compiled) -> str | None:
        associations = {(n.association.source, n.association.name): n.association for n in compiled.query.walk()}
        sentences = [s for a in associations.values() for s in self.association(a)]
        return " ".join(sentences) or None

    def association(self, association: Association) -> list[str]:
        sentences = []
        for left_model, left_key, right_model, right_key in association.joins:
            pairs = zip(getattr(association, left_key), getattr(association, right_key))
            for left_column, right_column in pairs:
                left = self.column(left_model, left_column)
                right = self.column(right_model, right_column)
                if left and right and (differs := _difference(left, right, self.kind)):
                    pointing = left_key if left_key in ("foreign_key", "other_key") else right_key
                    sentences.append(_sentence(association, left, right, differs, pointing))
        return sentences

    def column(self, model_name: str, column: str) -> KeyColumn | None:
        if model_name not in self._columns:
            self._columns[model_name] = self._read(model_name)
        return self._columns[model_name].get(column)

    def _read(self, model_name: str) -> dict[str, KeyColumn]:
        model = self.config.models[model_name]
        db = self.config.databases[model.database]
        engine = self.config.engine(model.database)
        with engine.connect() as connection:
            reflected = sa.inspect(connection).get_columns(model.table, schema=db.schema)
            collations = {} if self.kind != "collation" else \
                self.config.backend(model.database).collations(connection, db.schema, model.table)
        return {c["name"]: KeyColumn(f"{model.database}.{model.table}.{c['name']}", c["type"],
                                     _type_name(c["type"], engine.dialect), collations.get(c["name"]))
                for c in reflected}


def _difference(left: KeyColumn, right: KeyColumn, kind: str) -> str | None:
    """'types' or 'collations' when that is why the server may refuse to compare the two, else None."""
    if kind == "type_mismatch":
        affinities = {left.type._type_affinity, right.type._type_affinity}  # INT and BIGINT compare fine
        return "types" if len(affinities) > 1 and sa.types.NullType not in affinities else None
    if left.collation and right.collation and _clash(left.collation, right.collation):
        return "collations"
    return None


_MYSQL_COLLATION = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*_(ci|cs|bin)$")


def _clash(left: str, right: str) -> bool:
    """Collations the server cannot reconcile: MariaDB converts between character sets and lets a
    binary collation win, so only two different non-binary collations of one charset clash
    (utf8mb4_unicode_ci vs utf8mb4_general_ci); PostgreSQL's collations have no charset part."""
    if left == right:
        return False
    if not (_MYSQL_COLLATION.match(left) and _MYSQL_COLLATION.match(right)):
        return True  # PostgreSQL ("C", "POSIX", "en_US.utf8"): any difference
    same_charset = left.split("_", 1)[0] == right.split("_", 1)[0]
    binary = left.endswith("_bin") or right.endswith("_bin")
    return same_charset and not binary


def _sentence(association: Association, left: KeyColumn, right: KeyColumn, differs: str, key: str) -> str:
    same = "type" if differs == "types" else "collation"
    fix = "ALTER TABLE ..." if differs == "types" else "ALTER TABLE ... MODIFY ... COLLATE ..."
    return (f"Association {association.source}.{association.name} joins {left} to {right}: the key "
            f"columns have different {differs}, so the server cannot compare them; make both columns the "
            f"same {same} ({fix}) or point {key} at a column of the same {same}.")


def _type_name(sql_type: sa.types.TypeEngine, dialect) -> str:
    """VARCHAR(20), INTEGER: the type without the charset and collation MySQL's reflection adds."""
    try:
        generic = copy.copy(sql_type.as_generic())
    except NotImplementedError:
        generic = copy.copy(sql_type)
    if getattr(generic, "collation", None):
        generic.collation = None  # shown beside the type, from the server's own catalog
    try:
        return generic.compile(dialect=dialect)
    except sa.exc.CompileError:
        return str(sql_type)


def statement_error(config: Config, compiled: Compiled | None, where, exc: BaseException, doing: str,
                    sql: str, timeout: float) -> ExecutionError:
    """The server's refusal of the statement as one sentence; a key type or collation mismatch
    names the association that joins the two columns (see diagnose)."""
    kind = backend_for(where.url).error_kind(getattr(exc, "orig", None) or exc)
    detail = explain_join_error(config, compiled, kind) if compiled is not None else None
    return server_error(where, exc, doing, config.secrets, sql=sql, timeout=timeout, detail=detail)
