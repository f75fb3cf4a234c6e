"""The crossquery command, run as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from explorer import demo

CROSSQUERY = str(Path(sys.executable).with_name("crossquery"))


def cli(*args: str, stdin: str | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CROSSQUERY, *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture
def query_file(tmp_path) -> str:
    path = tmp_path / "query.yaml"
    path.write_text(demo.DEMO_QUERY, encoding="utf-8")
    return str(path)


def test_sql_prints_one_statement_with_placeholders(sqlite_config_path, query_file):
    out = cli("sql", sqlite_config_path, query_file)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("SELECT") == 1
    assert "users_and_orders.users" in out.stdout and "products.products" in out.stdout
    assert "?" in out.stdout and "'paid'" not in out.stdout


def test_sql_for_another_dialect_with_literals(sqlite_config_path, query_file):
    out = cli("sql", sqlite_config_path, query_file, "--dialect", "mysql", "--literal")
    assert out.returncode == 0, out.stderr
    assert "`orders->products`" in out.stdout
    assert "'paid'" in out.stdout


def test_run_json_prints_nested_records(sqlite_config_path, query_file):
    out = cli("run", sqlite_config_path, query_file, "--format", "json")
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert [u["name"] for u in records] == ["Alice", "Bob", "Chloé", "Dan O'Brien", "Zoë 张伟"]
    first_order = records[0]["orders"][0]
    assert first_order["total"] == 31.4  # decimals as numbers
    assert [p["name"] for p in first_order["products"]] == ["Fountain pen", 'Notebook "A5"']


def test_run_reads_query_from_stdin_with_params(sqlite_config_path):
    query = "from: Product\nattributes: [id, name]\nwhere:\n  price:\n    gt: :floor\norder: [[id, asc]]\n"
    out = cli("run", sqlite_config_path, "-", "--format", "csv", "--param", "floor=30", stdin=query)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["id,name", "3,Chef's knife", "4,Crème brûlée torch", "10,Unsold thing"]


def test_run_json_dates_as_iso_strings(sqlite_config_path):
    out = cli("run", sqlite_config_path, "-", "--format", "json",
              stdin="from: User\nattributes: [id, created_at]\nwhere: {id: 1}\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"id": 1, "created_at": "2024-01-02T12:30:00"}]


def test_typo_gives_one_line_error_and_nonzero_exit(sqlite_config_path):
    out = cli("run", sqlite_config_path, "-", stdin="from: User\ninclude: [{orders: {include: [prodcts]}}]\n")
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert lines == ["crossquery: error: include.orders.include.prodcts: Order has no association "
                     "'prodcts'. Did you mean: products?"]


def test_missing_config_file(tmp_path):
    out = cli("sql", str(tmp_path / "nope.yaml"), "-", stdin="from: User\n")
    assert out.returncode == 1
    assert "nope.yaml" in out.stderr and "does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_on_sqlite_prints_sql_and_frames(tmp_path):
    out = cli("demo", cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "crossquery-demo" / "users_and_orders.db").is_file()
    assert "ONE statement (sqlite)" in out.stdout
    assert "result.frames['orders.products']" in out.stdout
    assert "Crème brûlée torch" in out.stdout


@pytest.mark.mysql
def test_run_against_two_mariadb_databases(mysql_config_dict, tmp_path, query_file):
    import yaml

    config = tmp_path / "shop.yaml"
    config.write_text(yaml.safe_dump(mysql_config_dict, allow_unicode=True), encoding="utf-8")
    out = cli("run", str(config), query_file, "--format", "json")
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert [o["id"] for o in records[0]["orders"]] == [1, 10]
    sql = cli("sql", str(config), query_file).stdout
    assert "`products`.`products`" not in sql  # real (prefixed) database names, not logical ones
    assert "_products.products" in sql


# In-process: explorer.cli.main with capsys (the same code as the command, without a subprocess)

def run_main(capsys, *args: str) -> tuple[int, str, str]:
    from explorer import cli as cli_module

    code = cli_module.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"bare {name} is not JSON")
    return json.loads(text, parse_constant=refuse, parse_float=Decimal)


def test_run_json_is_strict_and_keeps_every_digit(capsys, sqlite_config_path, query_file):
    code, out, err = run_main(capsys, "run", sqlite_config_path, query_file, "--format", "json")
    assert code == 0, err
    records = strict_loads(out)
    alice_order = records[0]["orders"][0]
    assert str(alice_order["total"]) == "31.40"  # the scale of DECIMAL(10,2) kept
    assert [str(p["price"]) for p in alice_order["products"]] == ["24.50", "6.90"]
    assert '"total": 0.00' in out  # Alice's empty order
    assert "Zoë 张伟" in out and "Seed kit 🌱" in out  # non-ASCII as is


def test_run_csv_null_is_an_empty_unquoted_field(capsys, sqlite_config_path, query_file):
    code, out, err = run_main(capsys, "run", sqlite_config_path, query_file, "--format", "csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("id,name,orders.id,orders.status,orders.total,orders.products.id")
    assert "1,Alice,10,paid,0.00,,,,," in lines  # an order without products: NULLs, not ""
    assert '1,Alice,1,paid,31.40,2,"Notebook ""A5""",6.90,1,Stationery' in lines
    assert "NaN" not in out and "None" not in out and "<NA>" not in out


