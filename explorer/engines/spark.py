"""The Spark engine: the ONE statement as Spark SQL, each database a JDBC catalog.

Each logical database becomes a catalog of Spark's ``JDBCTableCatalog`` (MariaDB through
Debian's MariaDB Connector/J with a ``jdbc:mysql:...?permitMysqlScheme`` URL, PostgreSQL
through pgjdbc, SQLite files through xerial), so the statement names tables
``catalog.database.table``. It is written by SQLAlchemy's MySQL compiler (``SparkDialect``,
backticks, ``LIMIT n OFFSET m``, values as ``:name`` parameters that Spark binds itself:
``spark.sql(sql, args=...)``, never spliced into the text). Spark reads each remote table
with the column list and the simple filters it pushes down and joins in its own executors.

What holds, and what does not:

* Spark has no read-only session. The engine refuses anything but one SELECT before
  Spark sees it (parsed with sqlglot). Below that, what the servers enforce: PostgreSQL
  sessions are read-only (``options=-c default_transaction_read_only=on`` in the JDBC URL)
  and SQLite files are opened read-only (``open_mode=1``), so even a write sent through the
  same Spark session by other code is refused there. MariaDB's reads run
  ``SET SESSION tx_read_only = 1`` first (Spark's ``sessionInitStatement``), but Spark's own
  catalog operations and INSERTs open sessions without it (measured: INSERT, CREATE TABLE
  and DROP TABLE through ``spark.sql`` reached MariaDB): give Spark a MariaDB account with
  SELECT grants only.
* Time: each statement runs in its own Spark job group, cancelled after its timeout (and
  on Ctrl-C); every remote statement is bounded too (MariaDB ``max_statement_time``,
  PostgreSQL ``statement_timeout``) and a remote statement still running is stopped
  (``KILL QUERY`` for the statement's tables, ``pg_cancel_backend`` by application name).
  The Spark session stays usable.
* Values: Spark's JDBC types are not the drivers' (TINYINT(1) as boolean, FLOAT widened,
  TIMESTAMP shifted to the JVM's zone, INTERVAL as text, SQLite INTEGER as a 32-bit int).
  Each column is read back to exactly what PyMySQL / psycopg / sqlite3 (through
  ``decode.exact_reader``) return for it; a column Spark cannot carry exactly (DECIMAL of
  more than 38 digits or without precision, TIME, BIT(n>1), arrays, SQLite NUMERIC) is
  refused before anything runs, with an error naming it. SQLite columns are typed by a
  small JDBC dialect compiled on first use (needs ``javac``), as xerial's own mapping
  truncates 64-bit integers and misreads dates and booleans stored as text.
* Secrets: passwords go to Spark only as catalog options (``...password``, redacted by
  ``spark.redaction.regex``); every message and plan is scrubbed of them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.dialects.mysql.base import MySQLCompiler, MySQLDialect, MySQLIdentifierPreparer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .. import compile_json as cj
from ..decode import Decoding, _postgres_loader, exact_reader
from ..errors import ExecutionError
from ..kinds import CHUNK, is_tz_aware, kind_of, postgres_type_name
from ..statement import Statement, Target, render
from .base import Database, backend_for, scrub
from .run import (DEFAULT_TIMEOUT, Engine, Execution, Features, interruptible, offending_columns, quietly,
                  row_cap_error, unfit_columns)

log = logging.getLogger("explorer")

CATALOG_CLASS = "org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog"
DEFAULT_MASTER = "local[2]"
DEFAULT_JARS = ("/usr/share/java/mariadb-java-client.jar", "/usr/share/java/postgresql.jar",
                "/usr/share/java/sqlite-jdbc.jar")
DRIVERS = {"mysql": "org.mariadb.jdbc.Driver", "postgresql": "org.postgresql.Driver", "sqlite": "org.sqlite.JDBC"}
# Spark's DECIMAL holds at most 38 digits.
MAX_DECIMAL_DIGITS = 38
GREGORIAN_START = dt.date(1582, 10, 15)


# ---------------------------------------------------------------------------
# The dialect: SQLAlchemy's MySQL compiler, with Spark's LIMIT/OFFSET and catalog.database names


class SparkIdentifierPreparer(MySQLIdentifierPreparer):
    def _requires_quotes(self, value: str) -> bool:
        # A schema placeholder is replaced by quote_schema() later: quoting it here would
        # wrap the pre-quoted `catalog`.`database` in a second pair of backticks.
        return not value.startswith("__[SCHEMA_") and super()._requires_quotes(value)

    def quote_schema(self, schema, force=None):
        # Target schemas come pre-quoted as `catalog`.`database` (two identifiers, not one).
        if schema.startswith("`"):
            return schema
        return ".".join(self.quote(part) for part in schema.split("."))


class SparkCompiler(MySQLCompiler):
    def limit_clause(self, select, **kw):
        text = ""
        if select._limit_clause is not None:
            text += "\n LIMIT " + self.process(select._limit_clause, **kw)
        if select._offset_clause is not None:
            text += "\n OFFSET " + self.process(select._offset_clause, **kw)
        return text


class SparkDialect(MySQLDialect):
    """Spark SQL as SQLAlchemy writes it: MySQL's syntax, named ``:value`` parameters."""

    name = "spark"
    driver = "pyspark"
    statement_compiler = SparkCompiler
    preparer = SparkIdentifierPreparer
    default_paramstyle = "named"
    supports_statement_cache = True

    def __init__(self, paramstyle="named", **kw):
        super().__init__(paramstyle=paramstyle, **kw)
        self.server_version_info = (3, 4)  # what MySQL's compiler asks; Spark ignores it

    @classmethod
    def import_dbapi(cls):
        return None

    def type_descriptor(self, typeobj):
        # MySQL's types refuse some of other servers' (DOUBLE PRECISION(53) has no scale); Spark
        # needs no processing of them: keep the reflected type.
        try:
            return super().type_descriptor(typeobj)
        except sa.exc.ArgumentError:
            return typeobj


