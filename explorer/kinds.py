"""What each column holds, decided once from its reflected SQLAlchemy type.

A column's *kind* says which Python values the server's own driver returns for
it and so which pandas dtype holds them exactly (``Int64``, ``UInt64``,
``boolean``, ``Float64``, ``string``, ``datetime64``; ``object`` for the rest).
Its *JSON encoding* says how the JSON strategy carries it inside a JSON
document without changing it (see ``compile_json`` and ``decode``):

* ``plain``: JSON holds it exactly (integers, text, PostgreSQL booleans);
* ``text``: the server's text form (``CAST(... AS CHAR/TEXT)``), read back by the
  driver's own text converter, so decimals, dates, durations, JSON columns and
  the like come back as the driver gives them;
* ``output``: PostgreSQL's output form as a JSON string, read back like ``text``;
* ``hex``: bytes as hexadecimal (JSON has no bytes);
* ``tagged``: SQLite, whose columns hold any storage class: reals and blobs are
  sent as ``["r", "<17 digits>"]`` / ``["b", "<hex>"]``, everything else plainly.

``None`` means the JSON strategy cannot carry the column exactly.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

# Wide JSON objects are sent as {"~chunk0": {...}, "~chunk1": {...}} (compile_json, unnest).
CHUNK = "~chunk"

# Kinds whose pandas dtype is not object.
FRAME_DTYPES = {"int": "Int64", "uint64": "UInt64", "bool": "boolean", "float": "Float64",
                "string": "string[python]"}  # "string"; Python storage, as the values come

_POSTGRES_SCALARS = (  # array items: psycopg's names (first match wins)
    (sa.Boolean, "bool"), (sa.SmallInteger, "int2"), (sa.BigInteger, "int8"), (sa.Integer, "int4"),
    (sa.String, "text"),
)
_POSTGRES_NAMES = (  # PostgreSQL types read back through psycopg's own text loader, by name
    (sa.Numeric, "numeric"), (postgresql.INTERVAL, "interval"), (postgresql.INET, "inet"), (postgresql.CIDR, "cidr"),
    (postgresql.MACADDR, "macaddr"), (postgresql.MACADDR8, "macaddr8"), (postgresql.JSONB, "jsonb"),
    (sa.JSON, "json"), (sa.Uuid, "uuid"), (sa.LargeBinary, "bytea"), (sa.Date, "date"),
    (sa.Interval, "interval"),
)


# SQLAlchemy type -> kind; the first match wins (Boolean before Integer, Float before Numeric).
_KINDS = (
    (mysql.YEAR, "int"), (mysql.BIT, "bytes"), (sa.Boolean, "bool"), (sa.Integer, "int"),
    (sa.Float, "float"), (sa.Numeric, "decimal"), (sa.DateTime, "datetime"), (sa.Date, "date"),
    (sa.Time, "time"), (sa.Interval | postgresql.INTERVAL, "duration"),
    (sa.LargeBinary | sa.types._Binary, "bytes"), (sa.JSON, "json"), (sa.ARRAY, "array"),
    (sa.String, "string"),
)


class IntegralSum(sa.BigInteger):
    """The SUM of an integer column: a whole number however the server types it (MySQL and
    PostgreSQL's bigint sums are DECIMAL/numeric), read back as an int (see decode.exact_reader)."""


def kind_of(sql_type) -> str:
    """The kind of a column: int, uint64, bool, float, decimal, string, datetime, date, time,
    duration, bytes, json, array, other, or unknown (no type known)."""
    if sql_type is None or isinstance(sql_type, sa.types.NullType):
        return "unknown"
    kind = next((kind for cls, kind in _KINDS if isinstance(sql_type, cls)), "other")
    if kind == "int" and getattr(sql_type, "unsigned", False) and isinstance(sql_type, sa.BigInteger):
        return "uint64"
    return kind


def is_tz_aware(sql_type) -> bool:
    return bool(getattr(sql_type, "timezone", False))


def json_encoding(sql_type, dialect: str) -> str | None:
    """How the JSON strategy carries a column of ``sql_type`` on ``dialect`` (see the module doc)."""
    if dialect == "sqlite":
        # Exact for every storage class whatever the declared type, but for reals of 1e100 and
        # more, which are refused when read: REAL columns are left to the join strategy.
        return None if kind_of(sql_type) == "float" else "tagged"
    kind = kind_of(sql_type)
    if kind == "unknown":
        return None
    if dialect == "postgresql":
        if kind in ("int", "uint64", "bool", "string"):
            return "plain"
        if isinstance(sql_type, postgresql.INET):
            return "output"  # CAST(inet AS TEXT) adds the netmask; JSON gets the output form
        return "text" if postgres_type_name(sql_type) else None
    # MySQL / MariaDB
    if kind in ("int", "uint64") and not isinstance(sql_type, mysql.YEAR):
        return "plain"
    if kind == "bytes":
        return "hex"
    if kind == "string" and not isinstance(sql_type, mysql.LONGTEXT):
        return "plain"
    # Text, not plain: MariaDB's JSON columns are LONGTEXT that JSON_OBJECT would embed as JSON.
    if kind in ("int", "bool", "float", "decimal", "string", "datetime", "date", "time", "json"):
        return "text"
    return None


def postgres_type_name(sql_type) -> str | None:
    """psycopg's name for a PostgreSQL type (``int4[]`` for arrays); None when unknown here."""
    if isinstance(sql_type, sa.ARRAY):
        item = postgres_type_name(sql_type.item_type) or _postgres_scalar(sql_type.item_type)
        return f"{item}[]" if item else None
    return _postgres_scalar(sql_type) if kind_of(sql_type) in (
        "int", "bool", "string") else _postgres_other(sql_type)


def _postgres_scalar(sql_type) -> str | None:
    if isinstance(sql_type, sa.Enum):
        return None  # an enum's array needs its own type's oid
    return _postgres_name(sql_type, _POSTGRES_SCALARS) or _postgres_other(sql_type)


def _postgres_other(sql_type) -> str | None:
    if isinstance(sql_type, sa.Float):
        precision = getattr(sql_type, "precision", None)
        return "float4" if isinstance(sql_type, sa.REAL) or (precision and precision <= 24) else "float8"
    if isinstance(sql_type, sa.DateTime):
        return "timestamptz" if is_tz_aware(sql_type) else "timestamp"
    if isinstance(sql_type, sa.Time):
        return "timetz" if is_tz_aware(sql_type) else "time"
    return _postgres_name(sql_type, _POSTGRES_NAMES)


def _postgres_name(sql_type, table) -> str | None:
    return next((name for cls, name in table if isinstance(sql_type, cls)), None)


def server_dialect(backend_name: str) -> str:
    """The dialect family whose encodings apply: mysql (MariaDB too), postgresql or sqlite."""
    return backend_name if backend_name in ("postgresql", "sqlite") else "mysql"