def test_run_table_spells_null_na(capsys, sqlite_config_path, tmp_path):
    query = tmp_path / "users_orders.yaml"
    query.write_text("from: User\nattributes: [id, referred_by]\n"
                     "include: [{orders: {attributes: [id, total]}}]\norder: [[id, asc]]\n",
                     encoding="utf-8")
    code, out, err = run_main(capsys, "run", sqlite_config_path, str(query))
    assert code == 0, err
    assert "<NA>" in out
    for spelling in ("NaN", "None", "NaT", "nan"):
        assert spelling not in out.split()
    eve = next(line for line in out.splitlines() if line.split()[0] == "5")
    assert eve.split() == ["5", "<NA>", "<NA>", "<NA>"]  # no referrer, no orders


def boom(*args, **kwargs):
    raise TypeError("unsupported operand at mysql+pymysql://shop:s3cret@db.example/shop\nsecond line")


def test_unexpected_exception_is_one_line_and_exit_2(capsys, monkeypatch, sqlite_config_path, query_file):
    import explorer

    monkeypatch.delenv("CROSSQUERY_DEBUG", raising=False)
    monkeypatch.setattr(explorer, "run", boom)
    code, out, err = run_main(capsys, "run", sqlite_config_path, query_file)
    assert code == 2 and out == ""
    line = ("crossquery: internal error (this is a bug in crossquery explorer; please report it with"
            " the command you ran; CROSSQUERY_DEBUG=1 shows the traceback): TypeError: unsupported"
            " operand at mysql+pymysql://shop:***@db.example/shop second line")
    assert err.splitlines() == [line]
    assert "s3cret" not in err and "Traceback" not in err


def test_debug_shows_the_traceback_with_the_password_masked(capsys, monkeypatch, sqlite_config_path,
                                                           query_file):
    import explorer

    monkeypatch.setenv("CROSSQUERY_DEBUG", "1")
    monkeypatch.setattr(explorer, "run", boom)
    code, _, err = run_main(capsys, "run", sqlite_config_path, query_file)
    assert code == 2
    assert err.startswith("Traceback (most recent call last):")
    assert "in boom" in err and "TypeError: unsupported operand" in err
    assert "s3cret" not in err and "shop:***@db.example" in err


def test_explorer_errors_stay_exit_1(capsys, monkeypatch, sqlite_config_path, query_file):
    import explorer
    from explorer.errors import ExecutionError

    def refused(*args, **kwargs):
        raise ExecutionError("the server refused the statement")

    monkeypatch.setattr(explorer, "run", refused)
    code, _, err = run_main(capsys, "run", sqlite_config_path, query_file)
    assert (code, err) == (1, "crossquery: error: the server refused the statement\n")


def test_records_json_is_still_importable_from_the_cli():
    from explorer.cli import records_json
    from explorer.textout import records_json as writer

    assert records_json is writer


@pytest.mark.parametrize("text, value", [
    ("42", 42), ("-7", -7), ("1.10", Decimal("1.10")), ("1e3", Decimal("1E+3")), ("true", True),
    ("null", None), ("01234", "01234"), ("NO", "NO"), ("12:30", "12:30"), ("'42'", "42"), ("", ""),
    ("[1, 2.5, NO, 'x']", [1, Decimal("2.5"), "NO", "x"]),
])
def test_param_values_are_typed_only_where_unambiguous(text, value):
    from explorer.cli import param_value

    got = param_value(text)
    assert got == value and type(got) is type(value)
    if isinstance(value, Decimal):
        assert got.as_tuple() == value.as_tuple()