sa.dialects.registry.register("explorer.spark", "explorer.engines.spark", "SparkDialect")


# The JSON strategy's elements as Spark's native nested values (structs and arrays, no JSON text).

@compiles(cj.json_object, "spark")
def _spark_object(element, compiler, **kw):
    return f"named_struct({compiler.process(element.clauses, **kw)})"


@compiles(cj.json_exact, "spark")
def _spark_plain(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


class _sorted_item(FunctionElement):
    """One child object with its order keys, as a struct that sorts in the list's order."""

    inherit_cache = True
    type = sa.types.NullType()


@compiles(_sorted_item, "spark")
def _spark_item(element, compiler, **kw):
    """named_struct('n0', null flag, 'k0', key, ..., 'v', the object): structs sort field by field,
    so each key is made ascending: its NULL flag first (the join strategy's NULL rules: first
    ascending, last descending), then the value, negated when descending."""
    value, *order = list(element.clauses)
    fields = []
    for i, item in enumerate(order):
        key, desc = _order_element(item), _is_desc(item)
        sql = compiler.process(key, **kw)
        fields += [f"'n{i}', {sql} IS {'' if desc else 'NOT '}NULL",
                   f"'k{i}', {_descending(key, sql) if desc else sql}"]
    fields.append(f"'v', {compiler.process(value, **kw)}")
    return f"named_struct({', '.join(fields)})"


@compiles(cj.json_nested, "spark")
@compiles(cj.json_text, "spark")
def _spark_include(element, compiler, **kw):
    """An include's list: ``(SELECT sort_array(collect_list(q.s)).v FROM (SELECT <item> AS s FROM
    child WHERE <link to the parent>) q)``. Spark cannot run a subquery inside an aggregate's
    argument (the grandchildren's lists), but can inside a derived table, so the items are made
    there and aggregated above it. FILTER on the child's key: [] and never [{}] for no child."""
    inner = next(iter(element.clauses))
    select = getattr(inner, "element", None)
    columns = getattr(select, "_raw_columns", ())
    if len(columns) != 1 or not isinstance(columns[0], cj.json_array_agg):
        return compiler.process(inner, **kw)
    value, *order = list(columns[0].clauses)
    count = getattr(compiler, "_spark_lists", 0) + 1
    compiler._spark_lists = count
    name = f"items_{count}"
    items = (select.with_only_columns(_sorted_item(value, *order).label("s"))
             .correlate(*_outer_tables(select)).subquery(name))
    kept = f" FILTER (WHERE {name}.s.k{len(order) - 1} IS NOT NULL)" if order else ""
    wrapper = sa.select(sa.literal_column(f"sort_array(collect_list({name}.s){kept}).v")).select_from(items)
    return compiler.process(wrapper.scalar_subquery(), **kw)


def _outer_tables(select) -> list:
    """The tables the subquery's WHERE takes from enclosing queries (a derived table correlates
    only explicitly)."""
    from sqlalchemy.sql.util import find_tables

    explicit = getattr(select, "_from_obj", ()) or select.get_final_froms()  # its select_from()
    own = {t for f in explicit for t in find_tables(f, include_aliases=True, include_joins=True)}
    where = select.whereclause
    found = [element.table for element in sa.sql.visitors.iterate(where)
             if isinstance(element, sa.sql.elements.ColumnClause) and element.table is not None] if where is not None else []
    return [t for t in dict.fromkeys(found) if t not in own]


@compiles(cj.json_array_agg, "spark")
def _spark_array_agg(element, compiler, **kw):
    # Only reached outside an include's subquery (see _spark_include): the items, sorted.
    value, *order = list(element.clauses)
    kept = ""
    if order:
        kept = f" FILTER (WHERE {compiler.process(_order_element(order[-1]), **kw)} IS NOT NULL)"
    return f"sort_array(collect_list({compiler.process(_sorted_item(value, *order), **kw)}){kept}).v"


def _order_element(item):
    return item.element if isinstance(item, sa.sql.elements.UnaryExpression) else item


def _is_desc(item) -> bool:
    return isinstance(item, sa.sql.elements.UnaryExpression) and item.modifier is sa.sql.operators.desc_op


def _descending(key, sql: str) -> str:
    """An expression that sorts ascending as ``key`` sorts descending."""
    kind = kind_of(key.type)
    if kind in ("int", "uint64", "float", "decimal"):
        return f"-({sql})"
    if kind == "bool":
        return f"NOT ({sql})"
    if kind == "datetime":
        return f"-unix_micros(CAST({sql} AS TIMESTAMP))"
    if kind == "date":
        return f"-unix_date({sql})"
    raise sa.exc.CompileError(f"Spark cannot order the items of a JSON list by {key.name!r} descending "
                              f"({key.type}); use strategy: join for this query")


# ---------------------------------------------------------------------------
# The session: one per process


_LOCK = threading.RLock()
_CATALOGS: dict[tuple, str] = {}  # (database, URL, schema, timeout) -> catalog name, in this process
_SETTINGS: dict[str, tuple] = {}  # catalog name -> (database, timeout in s)
_CONFIGURED: set[str] = set()  # the catalogs set up on the current session
_STATE: dict[str, Any] = {}


def session(options: dict):
    """The process's SparkSession, made on first use with the config's master, conf and jars."""
    with _LOCK:
        spark = _STATE.get("session")
        master = options.get("master") or DEFAULT_MASTER
        if spark is not None and _alive(spark):
            if _STATE["master"] != master:
                raise ExecutionError(f"engine: spark: this process already runs a Spark session on "
                                     f"{_STATE['master']}, and Spark allows one per process; use that "
                                     f"master, or call explorer.engines.spark.stop_session() before {master}.")
            return spark
        _CONFIGURED.clear()
        spark = _start(master, options)
        _STATE.update(session=spark, master=master)
        return spark


def _alive(spark) -> bool:
    try:
        return not spark.sparkContext._jsc.sc().isStopped()
    except Exception:  # noqa: BLE001 - a session whose JVM went away
        return False


def stop_session() -> None:
    """Stop the process's Spark session (another master can be used after)."""
    with _LOCK:
        spark = _STATE.pop("session", None)
        _CONFIGURED.clear()
        if spark is not None:
            quietly(spark.stop)


def _start(master: str, options: dict):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # it binds another interface otherwise
    from pyspark.sql import SparkSession

    jars = [j for j in options.get("jars") or DEFAULT_JARS if os.path.exists(j) or "://" in j]
    dialect_jar = sqlite_dialect_jar()
    if dialect_jar:
        jars.append(dialect_jar)
    zone = "-Duser.timezone=UTC"  # JDBC drivers read wall clocks in the JVM's zone: make it UTC
    builder = (SparkSession.builder.master(master).appName("crossquery-explorer")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")  # no progress bars in cells or the CLI
               .config("spark.sql.legacy.charVarcharAsString", "true")  # CHAR blocks pushdown otherwise
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions", zone)
               .config("spark.executor.extraJavaOptions", zone)
               .config("spark.jars", ",".join(jars)))
    for key, value in (options.get("conf") or {}).items():
        if key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
            value = f"{value} {zone}"  # the readers' exactness depends on the JVMs' zone being UTC
        builder = builder.config(key, str(value))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - Java missing, a bad master URL, ...
        raise ExecutionError(f"engine: spark: could not start a Spark session on {master} "
                             f"({_first_line(exc)}); check that Java 11+ is installed and the master "
                             "is reachable.") from None
    spark.sparkContext.setLogLevel("ERROR")
    if dialect_jar:
        _register_sqlite_dialect(spark)
    return spark


# ---------------------------------------------------------------------------
# SQLite: xerial's JDBC types truncate 64-bit integers and misread dates stored as text;
# a 20-line JDBC dialect maps integers to BIGINT, reals to DOUBLE, blobs to BINARY and
# everything else to the stored text, which decode.exact_reader reads as sqlite3 users get it.

_SQLITE_DIALECT = """\
package crossquery;

import java.sql.Types;
import org.apache.spark.sql.jdbc.JdbcDialect;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MetadataBuilder;
import scala.Option;

public class SQLiteDialect extends JdbcDialect {
  @Override public boolean canHandle(String url) { return url.startsWith("jdbc:sqlite:"); }
  @Override public Option<DataType> getCatalystType(int sqlType, String typeName, int size,
                                                    MetadataBuilder md) {
    switch (sqlType) {
      case Types.TINYINT: case Types.SMALLINT: case Types.INTEGER: case Types.BIGINT:
        return Option.apply(DataTypes.LongType);
      case Types.REAL: case Types.FLOAT: case Types.DOUBLE:
        return Option.apply(DataTypes.DoubleType);
      case Types.BLOB: case Types.BINARY: case Types.VARBINARY: case Types.LONGVARBINARY:
        return Option.apply(DataTypes.BinaryType);
      default:
        return Option.apply(DataTypes.StringType);
    }
  }
}
"""


def sqlite_dialect_jar() -> str | None:
    """The SQLite dialect's jar, built once per machine and pyspark version; None without javac."""
    import pyspark

    javac, jar = shutil.which("javac"), shutil.which("jar")
    if not (javac and jar):
        return None
    digest = hashlib.sha256((_SQLITE_DIALECT + pyspark.__version__).encode()).hexdigest()[:12]
    target = os.path.join(tempfile.gettempdir(), f"crossquery-spark-{os.getuid()}", f"sqlite-dialect-{digest}.jar")
    if os.path.exists(target):
        return target
    work = tempfile.mkdtemp(prefix="crossquery-dialect-")
    try:
        source = os.path.join(work, "crossquery", "SQLiteDialect.java")
        os.makedirs(os.path.dirname(source))
        with open(source, "w") as file:
            file.write(_SQLITE_DIALECT)
        classpath = os.path.join(os.path.dirname(pyspark.__file__), "jars", "*")
        subprocess.run([javac, "-nowarn", "-cp", classpath, "-d", os.path.join(work, "out"), source],
                       check=True, capture_output=True, timeout=120)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = target + f".{os.getpid()}"
        subprocess.run([jar, "cf", partial, "-C", os.path.join(work, "out"), "."], check=True,
                       capture_output=True, timeout=60)
        os.replace(partial, target)  # atomic: parallel processes never see half a jar
        return target
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not build the SQLite dialect for Spark: %s", exc)
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _register_sqlite_dialect(spark) -> None:
    jvm = spark._jvm
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    dialect = jvm.java.lang.Class.forName("crossquery.SQLiteDialect", True, loader).newInstance()
    jvm.org.apache.spark.sql.jdbc.JdbcDialects.registerDialect(dialect)
    _STATE["sqlite_dialect"] = True


# ---------------------------------------------------------------------------
# Catalogs: one per logical database and statement timeout (catalog options are fixed once used)


def catalog_for(db: Database, timeout: float) -> str:
    """The name of the JDBC catalog that reads ``db`` with remote statements bounded by ``timeout``
    (named without a session, so rendering starts no Spark; ``configure`` sets it up)."""
    seconds = max(1, int(timeout + 0.999))
    key = (db.name, db.url.render_as_string(hide_password=False), db.schema, seconds)
    with _LOCK:
        if key not in _CATALOGS:
            _CATALOGS[key] = f"cq{len(_CATALOGS) + 1}_{re.sub(r'[^A-Za-z0-9_]', '_', db.name)}".lower()
            _SETTINGS[_CATALOGS[key]] = (db, seconds)
        return _CATALOGS[key]


def configure(spark, names) -> None:
    """Set up these catalogs on the session (before first use: their options are fixed then)."""
    with _LOCK:
        for name in names:
            if name in _CONFIGURED:
                continue
            db, seconds = _SETTINGS[name]
            kind = backend_for(db.url).name
            if kind == "sqlite" and not _STATE.get("sqlite_dialect"):
                raise ExecutionError(f"engine: spark cannot read {db.where} exactly: its SQLite dialect "
                                     "needs a JDK (javac and jar) where the session starts.")
            settings = catalog_settings(db, kind, seconds, tag=f"crossquery-spark-{name}-{os.getpid()}")
            for option, value in settings.items():
                spark.conf.set(f"spark.sql.catalog.{name}{option}", value)
            _CONFIGURED.add(name)


def catalog_settings(db: Database, kind: str, seconds: int, tag: str) -> dict[str, str]:
    """The catalog's options: class, URL (read-only and time-bounded sessions), driver, user."""
    url = db.url
    settings = {"": CATALOG_CLASS, ".driver": DRIVERS[kind], ".preferTimestampNTZ": "true",
                ".queryTimeout": str(seconds)}
    if kind == "mysql":
        settings[".url"] = (f"jdbc:mysql://{url.host or '127.0.0.1'}:{url.port or 3306}/?permitMysqlScheme"
                            "&tinyInt1isBit=false&yearIsDateType=false")
        # Run by Spark on each connection before it reads (one statement: both settings in one SET).
        settings[".sessionInitStatement"] = (f"SET SESSION tx_read_only = 1, "
                                             f"SESSION max_statement_time = {seconds}")
    elif kind == "postgresql":
        options = f"-c default_transaction_read_only=on -c statement_timeout={seconds * 1000}"
        settings[".url"] = (f"jdbc:postgresql://{url.host or '127.0.0.1'}:{url.port or 5432}/{url.database}"
                            f"?ApplicationName={tag}&options={_url_quote(options)}")
    else:
        settings[".url"] = f"jdbc:sqlite:{os.path.abspath(url.database)}?open_mode=1"
    if url.username:
        settings[".user"] = url.username
    if url.password:
        settings[".password"] = url.password
    return settings


def _url_quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def namespace(db: Database) -> str:
    return "main" if backend_for(db.url).name == "sqlite" else db.schema


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _unquote(text: str) -> str:
    return text.strip("`").replace("``", "`")


# ---------------------------------------------------------------------------
# The engine


class SparkEngine(Engine):
    """Runs the statement as Spark SQL over JDBC catalogs (MariaDB/MySQL, PostgreSQL, SQLite)."""

    name = "spark"
    features = Features(
        qualify="catalog.database.table: one JDBC catalog per database (JDBCTableCatalog)",
        read_only="only a single SELECT reaches Spark (sqlglot); PostgreSQL sessions "
                  "default_transaction_read_only, SQLite files open_mode=1; MariaDB reads tx_read_only "
                  "(sessionInitStatement) but Spark's catalog writes bypass it: use a SELECT-only account",
        timeout="a Spark job group cancelled after the timeout; JDBC queryTimeout, MariaDB "
                "max_statement_time and PostgreSQL statement_timeout on the remote reads",
        cancel="cancelJobGroup, then KILL QUERY (MariaDB) / pg_cancel_backend (PostgreSQL) for "
               "remote reads still running",
        nesting="named_struct, sort_array(collect_list(<order keys, object>) FILTER (...)).v over a "
                "correlated derived table per include (native arrays of structs, no JSON text)",
        paramstyle="named :value parameters bound by spark.sql(sql, args=...)",
    )

    def __init__(self, config, databases: list[str]):
        super().__init__(config, databases)
        self.options = dict(config.engine_options or {})
        for name in databases:
            kind = config.backend(name).name
            if kind not in DRIVERS:
                raise ExecutionError(f"engine: spark cannot read {config.databases[name].where}: "
                                     f"no JDBC driver is set up for {kind}.")

    @property
    def _dbs(self) -> list[Database]:
        return [self.config.databases[name] for name in self.databases]

    def target(self) -> Target:
        """Spark's dialect; each database as `catalog`.`database` (no Spark session needed)."""
        return Target("spark", SparkDialect(), self.schemas(self.config.timeout or DEFAULT_TIMEOUT),
                      runner=self)

    def schemas(self, timeout: float) -> dict[str, str]:
        """Logical database -> `catalog`.`database`, remote reads bounded by ``timeout``."""
        return {db.name: f"{_quote(catalog_for(db, timeout))}.{_quote(namespace(db))}" for db in self._dbs}

    def session(self, schemas: dict[str, str]):
        """The Spark session, with the catalogs these table names use set up on it."""
        spark = session(self.options)
        configure(spark, [_unquote(text.split("`.`")[0]) for text in schemas.values()])
        return spark

    def rendered(self, statement: Statement, timeout: float):
        """The statement with catalogs whose remote reads allow ``timeout`` (catalog options are
        fixed once a catalog is used, so another timeout names other catalogs)."""
        schemas = self.schemas(timeout)
        if schemas == statement.target.schemas:
            return statement.rendered
        return render(self.config, statement.compiled, statement.values, statement.target.dialect, schemas)

    def run(self, statement: Statement, timeout: float, max_rows: int, reader: str | None) -> Execution:
        if reader == "arrow":
            raise ExecutionError("reader: arrow is the server engine's reader (connectorx); "
                                 "engine: spark reads through Spark: use reader: driver or auto.")
        readers = column_readers(self.config, statement.compiled)
        refuse_mixed_storage(self.config, statement.compiled, timeout)
        rendered = self.rendered(statement, timeout)
        check_select(rendered.sql)
        params = dict(rendered.shown)
        spark = self.session(self.schemas(timeout))
        log.debug("running on Spark (timeout %g s, max_rows %d): %s %r", timeout, max_rows,
                  rendered.sql, params)
        started = time.perf_counter()
        run = _Run(self, spark, rendered.sql, params, timeout, max_rows, statement.compiled)
        rows = interruptible(run)
        elapsed = time.perf_counter() - started
        labels = list(statement.compiled.statement.selected_columns.keys())
        rows = convert_rows(rows, labels, readers, statement.compiled)
        return Execution(labels, rows, rendered.sql, params, "spark", list(self.databases), elapsed,
                         engine="spark", extra={"sent": rendered.sql})

    def explain(self, statement: Statement) -> str:
        """Spark's own plan for the statement (parsed, analysed, optimised, physical), with the
        scans each remote server receives (columns and pushed filters)."""
        rendered = statement.rendered
        check_select(rendered.sql)
        spark = self.session(statement.target.schemas)
        try:
            frame = spark.sql(rendered.sql, args=dict(rendered.shown) or None)
            text = spark._jvm.PythonSQLUtils.explainString(frame._jdf.queryExecution(), "extended")
        except Exception as exc:  # noqa: BLE001 - Spark's errors come in many classes
            raise self.error(exc, "explain the query on") from None
        return self.scrubbed(str(text))

    # -- messages

    @property
    def secrets(self) -> list[str]:
        return self.config.secrets

    def scrubbed(self, text: str) -> str:
        return scrub(text, self.secrets)

    def where(self) -> str:
        return ", ".join(db.where for db in self._dbs)

    def error(self, exc: BaseException, doing: str, timeout: float | None = None) -> ExecutionError:
        """One sentence for a Spark/py4j failure: what failed, where (URLs masked), Spark's words."""
        message = _first_line(exc)
        database = self._database_named(message)
        where = database.where if database else f"Spark over {self.where()}"
        kind = _error_kind(message)
        if kind == "timeout" and timeout is not None:
            text = (f"The query on {where} was stopped after its timeout of {timeout:g} s ({message}); "
                    "raise timeout: in the query or the config (or pass timeout=N) if it should run "
                    "longer, or add a filter or a limit.")
        else:
            text = f"Could not {doing} {where} ({message})."
        error = ExecutionError(self.scrubbed(text))
        error.kind = kind
        return error

    def _database_named(self, message: str) -> Database | None:
        for key, catalog in _CATALOGS.items():
            if re.search(rf"\b{re.escape(catalog)}\b", message) and key[0] in self.config.databases:
                return self.config.databases[key[0]]
        return None

    # -- cancelling remote reads

    def cancel_remote(self, compiled) -> None:
        """Stop reads of this statement's tables still running on MariaDB and PostgreSQL."""
        for name in self.databases:
            kind = self.config.backend(name).name
            if kind == "mysql":
                backend, engine = self.config.backend(name), self.config.engine(name)
                for table in _tables_of(self.config, compiled, name):
                    marker = f"{_quote(self.config.databases[name].schema)}.{_quote(table)}"
                    quietly(lambda b=backend, e=engine, m=marker: b.cancel_marked(e, m))
            elif kind == "postgresql":
                quietly(lambda name=name: _cancel_postgres(self.config, name))


def _tables_of(config, compiled, database: str) -> list[str]:
    return list(dict.fromkeys(config.models[m].table for m in compiled.models if config.models[m].database == database))


def _cancel_postgres(config, name: str) -> None:
    tags = [n for key, n in _CATALOGS.items() if key[0] == name]
    with config.engine(name).connect() as connection:
        for catalog in tags:
            connection.execute(sa.text("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE "
                                       "application_name LIKE :tag AND state = 'active'"),
                               {"tag": f"crossquery-spark-{catalog}-%"})


class _Run:
    """One statement in its own Spark job group: bounded in time and rows, cancellable."""

    def __init__(self, engine: SparkEngine, spark, sql: str, params: dict, timeout: float, max_rows: int,
                 compiled):
        self.engine, self.spark, self.sql, self.params = engine, spark, sql, params
        self.timeout, self.max_rows, self.compiled = timeout, max_rows, compiled
        self.group = f"crossquery-{uuid.uuid4().hex}"
        self.timed_out = threading.Event()
        self.cancelled = threading.Event()

    def __call__(self) -> list:
        context = self.spark.sparkContext
        context.setJobGroup(self.group, "crossquery explorer statement", interruptOnCancel=True)
        timer = threading.Timer(self.timeout, self._expire)
        timer.daemon = True
        timer.start()
        try:
            frame = self.spark.sql(self.sql, args=self.params or None)
            rows = frame.limit(self.max_rows + 1).collect()
        except Exception as exc:  # noqa: BLE001 - py4j and pyspark errors of every kind
            if self.timed_out.is_set():
                raise self.engine.error(RuntimeError("Spark job group cancelled: timeout"), "run the query on",
                                        self.timeout) from None
            if self.cancelled.is_set():
                raise ExecutionError("The statement was cancelled on Spark.") from None
            raise self.engine.error(exc, "run the query on", self.timeout) from None
        finally:
            timer.cancel()
            if hasattr(context, "clearJobGroup"):
                quietly(context.clearJobGroup)
        if len(rows) > self.max_rows:
            raise row_cap_error(self.max_rows)
        return rows

    def _expire(self) -> None:
        self.timed_out.set()
        self._stop()

    def cancel(self) -> None:
        """Ctrl-C: cancel the job group, then the remote reads still running."""
        self.cancelled.set()
        self._stop()

    def _stop(self) -> None:
        quietly(lambda: self.spark.sparkContext.cancelJobGroup(self.group))
        self.engine.cancel_remote(self.compiled)

    def abandon(self) -> None:
        """The job did not stop: cancel every job of the session (it stays usable)."""
        quietly(self.spark.sparkContext.cancelAllJobs)


def _first_line(exc: BaseException) -> str:
    """Spark's own message, one line, without the Java stack trace."""
    text = ""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text = str(java.getMessage() or "")
        except Exception:  # noqa: BLE001
            text = ""
    text = text or getattr(exc, "_message", "") or str(exc) or type(exc).__name__
    text = re.sub(r"^An error occurred while calling [\w.]+\.\s*", "", text.strip())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("at ")]
    line = lines[0] if lines else type(exc).__name__
    line = re.sub(r"^: ", "", line)
    if len(line) > 400:
        line = line[:400] + "..."
    return line.rstrip(".")


