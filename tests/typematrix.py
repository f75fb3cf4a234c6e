"""The type matrix of tests/test_types.py: per backend, one column per type, with the values it holds.

Each backend gets two databases: ``types_a`` holds ``parents``, ``types_b`` holds
``cells`` (one column per type below) and ``tags``, so every include crosses
databases and ``cells`` beside ``tags`` makes a flat join multiply sibling rows.

``cells`` rows: row i (1-based) holds the i-th value of every column (NULL where a
column has fewer values), and one last row holds NULL in every type column.
Values are SQL literals in the backend's own syntax; the truth for each cell is
read back with the raw DBAPI driver (see test_types.py), never written here.

Parents 1 and 2 have cells (odd rows -> 1, even rows and the all-NULL row -> 2);
parent 3 has none (a LEFT JOIN's NULLs).
"""

from __future__ import annotations

from dataclasses import dataclass

# Frame dtypes, by name (test_types.check_dtype knows what each means).
INT, UINT, BOOL, FLOAT, STRING, OBJECT = "Int64", "UInt64", "boolean", "Float64", "string", "object"
DATETIME, DATETIME_TZ = "datetime64", "datetime64tz"


@dataclass(frozen=True)
class Col:
    name: str
    ddl: str                       # the column's type in CREATE TABLE
    values: tuple = ()             # SQL literals, one per row; None is NULL
    dtypes: tuple = (OBJECT,)      # frame dtypes that hold every value exactly (any one will do)
    generated: bool = False        # computed by the server: never inserted
    json_text: bool = False        # --format csv must write it as JSON text


def col(name: str, ddl: str, *values, dtype=OBJECT, **options) -> Col:
    return Col(name, ddl, tuple(values), dtype if isinstance(dtype, tuple) else (dtype,), **options)


JSON_DOC = '{"f": 1.10, "big": 12345678901234567890, "s": "é😀", "n": null, "l": [1, 2.5e10, -0.5]}'

MYSQL = (
    col("c_tinyint", "TINYINT", "-128", "127", "0", dtype=INT),
    col("c_tinyint_u", "TINYINT UNSIGNED", "255", "0", dtype=(INT, UINT)),
    col("c_smallint", "SMALLINT", "-32768", "32767", "0", dtype=INT),
    col("c_smallint_u", "SMALLINT UNSIGNED", "65535", dtype=(INT, UINT)),
    col("c_mediumint", "MEDIUMINT", "-8388608", "8388607", dtype=INT),
    col("c_mediumint_u", "MEDIUMINT UNSIGNED", "16777215", dtype=(INT, UINT)),
    col("c_int", "INT", "-2147483648", "2147483647", dtype=INT),
    col("c_int_u", "INT UNSIGNED", "4294967295", dtype=(INT, UINT)),
    col("c_bigint", "BIGINT", "-9223372036854775808", "9223372036854775807", "0", dtype=INT),
    col("c_bigint_u", "BIGINT UNSIGNED", "18446744073709551615", "0", "9223372036854775808", dtype=UINT),
    # BOOLEAN is TINYINT(1): PyMySQL gives ints, and 2 is a legal value
    col("c_boolean", "BOOLEAN", "TRUE", "FALSE", "2", dtype=INT),
    col("c_bit1", "BIT(1)", "b'1'", "b'0'"),
    col("c_bit10", "BIT(10)", "b'1111111111'", "b'0000000001'", "b'1000000000'"),
    col("c_decimal", "DECIMAL(10,2)", "500000", "-99999999.99", "0.1", "0"),
    col("c_decimal_30_20", "DECIMAL(30,20)", "0.12345678901234567890", "-9999999999.99999999999999999999"),
    col("c_decimal_65_30", "DECIMAL(65,30)",
        "99999999999999999999999999999999999.999999999999999999999999999999",
        "-0.000000000000000000000000000001", "1"),
    col("c_float", "FLOAT", "3.14159", "-1.5", "0.1", "16777217", dtype=FLOAT),
    col("c_double", "DOUBLE", "1e308", "-1.7976931348623157e308", "5e-324", "0.1", dtype=FLOAT),
    col("c_char", "CHAR(10)", "'It''s 😀'", "''", "'a  '", dtype=STRING),
    col("c_varchar", "VARCHAR(100)", "'It''s \"quoted\" 😀'", "''", "'back\\\\slash\\nnew line'", dtype=STRING),
    col("c_text", "TEXT", "'family 👩‍👩‍👧 and \"quotes\" and ''single'''", "''", dtype=STRING),
    col("c_blob", "BLOB", "X'00FF80'", "X''", "X'FFFE00'"),
    col("c_varbinary", "VARBINARY(16)", "X'00FF80'", "X'FFFFFFFF'"),
    col("c_date", "DATE", "'1000-01-01'", "'9999-12-31'", "'2024-02-29'"),
    col("c_time", "TIME(6)", "'-838:59:59.000001'", "'838:59:59'", "'25:00:00'", "'-00:00:00.500000'"),
    col("c_time0", "TIME", "'838:59:59'", "'-838:59:59'", "'00:00:00'"),
    col("c_datetime", "DATETIME(6)", "'9999-12-31 23:59:59.999999'", "'1000-01-01 00:00:00'",
        "'2024-02-29 12:00:00.5'", dtype=DATETIME),
    col("c_timestamp", "TIMESTAMP(6) NULL", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'",
        dtype=DATETIME),
    col("c_year", "YEAR", "0", "1901", "2155", dtype=INT),
    col("c_enum", "ENUM('a','b c','😀')", "'a'", "'b c'", "'😀'", dtype=STRING),
    col("c_set", "SET('x','y','z')", "'x,z'", "''", "'x,y,z'", dtype=STRING),
    # MariaDB's JSON is LONGTEXT: PyMySQL gives the text exactly as stored
    col("c_json", "JSON", f"'{JSON_DOC}'", "'[]'", "'\"text\"'", "'1.10'", dtype=STRING, json_text=True),
    col("c_generated", "INT AS (c_smallint * 2) VIRTUAL", generated=True, dtype=INT),
)

