"""Run every approach on every case side by side: ``python -m bench.run [--repeat 3]``.

Each measurement runs in a fresh process; repetitions alternate between
approaches so that a noisy moment hurts them all alike; the tables show
medians. The shop's cases (bench.generate) are compared with (b) pandas.read_sql
over PyMySQL and (e) the fastest reader of the same statement; the library's
(bench.library) with Sequelize 6's findAll + toJSON() on the same data, after a
check that both give the same records. Results go to bench/RESULTS.md: the
shop's table at the top, the library's in the section "Library".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from bench import library, sequelize
from bench.cases import CASES, LIBRARY_CASES, SHOP_CASES
from bench.generate import DATA
from bench.results import LIBRARY, RESULTS, replace_section, replace_top

APPROACHES = {  # label -> (approach, role)
    "explorer": "(a) explorer over PyMySQL: run + frame + frames + records",
    "explorer_fast": "(a') explorer, Arrow fast path: run + frame + frames + records",
    "explorer_records": "(a) explorer over PyMySQL: run + records",
    "explorer_records_fast": "(a') explorer, Arrow fast path: run + records",
    "explorer_frame": "(a) explorer over PyMySQL: run + frame",
    "read_sql": "(b) the same SQL, pandas.read_sql over PyMySQL",
    "naive_merge": "(c) one query per database + pandas merges",
    "orm_joinedload": "(d) SQLAlchemy ORM joinedload (+ nested dicts)",
    "orm_selectinload": "(d) SQLAlchemy ORM selectinload (+ nested dicts)",
    "connectorx": "(e) connectorx -> pandas, same SQL",
    "limit_client": "(e) mariadb client, same SQL, to a pipe",
    "sequelize": "(s) Sequelize 6 findAll + toJSON() (Node.js, mysql2)",
}
LIBRARY_LABELS = {**APPROACHES, "explorer": "(a) explorer over PyMySQL: run + records",
                  "explorer_fast": "(a') explorer, Arrow fast path: run + records",
                  "explorer_json": "(a) explorer over PyMySQL, strategy: json: run + records",
                  "explorer_json_fast": "(a') explorer, Arrow, strategy: json: run + records"}
LIMITS = ("connectorx", "limit_client")
SHOP_ONLY = ("naive_merge", "orm_joinedload", "orm_selectinload")
LIBRARY_ONLY = ("explorer_json", "explorer_json_fast")  # the shop's siblings case is json already
ON_REQUEST = ("explorer_records", "explorer_records_fast", "explorer_frame")  # the shop's run + records, asked by --approach
LIBRARY_DEFAULT = ("explorer", "explorer_fast", "explorer_json", "explorer_json_fast", "read_sql", "sequelize")
DATASETS = {  # name -> (its cases, config, scale file, how to make it)
    "shop": (SHOP_CASES, DATA / "mysql.yaml", DATA / "scale.txt", "python -m bench.generate --scale 1"),
    "library": (LIBRARY_CASES, library.CONFIG, library.SCALE, "python -m bench.library --scale 1"),
}


def dataset(case: str) -> tuple:
    return next(value for value in DATASETS.values() if case in value[0])


def measure(approach: str, case: str) -> dict | None:
    config = dataset(case)[1]
    if approach == "sequelize":
        return sequelize.measure(case, config)
    done = subprocess.run([sys.executable, "-m", "bench.case", approach, case, str(config)],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  {approach}/{case} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def plan(cases: list[str], chosen: list[str] | None) -> dict[str, list[str]]:
    """The approaches of each case: those asked for (or the default) that apply to its data."""
    from bench.approaches import APPROACHES as known

    result = {}
    for case in cases:
        if case in LIBRARY_CASES:
            result[case] = [a for a in chosen or LIBRARY_DEFAULT if a not in SHOP_ONLY]
        else:
            result[case] = [a for a in chosen or APPROACHES
                            if a != "sequelize" and (chosen or a not in LIBRARY_ONLY + ON_REQUEST)]
        result[case] = [a for a in result[case] if a in known or a == "sequelize"]
    return result


def run(repeat: int, approaches: dict[str, list[str]]) -> dict:
    samples: dict[tuple, list[dict]] = {}
    for round_ in range(repeat):
        print(f"round {round_ + 1}/{repeat}", file=sys.stderr)
        for case, names in approaches.items():
            for approach in names if round_ % 2 == 0 else list(reversed(names)):
                sample = measure(approach, case)
                if sample:
                    samples.setdefault((case, approach), []).append(sample)
    return samples


def medians(samples: dict, case: str, approaches: list[str]) -> dict[str, float]:
    return {a: statistics.median(s["seconds"] for s in samples[(case, a)]) for a in approaches if (case, a) in samples}


def summarise(samples: dict, approaches: dict[str, list[str]]) -> list[str]:
    lines = ["| case | approach | median s | rows sent | records | peak MB | frames MB | x (b) | x (e) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for case, names in approaches.items():
        median = medians(samples, case, names)
        limit = min((median[a] for a in LIMITS if a in median), default=None)
        for approach in median:
            last = samples[(case, approach)][-1]
            ratio_b = f"{median[approach] / median['read_sql']:.2f}" if "read_sql" in median else ""
            ratio_e = f"{median[approach] / limit:.2f}" if limit else ""
            lines.append(f"| {case} | {APPROACHES[approach]} | {median[approach]:.3f} | {_n(last['rows'])} | "
                         f"{_n(last['records'])} | {last['peak_mb']:.0f} | {last['frames_mb']:.1f} | "
                         f"{ratio_b} | {ratio_e} |")
    return lines


def summarise_library(samples: dict, approaches: dict[str, list[str]]) -> list[str]:
    """The library's table: ratios to Sequelize (and to read_sql) in the same run."""
    lines = ["| case | approach | median s | rows sent | records | peak MB | x (b) | x sequelize |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for case, names in approaches.items():
        median = medians(samples, case, names)
        roots = {s["records"] for a in median for s in samples[(case, a)] if s["records"] is not None}
        if len(roots) > 1:
            lines.append(f"| {case} | **records differ between approaches: {sorted(roots)}** | | | | | | |")
        for approach in median:
            last = samples[(case, approach)][-1]
            ratios = [f"{median[approach] / median[base]:.2f}" if base in median else ""
                      for base in ("read_sql", "sequelize")]
            lines.append(f"| {case} | {LIBRARY_LABELS[approach]} | {median[approach]:.3f} | {_n(last['rows'])} | "
                         f"{_n(last['records'])} | {last['peak_mb']:.0f} | {' | '.join(ratios)} |")
    return lines


def _n(value) -> str:
    return "" if value is None else f"{value:,}"


def machine() -> list[str]:
    import os

    versions = ", ".join(f"{name} {_version(name)}" for name in
                         ("pandas", "SQLAlchemy", "PyMySQL", "connectorx", "pyarrow"))
    server = subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-N", "-e", "SELECT VERSION()"],
                            check=False, capture_output=True, text=True).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [f"- machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}",
            f"- Python {platform.python_version()}; {versions}",
            f"- server: MariaDB {server} on loopback, sharing the cores with the client"]


