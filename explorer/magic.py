"""The ``%crossquery`` line magic and the ``%%crossquery`` cell magic.

The magics only parse their input and call the public API (``explorer.run``,
``explorer.prepare``, ``explorer.diagram``, ``explorer.builder``). An
``ExplorerError`` becomes an IPython ``UsageError``, so a notebook shows one
clear message instead of a traceback.

    %load_ext explorer
    %crossquery config shop.yaml
    %%crossquery -o users
    from: User
    include: [orders]
"""

from __future__ import annotations

import html
import json
import shlex
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import JSON, display

import explorer
from explorer.display import plan_html, statement_html, yaml_html
from explorer.engines import ENGINES
from explorer.errors import ExplorerError, did_you_mean
from explorer.export import statement_sql
from explorer.textout import records_json

LINE_USAGE = """\
%crossquery config PATH|VARIABLE    use this config for the session's %%crossquery cells
%crossquery config                  show the session's config
%crossquery diagram [PATH|VARIABLE] [--columns]   draw the config's models and associations (Mermaid);
                                    --columns: every column with its type, not only the keys
%crossquery builder [PATH|VARIABLE] [QUERY_VARIABLE]   open the visual include builder
%crossquery init URL [URL ...] [-o FILE.yaml]   draft a config from live schemas (YAML and diagram)"""