POSTGRESQL = (
    col("c_smallint", "smallint", "-32768", "32767", dtype=INT),
    col("c_integer", "integer", "-2147483648", "2147483647", dtype=INT),
    col("c_bigint", "bigint", "-9223372036854775808", "9223372036854775807", dtype=INT),
    col("c_boolean", "boolean", "true", "false", dtype=BOOL),
    col("c_numeric_10_2", "numeric(10,2)", "500000", "-99999999.99", "0.1"),
    col("c_numeric", "numeric", "'NaN'", "1.50", "0.000000000000000000001", "-12345", "'Infinity'"),
    col("c_numeric_big", "numeric(80,40)",
        "1234567890123456789012345678901234567890.1234567890123456789012345678901234567890", "0"),
    col("c_real", "real", "3.14159", "'NaN'", "'Infinity'", "'-Infinity'", dtype=FLOAT),
    col("c_double", "double precision", "1e308", "'NaN'", "'Infinity'", "'-Infinity'", "5e-324", dtype=FLOAT),
    col("c_text", "text", "'It''s \"quoted\" 😀'", "''", "E'back\\\\slash\\nnew line'", dtype=STRING),
    col("c_varchar", "varchar(100)", "'héllo 😀'", "''", dtype=STRING),
    col("c_char", "char(10)", "'ab'", "'😀'", "''", dtype=STRING),
    col("c_bytea", "bytea", "'\\x00ff80'::bytea", "'\\x'::bytea", "'\\xfffe00'::bytea"),
    col("c_date", "date", "'0001-01-01'", "'9999-12-31'", "'2024-02-29'"),
    col("c_time", "time(6)", "'00:00:00'", "'23:59:59.999999'"),
    col("c_timetz", "timetz", "'12:34:56.789+05:30'", "'23:59:59.999999-12'"),
    col("c_interval", "interval", "'-1 day 02:03:04.5'", "'1 year 2 mons'", "'3 days 04:05:06.000001'",
        "'-00:00:00.000001'", "'100000 hours'"),
    col("c_timestamp", "timestamp(6)", "'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'",
        "'2024-02-29 12:00:00.5'", dtype=DATETIME),
    col("c_timestamptz", "timestamptz", "'2024-01-01 10:00:00+02'", "'9999-12-31 23:59:59.999999+00'",
        "'1970-01-01 00:00:00.000001+00'", dtype=DATETIME_TZ),
    col("c_uuid", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"),
    col("c_inet", "inet", "'192.168.0.1'", "'::1'", "'10.0.0.1/8'"),
    col("c_cidr", "cidr", "'10.0.0.0/8'", "'2001:db8::/32'"),
    col("c_json", "json", f"'{JSON_DOC}'", "'[1, \"a\", 2.5]'", "'\"text\"'", "'1.10'", json_text=True),
    col("c_jsonb", "jsonb", f"'{JSON_DOC}'", "'[1, \"a\", 2.5]'", "'\"text\"'", "'1.10'", json_text=True),
    col("c_int_array", "integer[]", "'{1,2,NULL,-2147483648}'", "'{}'", "'{{1,2},{3,4}}'", json_text=True),
    col("c_text_array", "text[]", "'{\"a\",\"b c\",\"😀\",NULL,\"NULL\",\"\"}'", "'{}'", json_text=True),
    col("c_enum", "{enum}", "'sad'", "'happy 😀'", dtype=STRING),
    col("c_generated", "integer GENERATED ALWAYS AS (c_smallint * 2) STORED", generated=True, dtype=INT),
)
POSTGRESQL_ENUM = ("sad", "ok", "happy 😀")  # the values of the enum type c_enum uses

SQLITE = (
    col("c_integer", "INTEGER", "9223372036854775807", "-9223372036854775808", "0", dtype=INT),
    col("c_real", "REAL", "1e308", "9e999", "-9e999", "0.1", dtype=FLOAT),
    col("c_numeric", "NUMERIC(12,4)", "1.5", "500000", "0.1", "-12345678.1234"),
    col("c_decimal", "DECIMAL(10,2)", "500000", "1.5", "0.1", "12345678.99"),
    col("c_text", "TEXT", "'It''s \"quoted\" 😀'", "''", "'back\\slash' || char(10) || 'new line'", dtype=STRING),
    col("c_blob", "BLOB", "X'00FF80'", "X''", "X'FFFE00'"),
    col("c_boolean", "BOOLEAN", "1", "0", "'true'", "'false'", dtype=BOOL),
    col("c_date", "DATE", "'2024-02-29'", "'0001-01-01'", "'9999-12-31'"),
    col("c_datetime", "DATETIME", "'2024-01-01 10:00:00.123456'", "'9999-12-31 23:59:59.999999'",
        "'2024-02-29 00:00:00'", "'0001-01-01 00:00:00'", dtype=DATETIME),
    col("c_datetime_tz", "DATETIME", "'2024-01-01 10:00:00+02:00'", "'2024-07-01 23:30:00.5+02:00'",
        dtype=DATETIME_TZ),
)

MATRIX = {"mysql": MYSQL, "postgresql": POSTGRESQL, "sqlite": SQLITE}

PARENTS = ((1, "Ada"), (2, "Bob \"the\" 😀"), (3, "Cy without cells"))
TAGS = ((1, 1, "first"), (2, 1, "second"), (3, 2, "only"))


def row_count(columns: tuple[Col, ...]) -> int:
    """How many cells rows: one per value, then the all-NULL row."""
    return max(len(c.values) for c in columns) + 1


def null_row(columns: tuple[Col, ...]) -> int:
    return row_count(columns)


def parent_of(cell_id: int, columns: tuple[Col, ...]) -> int:
    return 2 if cell_id == null_row(columns) or cell_id % 2 == 0 else 1


def cell_rows(columns: tuple[Col, ...]) -> list[tuple[int, int, dict[str, str | None]]]:
    """(id, parent_id, {column: SQL literal or None}) for every cells row."""
    rows = []
    for cell_id in range(1, row_count(columns) + 1):
        literals = {c.name: (c.values[cell_id - 1] if cell_id <= len(c.values) else None)
                    for c in columns if not c.generated}
        rows.append((cell_id, parent_of(cell_id, columns), literals))
    return rows


def insert_statements(columns: tuple[Col, ...], quote) -> list[str]:
    """INSERTs of every cells row, values inlined as literals; ``quote`` quotes identifiers."""
    statements = []
    for cell_id, parent_id, literals in cell_rows(columns):
        names = ", ".join(quote(n) for n in ("id", "parent_id", *literals))
        values = ", ".join([str(cell_id), str(parent_id), *("NULL" if v is None else v for v in literals.values())])
        statements.append(f"INSERT INTO {{table}} ({names}) VALUES ({values})")
    return statements