_ERROR_KINDS = {"timeout": ("cancelled", "timeout", "statement timeout", "max_statement_time", "canceling statement"),
                "access_denied": ("access denied", "password authentication failed"),
                "unreachable": ("connection refused", "could not connect", "communications link")}


def _error_kind(message: str) -> str | None:
    lower = message.lower()
    return next((kind for kind, words in _ERROR_KINDS.items() if any(w in lower for w in words)), None)


# ---------------------------------------------------------------------------
# Only a single SELECT


_WRITES = ("Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Use", "Set",
           "Cache", "Uncache", "Refresh", "TruncateTable", "LoadData", "Pragma", "Transaction", "Commit",
           "Rollback", "Grant", "Describe")


def check_select(sql: str) -> None:
    """Refuse anything but one SELECT (Spark has no read-only session to refuse it later)."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="spark") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ExecutionError(f"engine: spark runs only a single SELECT, and this statement could not be "
                             f"read as one ({str(exc).splitlines()[0]}).") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ExecutionError("engine: spark runs only a single SELECT statement (Spark has no read-only "
                             "session); this is not one.")
    forbidden = tuple(getattr(exp, name) for name in _WRITES if hasattr(exp, name))
    found = next(statements[0].find_all(*forbidden), None)
    if found is not None:
        raise ExecutionError(f"engine: spark runs only a single SELECT statement; this one contains "
                             f"{found.key.upper()}.")


# ---------------------------------------------------------------------------
# Values: Spark's back to what each database's own driver returns


Reader = Callable[[Any], Any]


# SQLite columns read through a typed JDBC getter (getLong, getDouble, getString, getBytes):
# a value of another storage class would come back changed (text in an INTEGER column as 0).
_SQLITE_STORAGE = {"int": "integer", "uint64": "integer", "float": "real", "string": "text", "bytes": "blob"}


def refuse_mixed_storage(config, compiled, timeout: float) -> None:
    """Ask each SQLite file whether a column of the query holds a value of another storage class
    than its getter reads (SQLite keeps any value in any column); a hit refuses the query."""
    checks: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for node in compiled.layout:
        database = config.models[node.model].database
        if config.backend(database).name != "sqlite":
            continue
        for column, label in zip(node.columns, node.labels):
            storage = _SQLITE_STORAGE.get(kind_of(config.column_type(node.model, column)))
            if storage:
                where = f"column {label!r} ({node.model}.{column})"
                checks.setdefault((database, node.model), {})[column] = (storage, where)
    for (database, model), columns in checks.items():
        tests = {column: _other_storage(storage) for column, (storage, _) in columns.items()}
        found = offending_columns(config, database, model, tests, timeout)
        if found:
            named = ", ".join(f"{columns[c][1]} (declared {columns[c][0]})" for c in sorted(found))
            raise ExecutionError(f"engine: spark cannot carry {named} exactly: SQLite holds values of another "
                                 "storage class there (typeof), which its JDBC driver would read as a "
                                 "different value; use engine: duckdb or the server engine.")


def _other_storage(storage: str):
    return lambda column: sa.func.typeof(column).not_in([storage, "null"])


def column_readers(config, compiled) -> dict[tuple, dict[str, Reader | None]]:
    """Per layout path: column -> a function from Spark's value to the driver's (None: as is).

    Refuses, before anything runs, every column that Spark cannot carry exactly, naming each."""
    readers: dict[tuple, dict[str, Reader | None]] = {}
    refusals: list[str] = []
    zones: dict[str, Any] = {}
    for node in compiled.layout:
        model = config.models[node.model]
        kind = config.backend(model.database).name
        table = config.table(node.model)
        readers[node.path] = {}
        for column, label in zip(node.columns, node.labels):
            sql_type = compiled.column_type(config, node, column) if column in table.c or column in \
                node.aggregates else None
            where = f"column {label!r} ({node.model}.{column})"
            try:
                readers[node.path][column] = value_reader(kind, sql_type, where,
                                                          lambda db=model.database: _zone(config, db, zones))
            except _Unfit as unfit:
                refusals.append(f"{where}: {unfit}")
    if refusals:
        raise unfit_columns("spark", refusals, "Leave them out of the attributes, or use engine: duckdb or "
                            "the server engine.")
    return readers


class _Unfit(Exception):
    """Why Spark cannot carry a column exactly."""


def value_reader(kind: str, sql_type, where: str, zone: Callable[[], Any]) -> Reader | None:
    if sql_type is None:
        return None  # a computed column (an aggregate): Spark's value as is
    return {"mysql": _mysql_reader, "postgresql": _postgres_reader, "sqlite": _sqlite_reader}[kind](
        sql_type, where, zone)


def _mysql_reader(sql_type, where: str, zone) -> Reader | None:
    kind = kind_of(sql_type)
    if isinstance(sql_type, mysql.BIT):
        if (sql_type.length or 1) > 1:
            raise _Unfit("Spark's MySQL reader turns BIT(n) with n > 1 into other bytes")
        return lambda v: b"\x01" if v else b"\x00"  # BIT(1) comes as a boolean; PyMySQL gives bytes
    if kind in ("int", "uint64", "bool"):
        return int  # TINYINT(1) is an int for PyMySQL; BIGINT UNSIGNED comes as DECIMAL(20,0)
    if kind == "decimal":
        _check_precision(sql_type)
        return None
    if kind == "float":
        return _float32 if _is_float32(sql_type) else None
    if kind == "datetime":
        if isinstance(sql_type, mysql.TIMESTAMP):
            return _utc_wall_clock  # an instant read in the JVM's zone (UTC): the server's wall clock
        return _julian_fix
    if kind == "time":
        raise _Unfit("Spark reads TIME as a timestamp, which holds no duration past 24 h or below 0")
    if kind == "bytes":
        return bytes
    if kind in ("date", "string", "json"):
        return None
    raise _Unfit(f"Spark has no exact reading of {sql_type} here")


def _postgres_reader(sql_type, where: str, zone) -> Reader | None:
    kind = kind_of(sql_type)
    if kind in ("int", "bool", "string", "date"):
        return None
    if kind == "decimal":
        _check_precision(sql_type)
        return None
    if kind == "float":
        return _float32 if _is_float32(sql_type) else None
    if kind == "bytes":
        return bytes
    if kind == "datetime":
        return (lambda v: _aware(v, zone())) if is_tz_aware(sql_type) else None
    if kind == "time":
        raise _Unfit("Spark reads time as a timestamp of milliseconds and drops a timetz's offset")
    if kind == "array":
        raise _Unfit("Spark's PostgreSQL reader cannot read every array (multi-dimensional, NULL items)")
    name = postgres_type_name(sql_type)
    if kind in ("duration", "json", "other") and name:
        load = _postgres_loader(sql_type, Decoding())  # psycopg's own loader, on the server's text
        return lambda v: load(v)
    raise _Unfit(f"Spark has no exact reading of {sql_type} here")


def _sqlite_reader(sql_type, where: str, zone) -> Reader | None:
    kind = kind_of(sql_type)
    if kind in ("int", "float", "string"):
        return None
    if kind == "bytes":
        return bytes
    if kind in ("bool", "date", "datetime", "time"):
        read = exact_reader(sql_type, "sqlite")  # the stored text, read as sqlite3 users get it
        return lambda v: read([v], where)[0]
    if kind == "decimal":
        raise _Unfit("SQLite keeps NUMERIC values as REAL or INTEGER, and its JDBC driver writes a "
                     "REAL with 15 digits")
    raise _Unfit(f"Spark has no exact reading of SQLite's {sql_type or 'untyped'} columns")


def _check_precision(sql_type) -> None:
    precision = getattr(sql_type, "precision", None)
    if precision is None or precision > MAX_DECIMAL_DIGITS:
        raise _Unfit(f"Spark's DECIMAL holds at most {MAX_DECIMAL_DIGITS} digits with a fixed scale "
                     f"(this is {sql_type})")


def _is_float32(sql_type) -> bool:
    if isinstance(sql_type, (mysql.DOUBLE, postgresql.DOUBLE_PRECISION, sa.Double)):
        return False
    if isinstance(sql_type, (mysql.FLOAT, sa.REAL)):
        return True
    precision = getattr(sql_type, "precision", None)
    return bool(precision) and precision <= 24


def _float32(value):
    # Spark widens a 4-byte float to a double; the drivers parse the server's shortest text.
    import numpy as np

    return float(str(np.float32(value))) if value is not None else None


def _utc_wall_clock(value: dt.datetime) -> dt.datetime:
    # pyspark gives an instant as a naive local time of this process; back to UTC wall clock.
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(value: dt.datetime, zone) -> dt.datetime:
    return value.astimezone(dt.UTC).astimezone(zone)


def _julian_fix(value: dt.datetime) -> dt.datetime:
    """MariaDB's JDBC driver builds datetimes before 1582-10-15 in the Julian calendar, which
    Spark reads as proleptic Gregorian (1000-01-01 comes as 1000-01-06): undo that shift."""
    if value.date() >= GREGORIAN_START:
        return value
    year, month, day = _julian_fields(value.date().toordinal() + 1721425)
    return value.replace(year=year, month=month, day=day)


def _julian_fields(jdn: int) -> tuple[int, int, int]:
    c = jdn + 32082
    d = (4 * c + 3) // 1461
    e = c - (1461 * d) // 4
    m = (5 * e + 2) // 153
    return d - 4800 + m // 10, m + 3 - 12 * (m // 10), e - (153 * m + 2) // 5 + 1


def _zone(config, database: str, cache: dict):
    """PostgreSQL's session TimeZone as psycopg gives it (timestamptz values are aware in it)."""
    if database not in cache:
        with config.engine(database).connect() as connection:
            cache[database] = connection.connection.dbapi_connection.info.timezone
    return cache[database]