@magics_class
class CrossqueryMagics(Magics):
    """%crossquery / %%crossquery: nested cross-database include queries as ONE statement."""

    def __init__(self, shell):
        super().__init__(shell)
        self.session_config: explorer.Config | None = None
        self.session_config_ref: str | None = None

    @line_magic("crossquery")
    def crossquery_line(self, line: str):
        """%crossquery config|diagram|builder|init ...: set the session config, draw it, open the
        builder, draft one from live schemas."""
        words = shlex.split(line)
        if not words or words[0] not in ("config", "diagram", "builder", "init"):
            raise UsageError("Usage:\n" + LINE_USAGE)
        command, rest = words[0], words[1:]
        with explorer_errors():
            return getattr(self, f"_{command}")(rest)

    @cell_magic("crossquery")
    @magic_arguments()
    @argument("-c", "--config", help="config: a YAML/JSON path or a variable holding a dict or Config "
              "(default: the one set by %%crossquery config)")
    @argument("-o", "--out", default="_cq", help="variable that receives the Result (default: _cq)")
    @argument("--sql", action="store_true", help="compile and show the SQL only; do not run it")
    @argument("--dialect", help="render the shown (--sql) and exported SQL for this dialect "
              "(mysql, mariadb, sqlite, postgresql, trino, ...)")
    @argument("--literal", action="store_true", help="inline the values in the shown (--sql) and "
              "exported SQL, for pasting into a SQL console")
    @argument("--export", metavar="FILE.sql", help="also write the statement to this .sql snippet file")
    @argument("--max-rows", type=int, metavar="N", help="stop when more than N joined rows come back")
    @argument("--timeout", type=float, metavar="SECONDS", help="statement timeout in seconds")
    @argument("--engine", choices=ENGINES, help="who runs the statement: the one server, DuckDB or "
              "Spark (default: the config's engine:, else auto)")
    @argument("--explain", action="store_true", help="show the engine's plan for the statement; "
              "do not run it")
    @argument("--format", choices=("flat", "frames", "nested"), help="show the flat frame, one frame "
              "per model, or the nested records, instead of the rich result")
    def crossquery(self, line: str, cell: str):
        """Run the include query in the cell body (YAML) as ONE statement; ``:name`` binds variables."""
        args = parse_argstring(self.crossquery, line)
        if not cell.strip():
            raise UsageError("The %%crossquery cell is empty: write an include query, e.g. 'from: User'.")
        with explorer_errors():
            config = self._config_for(args.config)
            query = explorer.parse_query(config, cell)
            params = self._notebook_params(query, strict=not args.sql)
            if args.explain:
                return self._show_plan(explorer.prepare(config, query, params, engine=args.engine), args)
            if args.sql:
                return self._show_statement(explorer.prepare(config, query, params, engine=args.engine), args)
            result = explorer.run(config, query, params, timeout=args.timeout, max_rows=args.max_rows,
                                  engine=args.engine)
            self.shell.user_ns[args.out] = result
            self._export(result, args)
            return self._shown(result, args.format)

    # -- line commands

    def _config(self, rest: list[str]):
        if not rest:
            if self.session_config is None:
                raise UsageError("No session config yet. Usage:\n" + LINE_USAGE)
            return self.session_config
        self.session_config = self._resolve_config(rest[0])
        self.session_config_ref = rest[0]
        print(f"crossquery: using {self.session_config!r}")
        return None

    def _diagram(self, rest: list[str]):
        """``--columns`` lists every column of each model with its type, not only the keys."""
        options = [word for word in rest if word.startswith("-")]
        refs = [word for word in rest if not word.startswith("-")]
        usage = "Usage: %crossquery diagram [PATH|VARIABLE] [--columns]"
        unknown = [option for option in options if option != "--columns"]
        if unknown:
            raise UsageError(f"%crossquery diagram: unknown option {unknown[0]!r}."
                             f"{did_you_mean(unknown[0], ['--columns'])} {usage}")
        if len(refs) > 1:
            raise UsageError(f"%crossquery diagram takes one config, got {' '.join(refs)}. {usage}")
        config = self._config_for(refs[0] if refs else None)
        return explorer.diagram(config, columns="--columns" in options)

    def _builder(self, rest: list[str]):
        from .widget import builder

        ref = rest[0] if rest else None
        config = self._config_for(ref)
        query = self._variable(rest[1]) if len(rest) > 1 else None
        return builder(config, query=query, config_ref=ref or self.session_config_ref)

    def _init(self, rest: list[str]):
        """Show the drafted YAML and its diagram; ``-o FILE.yaml`` writes it; ``_cq_init`` holds the Draft."""
        from .introspect import write_yaml

        output = None
        if "-o" in rest:
            at = rest.index("-o")
            if at + 1 >= len(rest):
                raise UsageError("%crossquery init: -o needs a file name, e.g. -o my.yaml")
            output, rest = rest[at + 1], rest[:at] + rest[at + 2:]
        if not rest:
            raise UsageError("Usage: %crossquery init URL [URL ...] [-o FILE.yaml]")
        draft = explorer.init(rest)
        self.shell.user_ns["_cq_init"] = draft
        display({"text/html": yaml_html(draft.yaml), "text/plain": draft.yaml}, raw=True)
        for note in draft.notes:
            print(f"crossquery: note: {note}")
        if output:
            print(f"crossquery: wrote {write_yaml(draft, output)}; next: %crossquery config {output}")
        return explorer.diagram(explorer.load_config(draft.data))

    # -- helpers

    def _config_for(self, ref: str | None) -> explorer.Config:
        if ref:
            return self._resolve_config(ref)
        if self.session_config is None:
            raise UsageError("No config: run `%crossquery config shop.yaml` first, or pass -c CONFIG.")
        return self.session_config

    def _resolve_config(self, ref: str) -> explorer.Config:
        """A variable name in the notebook (dict, Config or path), else a file path."""
        value = self.shell.user_ns.get(ref) if ref.isidentifier() else None
        if value is None:
            value = str(Path(ref).expanduser())
        return explorer.load_config(value)

    def _variable(self, name: str) -> Any:
        if name not in self.shell.user_ns:
            raise UsageError(f"No variable {name!r} in the notebook.")
        return self.shell.user_ns[name]

    def _notebook_params(self, query, strict: bool = True) -> dict[str, Any]:
        """Values of the query's ``:name`` placeholders, from the notebook's variables."""
        missing = [name for name in query.param_names if name not in self.shell.user_ns]
        if missing and strict:
            raise UsageError(f"The query uses {', '.join(':' + m for m in missing)} but the notebook "
                             f"has no variable {', '.join(missing)}. Define it in a cell above.")
        return {name: self.shell.user_ns[name] for name in query.param_names if name not in missing}

    def _show_statement(self, statement, args):
        self.shell.user_ns[args.out] = statement
        self._export(statement, args)
        markup = statement_html(statement, dialect=args.dialect, literal=args.literal)
        text = statement_sql(statement, dialect=args.dialect, literal=args.literal)
        display({"text/html": markup, "text/plain": text}, raw=True)

    def _show_plan(self, statement, args):
        self.shell.user_ns[args.out] = statement
        plan = statement.explain()
        text = f"-- plan of the {statement.engine} engine\n{plan}"
        display({"text/html": plan_html(statement, plan), "text/plain": text}, raw=True)

    def _export(self, statement, args) -> None:
        if args.export:
            path = statement.export(args.export, dialect=args.dialect, literal=args.literal)
            print(f"crossquery: wrote {path}")

    @staticmethod
    def _shown(result, form: str | None):
        if form == "flat":
            return result.frame
        if form == "frames":
            for name, frame in result.frames.items():
                title = f"{name} ({len(frame):,} rows)"
                display({"text/html": f"<b>{html.escape(name)}</b> ({len(frame):,} rows)",
                         "text/plain": title}, raw=True)
                display(frame)
            return None
        if form == "nested":
            return JSON(json.loads(records_json(result.records), parse_float=_shown_number,
                                   parse_int=_shown_integer), root="records")
        return result


@contextmanager
def explorer_errors():
    """Turn an ExplorerError into a UsageError carrying its message only."""
    try:
        yield
    except ExplorerError as exc:
        raise UsageError(str(exc)) from None


def load_ipython_extension(ipython) -> None:
    """``%load_ext explorer``: register %crossquery and %%crossquery."""
    ipython.register_magics(CrossqueryMagics)


def _shown_integer(text: str):
    """An integer the browser's doubles hold exactly (|n| <= 2**53) stays a number, else its text."""
    number = int(text)
    return number if abs(number) <= 2**53 else text


def _shown_number(text: str):
    """A JSON number for the browser's viewer, which reads numbers as doubles: kept a number only
    where the double is exactly the value (``0.5``), else shown as its text (``"31.40"``)."""
    number = float(text)
    return number if repr(number) == text else text
