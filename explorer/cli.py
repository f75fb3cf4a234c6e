"""The ``crossquery`` command: compile, run and demo include queries outside notebooks."""

from __future__ import annotations

import argparse
import decimal
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import yaml

from .engines import ENGINES
from .engines.base import READERS, scrub
from .errors import ExplorerError, QueryError
from .files import json_labels
from .textout import frame_csv, frame_table, records_json

__all__ = ["UsageError", "main", "parse_params", "records_json", "render_result"]

PRINTED_FORMATS = ("json", "csv", "table")
# --format -> what -o names; parquet and xlsx only write files
FILE_FORMATS = {"json": "FILE.json", "csv": "FOLDER", "parquet": "FOLDER", "xlsx": "FILE.xlsx"}
INTERNAL_ERROR = ("crossquery: internal error (this is a bug in crossquery explorer; please report "
                  "it with the command you ran; CROSSQUERY_DEBUG=1 shows the traceback): ")


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):  # a lone surrogate in a value must not end the output
        sys.stdout.reconfigure(errors="backslashreplace")
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except ExplorerError as exc:
        print(f"crossquery: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # a QueryInterrupted says what happened on the server
        print("crossquery: interrupted" + (f": {exc}" if str(exc) else ""), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `crossquery run ... | head`: the reader left, nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        debug = os.environ.get("CROSSQUERY_DEBUG", "") not in ("", "0")
        print(internal_error(exc, debug), file=sys.stderr)
        return 2


def internal_error(exc: BaseException, debug: bool = False) -> str:
    """What the CLI prints for an exception it did not expect: one line, or the traceback.

    Either way a ``user:password@`` in a URL is masked.
    """
    if debug:
        return scrub("".join(traceback.format_exception(exc)), []).rstrip("\n")
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return INTERNAL_ERROR + scrub(f"{type(exc).__name__}: {message}", [])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossquery", description=(
        "Nested include queries across databases, compiled to ONE SQL statement."))
    commands = parser.add_subparsers(dest="command", required=True)

    sql = commands.add_parser("sql", help="print the one statement for a query")
    _query_arguments(sql)
    sql.add_argument("--dialect", help="render for this dialect (mysql, mariadb, sqlite, postgresql, trino, "
                                       "...); trino names each database by its catalog: key")
    sql.add_argument("--literal", action="store_true", help="inline the values, for pasting into a SQL console")
    sql.add_argument("-o", "--output", help="write a .sql snippet file instead of printing")
    sql.add_argument("--explain", action="store_true", help="print the engine's plan for the statement")
    _engine_argument(sql)
    sql.set_defaults(handler=_sql)

    run = commands.add_parser("run", help="run a query and print its result")
    _query_arguments(run)
    run.add_argument("--format", choices=(*PRINTED_FORMATS, "parquet", "xlsx"),
                     help="json: nested records; csv and table: the flat frame (default: table); with -o, "
                          "csv and parquet: one file per frame, xlsx: one sheet per frame")
    run.add_argument("-o", "--output", metavar="PATH", help="write files instead of printing: a FILE.json of "
                     "the records, a FOLDER of one .csv or .parquet per frame, or a FILE.xlsx workbook")
    run.add_argument("--max-rows", type=_positive(int), help="stop when more joined rows than this come back")
    run.add_argument("--timeout", type=_positive(float), help="statement timeout in seconds (> 0; default 60)")
    run.add_argument("--reader", choices=READERS,
                     help="who reads the rows: the DBAPI driver, or connectorx into Arrow (default auto)")
    _engine_argument(run)
    run.set_defaults(handler=_run)

    init = commands.add_parser("init", help="draft a config from live schemas")
    init.add_argument("urls", nargs="+", metavar="URL", help="a database: one per MySQL database, a PostgreSQL "
                      "database (every schema, or ?schema=a,b), a SQLite file")
    init.add_argument("-o", "--output", metavar="FILE.yaml", help="write the draft here instead of printing it")
    init.set_defaults(handler=_init)

    check = commands.add_parser("check", help="check a config against the live databases")
    check.add_argument("config", help="the association config (YAML or JSON file)")
    check.set_defaults(handler=_check)

    demo = commands.add_parser("demo", help="build the example shop and run a cross-database query on it")
    demo.add_argument("--backend", choices=("sqlite", "mysql"), default="sqlite")
    demo.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306",
                      help="the MySQL/MariaDB server for --backend mysql")
    demo.add_argument("--dir", default="crossquery-demo", help="where to write shop.yaml (and the SQLite files)")
    demo.set_defaults(handler=_demo)
    return parser


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def _engine_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=ENGINES,
                        help="who runs the statement: the one server, DuckDB or Spark (default: the "
                             "config's engine:, else auto: the server, or DuckDB across servers)")


def _query_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the association config (YAML or JSON file)")
    parser.add_argument("query", help="the include query: a YAML file, - for standard input, or the "
                                      "YAML itself ('from: User')")
    parser.add_argument("--param", "-p", action="append", default=[], metavar="NAME=VALUE",
                        help="a value for :NAME in the query: 42, 1.10 (exact decimal), true, false, "
                             "null, [a, b], 'quoted text'; anything else is text as typed; repeatable")


