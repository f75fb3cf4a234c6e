"""The engine layer: which engine runs a query, the engines' plans, the layout of the package.

The federating engines themselves (DuckDB, Spark) have their own test files; here:
``engine:`` in the config and ``engine=`` overrides, the errors for a query across
servers on ``engine: server`` and for a missing extra, ``explain()`` on each server
kind through the API, the CLI and the magic, Trino's rendering from the command line,
and that the package's modules import only earlier stages (no import circles).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

import explorer
from explorer.engines.base import mask_url

PACKAGE = Path(explorer.__file__).parent
CROSSQUERY = str(Path(sys.executable).with_name("crossquery"))
THREE_LEVELS = {"from": "User", "where": {"name": ":who"},
                "include": [{"orders": {"include": [{"products": {"include": ["category"]}}]}}]}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CROSSQUERY, *args], capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------------------
# Choosing the engine


def test_engine_server_across_servers_is_the_clear_error(federated_shop):
    with pytest.raises(explorer.ExecutionError) as raised:
        explorer.run(federated_shop, THREE_LEVELS, {"who": "Alice"}, engine="server")
    text = str(raised.value)
    assert "sit on different servers" in text and "users_and_orders on mysql" in text
    assert "products on postgresql" in text and "lookup on sqlite" in text
    assert "engine: duckdb" in text


def test_one_server_stays_on_the_server_under_auto(shop):
    result = explorer.run(shop, {"from": "User", "include": ["orders"]})
    assert result.engine == "server" and explorer.prepare(shop, {"from": "User"}).engine == "server"


def test_config_engine_key_and_its_errors(sqlite_config_path):
    raw = yaml.safe_load(Path(sqlite_config_path).read_text())
    folder = Path(sqlite_config_path).parent
    for database in raw["databases"].values():
        database["url"] = database["url"].replace("sqlite:///", f"sqlite:///{folder}/")
    assert explorer.load_config({**raw, "engine": "server"}).engine_choice == "server"
    spark = explorer.load_config({**raw, "engine": {"spark": {"master": "local[1]", "conf": {"a": 1}}}})
    assert spark.engine_choice == "spark" and spark.engine_options == {"master": "local[1]", "conf": {"a": 1}}
    for bad, where in [("sparc", "engine"), ({"spark": {"mastr": "x"}}, "engine.spark.mastr"),
                       ({"spark": {}, "duckdb": {}}, "engine"), ({"spark": {"jars": "a.jar"}}, "engine.spark.jars")]:
        with pytest.raises(explorer.ConfigError) as raised:
            explorer.load_config({**raw, "engine": bad})
        assert str(raised.value).startswith(where + ":") or f"{where}:" in str(raised.value), str(raised.value)
    with pytest.raises(explorer.QueryError, match="engine: expected one of auto, server, duckdb, spark"):
        explorer.run(raw, {"from": "User"}, engine="presto")


def test_missing_extra_names_the_extra_to_install(federated_config_dict, tmp_path):
    """With duckdb not importable, auto across servers says which extra to install."""
    config = tmp_path / "federated.yaml"
    config.write_text(yaml.safe_dump(federated_config_dict), encoding="utf-8")
    script = ("import sys; sys.modules['duckdb'] = None; sys.modules['pyspark'] = None\n"
              "import explorer\n"
              f"for engine in (None, 'spark'):\n"
              "    try:\n"
              f"        explorer.run({str(config)!r}, {{'from': 'Product', 'include': ['category']}}, engine=engine)\n"
              "    except explorer.ExecutionError as exc:\n"
              "        print(exc)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert lines[0] == ("engine: duckdb needs the duckdb extra (engine: auto takes DuckDB because no single "
                        "server holds products, lookup): pip install 'crossquery-explorer[duckdb]'."), out
    assert lines[1] == "engine: spark needs the spark extra: pip install 'crossquery-explorer[spark]'.", out


# ---------------------------------------------------------------------------
# explain: the engine's own plan


PLAN_WORDS = {"sqlite": ("QUERY PLAN", "SCAN"), "mysql": ("select_type", "SIMPLE"),
              "postgresql": ("Sort", "Join")}


def test_explain_shows_the_servers_plan(shop):
    kind = shop.backend("users_and_orders").name
    statement = explorer.prepare(shop, THREE_LEVELS, {"who": "Alice"})
    plan = statement.explain()
    assert all(word in plan for word in PLAN_WORDS[kind]), plan
    result = explorer.run(shop, THREE_LEVELS, {"who": "Alice"})
    assert result.explain() == plan
    assert [r["name"] for r in result.records] == ["Alice"]


def test_explain_of_the_json_strategy(shop):
    plan = explorer.prepare(shop, {"from": "User", "include": ["orders", "reviews"]}).explain()
    assert all(word in plan for word in PLAN_WORDS[shop.backend("users_and_orders").name][:1]), plan


def test_cli_sql_explain(mysql_config_dict, tmp_path):
    config = tmp_path / "shop.yaml"
    config.write_text(yaml.safe_dump(mysql_config_dict), encoding="utf-8")
    query = tmp_path / "q.yaml"
    query.write_text(yaml.safe_dump(THREE_LEVELS), encoding="utf-8")
    out = cli("sql", str(config), str(query), "--explain", "--param", "who=Alice")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("-- plan of the server engine for:\nSELECT")
    assert "select_type" in out.stdout and "Using where" in out.stdout


def test_cli_engine_server_across_servers_exits_with_the_error(federated_config_dict, tmp_path):
    config = tmp_path / "federated.yaml"
    config.write_text(yaml.safe_dump(federated_config_dict), encoding="utf-8")
    out = cli("run", str(config), "from: Product\ninclude: [category]", "--engine", "server")
    assert out.returncode == 1 and "sit on different servers" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def ipython():
    shell = start_ipython() or get_ipython()
    shell.display_formatter.active_types = list(shell.display_formatter.formatters)
    shell.run_line_magic("load_ext", "explorer")
    return shell


def test_magic_explain_shows_the_plan_highlighted(ipython, sqlite_config_path):
    ipython.run_line_magic("crossquery", f"config {sqlite_config_path}")
    ipython.user_ns["who"] = "Alice"
    with capture_output() as captured:
        ipython.run_cell_magic("crossquery", "--explain -o plan_of", yaml.safe_dump(THREE_LEVELS))
    shown = captured.outputs[0].data
    assert shown["text/plain"].startswith("-- plan of the server engine\nQUERY PLAN")
    assert "Plan of the server engine" in shown["text/html"] and "<span" in shown["text/html"]
    assert isinstance(ipython.user_ns.pop("plan_of"), explorer.Statement)
    ipython.user_ns.pop("who")


# ---------------------------------------------------------------------------
# Trino: rendered, never run here


def test_cli_sql_dialect_trino_uses_the_catalogs(sqlite_config_path, tmp_path):
    raw = yaml.safe_load(Path(sqlite_config_path).read_text())
    folder = Path(sqlite_config_path).parent
    for name, database in raw["databases"].items():
        database["url"] = database["url"].replace("sqlite:///", f"sqlite:///{folder}/")
        database["catalog"] = f"lake_{name}"
    config = tmp_path / "trino.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = cli("sql", str(config), "from: Product\ninclude: [category]\nwhere: {price: {gt: 5}}",
              "--dialect", "trino", "--literal")
    assert out.returncode == 0, out.stderr
    assert 'FROM "lake_products"."products".products AS "Product"' in out.stdout
    assert "\"Product\".price > 5" in out.stdout
    del raw["databases"]["products"]["catalog"]
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = cli("sql", str(config), "from: Product", "--dialect", "trino")
    assert out.returncode == 1 and "databases.products.catalog is not set" in out.stderr


# ---------------------------------------------------------------------------
# The package's layout: a stage imports only earlier stages


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every explorer module ``path`` imports, at the top or inside a function."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("explorer")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.startswith("explorer"):
                found.add(base)
                found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_no_import_circles():
    """The modules' imports (top-level and inside functions) form no cycle; the package facade
    ``explorer/__init__`` re-exports the API and is left out, as every module's parent."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {name: {m for m in _imports(path) if m in modules and m != name and m != "explorer"}
             for name, path in modules.items() if name != "explorer"}
    seen, stack, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            visit(target)
        stack.pop()

    for module in sorted(edges):
        visit(module)
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_engines_declare_what_they_support(shop):
    from dataclasses import astuple

    from explorer.engines import mysql, postgresql, sqlite
    from explorer.engines.server import ServerEngine

    for kind in (mysql.MySQLBackend, postgresql.PostgreSQLBackend, sqlite.SQLiteBackend):
        assert all(astuple(kind.features)), kind
    engine = ServerEngine(shop, ["users_and_orders", "products"])
    assert engine.features is shop.backend("products").features
    assert ("arrow" in engine.features.readers) == (shop.backend("products").name == "mysql")