def node_versions() -> str:
    node = subprocess.run(["node", "--version"], check=False, capture_output=True, text=True).stdout.strip()
    lock = json.loads((sequelize.HERE / "package-lock.json").read_text())["packages"]
    return (f"- Node.js {node}; sequelize {lock['node_modules/sequelize']['version']}, "
            f"mysql2 {lock['node_modules/mysql2']['version']}")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def library_section(samples: dict, approaches: dict[str, list[str]], repeat: int, note: str | None,
                    checked: bool) -> list[str]:
    scale = library.SCALE.read_text().strip()
    check = ("before timing, `bench.sequelize.check` compared both on every case (counts at each level, "
             "sampled records)" if checked else "explorer's records were not compared with Sequelize's (--no-check)")
    return [f"{LIBRARY} (scale {scale}, median of {repeat}; ratios in the same run)", "",
            ("The library of `bench.library` (scale 1: 20k members, 100k loans; 5k books, 2k authors, 15k links) "
            "in two MariaDB databases. explorer: `run()` + `.records`; Sequelize: `findAll` with the same "
            "include + `toJSON()` (bench/sequelize/run.js: one instance, `dialect.supports.schemas = true`, "
            "`schema:` on the catalog's models). Each measurement is a fresh process; "
            f"{check}. Measured {dt.date.today()}."), "",
            *machine(), *([note] if note else [node_versions()]), "", *summarise_library(samples, approaches), ""]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--approach", action="append", choices=sorted(LIBRARY_LABELS))
    parser.add_argument("--no-check", action="store_true", help="skip comparing explorer's records with Sequelize's")
    parser.add_argument("--output", default=str(RESULTS), help="RESULTS.md to update, or - to print only")
    args = parser.parse_args(argv)
    cases = args.case or [c for set_, config, *_ in DATASETS.values() if config.is_file() for c in set_]
    for name, (set_, config, _, make) in DATASETS.items():
        if not config.is_file() and (args.case is None or set(args.case) & set(set_)):
            print(f"No {name} data: run `{make}` first.", file=sys.stderr)
            if args.case:
                sys.exit(1)
    approaches = plan(cases, args.approach)
    note = None
    if any("sequelize" in names for names in approaches.values()):
        note = sequelize.unavailable()
        if note:
            print(note, file=sys.stderr)
            approaches = {case: [a for a in names if a != "sequelize"] for case, names in approaches.items()}
        elif not args.no_check:  # in its own process: a child inherits the peak memory of its parent
            checked = [case for case in approaches if case in LIBRARY_CASES]
            if subprocess.run([sys.executable, "-m", "bench.sequelize", "check", *checked], check=False).returncode:
                sys.exit("explorer and Sequelize disagree: see above")
    samples = run(args.repeat, approaches)
    shop = {case: names for case, names in approaches.items() if case in SHOP_CASES}
    lending = {case: names for case, names in approaches.items() if case in LIBRARY_CASES}
    output = None if args.output == "-" else Path(args.output)
    if shop:
        scale = (DATA / "scale.txt").read_text().strip()
        lines = [f"# Benchmark results (scale {scale}, median of {args.repeat})", "",
                 *machine(), "", *summarise(samples, shop), ""]
        print("\n".join(lines))
        if output:
            replace_top(output, lines)
    if lending:
        lines = library_section(samples, lending, args.repeat, note, checked=not (note or args.no_check))
        print("\n".join(lines))
        if output:
            replace_section(output, LIBRARY, lines)


if __name__ == "__main__":
    main()