def _read_query(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def parse_params(items: list[str]) -> dict[str, Any]:
    """``--param NAME=VALUE`` values, typed only where the text says so unambiguously."""
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise QueryError(f"--param {item!r}: expected NAME=VALUE.")
        params[name] = param_value(value)
    return params


_INTEGER = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")  # after _INTEGER
_WORDS = {"true": True, "false": False, "null": None}


def param_value(text: str) -> Any:
    """A --param value: 42 is an int, 1.10 a Decimal (exact, never a float), true/false/null,
    [a, b] a list of such values, '...' or "..." a string; everything else the text as typed
    (01234, NO and 12:30 stay strings: YAML 1.1 would read them as 668, False and 750)."""
    if text.startswith("[") and text.endswith("]"):
        try:
            items = yaml.load(text, Loader=yaml.BaseLoader)  # every item as its text
        except yaml.YAMLError:
            return text
        return [param_value(item) for item in items] if isinstance(items, list) else text
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        return decimal.Decimal(text)
    return _WORDS.get(text, text)


def _sql(args) -> None:
    from . import prepare

    statement = prepare(args.config, _read_query(args.query), parse_params(args.param), engine=args.engine)
    if args.explain:
        print(f"-- plan of the {statement.engine} engine for:\n{statement.to_sql()}\n")
        print(statement.explain())
    elif args.output:
        path = statement.export(args.output, dialect=args.dialect, literal=args.literal)
        print(f"wrote {path}")
    else:
        print(statement.to_sql(dialect=args.dialect, literal=args.literal))


class UsageError(ExplorerError):
    """The command line asks for something its options cannot do together."""


def _run(args) -> None:
    from . import run

    _check_output(args.format, args.output)
    try:
        result = run(args.config, _read_query(args.query), parse_params(args.param),
                     timeout=args.timeout, max_rows=args.max_rows, reader=args.reader, engine=args.engine)
    except QueryError as exc:
        missing = getattr(exc, "missing", None)
        if not missing:
            raise
        raise QueryError(f"The query uses {', '.join(':' + m for m in missing)} but no value was given: "
                         f"add {' '.join(f'--param {m}=VALUE' for m in missing)}.") from None
    if args.output:
        for path in write_result(result, args.format, args.output):
            print(f"wrote {path}")
    else:
        print(render_result(result, args.format or "table"))


def _check_output(fmt: str | None, output: str | None) -> None:
    """Before the query runs: parquet and xlsx need -o, and the table is for the terminal only."""
    if output and fmt not in FILE_FORMATS:
        told = f"--format {fmt} prints to the terminal; " if fmt else ""
        raise UsageError(f"{told}-o writes files: add --format json, csv, parquet or xlsx.")
    if not output and fmt not in (None, *PRINTED_FORMATS):
        what = "files: add -o FOLDER" if FILE_FORMATS[fmt] == "FOLDER" else f"a file: add -o {FILE_FORMATS[fmt]}"
        raise UsageError(f"--format {fmt} writes {what}.")


def write_result(result, fmt: str, output: str) -> list[Path]:
    """Write ``result`` as ``run --format FMT -o OUTPUT`` does; return the files written."""
    from . import files

    if fmt == "json":
        return [files.to_json(result, output)]
    if fmt == "xlsx":
        return [files.to_excel(result, output)]
    writer = files.to_csv if fmt == "csv" else files.to_parquet
    return list(writer(result, output).values())


def render_result(result, fmt: str) -> str:
    """``result`` as the text ``run --format`` prints (SPEC "Exact values")."""
    if fmt == "json":
        return records_json(result.records)
    if fmt == "csv":
        return frame_csv(result.frame, json_labels(result)).rstrip("\n")
    return frame_table(result.frame)


def _init(args) -> None:
    """The draft on standard output (or in FILE.yaml); its notes on standard error."""
    from .introspect import draft_config, write_yaml

    draft = draft_config(args.urls)
    for note in draft.notes:
        print(f"crossquery: note: {note}", file=sys.stderr)
    if args.output:
        path = write_yaml(draft, args.output)
        print(f"wrote {path} ({len(draft.data['models'])} models); next: crossquery check {path}")
    else:
        print(draft.yaml, end="" if draft.yaml.endswith("\n") else "\n")


def _check(args) -> int:
    """One line per finding; exit 1 when any is an error."""
    from .check import check_config, has_errors

    findings = check_config(args.config)
    for finding in findings:
        print(finding)
    errors = sum(f.severity == "error" for f in findings)
    print(f"{len(findings)} finding{'s' * (len(findings) != 1)}, {errors} error{'s' * (errors != 1)}"
          if findings else "no findings: the config matches the databases")
    return 1 if has_errors(findings) else 0


def _demo(args) -> None:
    from . import demo, load_config, run

    if args.backend == "sqlite":
        path = demo.build_sqlite(args.dir)
        config = load_config(path)
        print(f"Built the shop as two SQLite files in {Path(args.dir).resolve()}; config: {path}")
    else:
        built = demo.build_mysql(args.url)
        config = load_config(built)
        path = demo.write_mysql_config(built, args.dir)
        print(f"Built the shop as two databases on {config.databases['products'].url.render_as_string()}; "
              f"config: {path}")
    print("\nQuery (users -> paid orders -> products -> category, across two databases):\n")
    print(demo.DEMO_QUERY)
    result = run(config, demo.DEMO_QUERY)
    print(f"ONE statement ({result.dialect}):\n")
    print(result.to_sql())
    print(f"\nparams: {result.params}")
    print(f"\nresult.frame ({len(result.frame)} joined rows):\n")
    print(frame_table(result.frame))
    for name, frame in result.frames.items():
        print(f"\nresult.frames[{name!r}] ({len(frame)} rows):\n")
        print(frame_table(frame))
    print("\nresult.records[0]:\n")
    print(records_json(result.records[:1]))


if __name__ == "__main__":
    sys.exit(main())