def test_lint_pyflakes_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F,E9", "--quiet",
                          str(PACKAGE), str(Path(__file__).parent)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mask_url_in_engine_errors_never_shows_a_password():
    assert mask_url("mysql+pymysql://u:s3cret@h/db") == "mysql+pymysql://u:***@h/db"


# ---------------------------------------------------------------------------
# The README's list of what each engine does is the engines' own data


def features_markdown() -> str:
    from explorer.engines import mysql, postgresql, sqlite
    from explorer.engines.duckdb import DuckDBEngine
    from explorer.engines.spark import SparkEngine

    named = [("MySQL/MariaDB (server)", mysql.MySQLBackend.features),
             ("PostgreSQL (server)", postgresql.PostgreSQLBackend.features),
             ("SQLite files (server)", sqlite.SQLiteBackend.features),
             ("DuckDB", DuckDBEngine.features), ("Spark", SparkEngine.features)]
    lines = ["<!-- engines: generated from each module's Features (tests/test_engines.py) -->"]
    for name, f in named:
        lines.append(f"- **{name}**: tables {f.qualify}; read-only: {f.read_only}; timeout: {f.timeout}; "
                     f"cancel: {f.cancel}; nesting: {f.nesting}; values: {f.paramstyle}.")
    return "\n".join(lines) + "\n<!-- /engines -->"


def test_readme_lists_what_each_engine_does():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    expected = features_markdown()
    assert expected in readme, "README's engine list is out of date; it should read:\n" + expected