def convert_rows(rows, labels: list[str], readers, compiled) -> list[tuple]:
    """Spark's Rows as tuples of the drivers' values (JSON strategy: lists of dicts)."""
    if compiled.strategy == "json":
        return _convert_json_rows(rows, labels, readers, compiled)
    functions = []
    for node in compiled.layout:
        functions += [readers[node.path].get(column) for column in node.columns]
    return [tuple(v if f is None or v is None else _read(f, v, label) for f, v, label in zip(functions, row, labels))
            for row in rows]


def _read(function: Reader, value, label: str):
    try:
        return function(value)
    except ExecutionError:
        raise
    except (ValueError, TypeError, OverflowError, decimal.InvalidOperation) as exc:
        raise ExecutionError(f"column {label!r}: the value Spark read cannot be given as the driver gives "
                             f"it ({type(exc).__name__}: {exc}).") from None


def _convert_json_rows(rows, labels, readers, compiled) -> list[tuple]:
    root = compiled.layout[0]
    children = {node.path: [n for n in compiled.layout if n.parent == node.path] for node in compiled.layout}
    by_label = {}
    for column, label in zip(root.columns, root.labels):
        by_label[label] = ("column", readers[()].get(column))
    for child in children[()]:
        by_label[child.records_key] = ("include", child)
    out = []
    for row in rows:
        values = []
        for label, value in zip(labels, row):
            what, detail = by_label.get(label, ("column", None))
            if what == "include":
                values.append(_items(value, detail, readers, children))
            else:
                values.append(value if detail is None or value is None else _read(detail, value, label))
        out.append(tuple(values))
    return out


def _items(value, node, readers, children) -> list[dict] | None:
    if value is None:
        return None
    return [_item(row, node, readers, children) for row in value if row is not None]


def _item(row, node, readers, children) -> dict:
    item: dict = {}
    nested = {child.records_key: child for child in children[node.path]}
    for key, value in row.asDict(recursive=False).items():
        if key.startswith(CHUNK):
            item.update(_item(value, node, readers, children))  # a wide object's chunk, merged
        elif key in nested and nested[key].junction:  # the junction row: one struct, not a list
            item[key] = None if value is None else _item(value, nested[key], readers, children)
        elif key in nested:
            item[key] = _items(value, nested[key], readers, children)
        else:
            function = readers[node.path].get(key)
            label = ".".join((*node.path, key))
            item[key] = value if function is None or value is None else _read(function, value, label)
    return item


__all__ = ["SparkDialect", "SparkEngine", "check_select", "session", "stop_session"]
