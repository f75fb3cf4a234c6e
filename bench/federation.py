"""The cost of federation: the same cases on one server, through DuckDB and through Spark local.

``python -m bench.federation [--repeat 3] [--engine server --engine duckdb --engine spark]``

The benchmark's data (``python -m bench.generate``) holds both databases on
MariaDB and the catalogue (``products``) once more on PostgreSQL. Here ``server``
runs each case on MariaDB alone (one server holds both databases); ``duckdb`` and
``spark`` run it with ``users_and_orders`` on MariaDB and ``products`` on
PostgreSQL, so no one server holds the query and the engine joins across them in
ONE statement. Each
measurement runs in a fresh process: ``cold`` is the first run (DuckDB's LOAD and
ATTACH, Spark's session start included), ``warm`` the second run in the same
process, as a notebook's next cell would be. Ratios are to ``server`` (warm) in
the same run. The section "Federation" of bench/RESULTS.md is rewritten.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.cases import SHOP_CASES as CASES
from bench.generate import DATA
from bench.results import FEDERATION as HEADING
from bench.results import RESULTS, replace_section

ENGINES = {"server": "one server (MariaDB holds both databases)",
           "duckdb": "DuckDB: MariaDB + PostgreSQL",
           "spark": "Spark local[2]: MariaDB + PostgreSQL"}


def federated_config() -> dict:
    """users_and_orders from the MariaDB data, products from the PostgreSQL copy of the same data."""
    config = yaml.safe_load((DATA / "mysql.yaml").read_text())
    config["databases"]["products"] = yaml.safe_load((DATA / "postgresql.yaml").read_text())["databases"]["products"]
    return config


def config_for(engine: str) -> dict:
    if engine == "server":
        return yaml.safe_load((DATA / "mysql.yaml").read_text())
    config = federated_config()
    config["engine"] = {"spark": {"master": "local[2]"}} if engine == "spark" else "duckdb"
    return config


def measure_in_process(engine: str, case: str) -> dict:
    """Two runs of run + frame + frames + records in this process: cold, then warm."""
    import explorer

    config = explorer.load_config(config_for(engine))
    for model in config.models:
        config.table(model)  # reflect once, as a notebook session would
    times = []
    for _ in range(2):
        started = time.perf_counter()
        result = explorer.run(config, CASES[case], timeout=3600, max_rows=10_000_000)
        _ = result.frame, result.frames, result.records
        times.append(time.perf_counter() - started)
    return {"engine": result.engine, "case": case, "cold": times[0], "warm": times[1],
            "rows": result.row_count, "records": len(result.records)}


def measure(engine: str, case: str) -> dict | None:
    done = subprocess.run([sys.executable, "-m", "bench.federation", "--one", engine, case],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  {engine}/{case} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(samples: dict, engines: list[str], cases: list[str], repeat: int) -> list[str]:
    lines = [f"{HEADING} (median of {repeat}; ratios to one server, warm, in the same run)", "",
             "Cold: the first run in a fresh process (engine start included); warm: the next run.", "",
             "| case | engine | warm s | cold s | rows sent | records | warm x server | cold x server |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for case in cases:
        warm = {e: statistics.median(s["warm"] for s in samples[(case, e)]) for e in engines if (case, e) in samples}
        cold = {e: statistics.median(s["cold"] for s in samples[(case, e)]) for e in engines if (case, e) in samples}
        base = warm.get("server")
        for engine in engines:
            if engine not in warm:
                continue
            last = samples[(case, engine)][-1]
            ratios = (f"{warm[engine] / base:.2f} | {cold[engine] / base:.2f}" if base else " | ")
            lines.append(f"| {case} | {ENGINES[engine]} | {warm[engine]:.3f} | {cold[engine]:.3f} | "
                         f"{last['rows']:,} | {last['records']:,} | {ratios} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--engine", action="append", choices=list(ENGINES))
    parser.add_argument("--one", nargs=2, metavar=("ENGINE", "CASE"), help=argparse.SUPPRESS)
    parser.add_argument("--output", default=str(RESULTS), help="RESULTS.md to update, or - to print only")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_in_process(*args.one)))
        return
    if not (DATA / "mysql.yaml").is_file() or not (DATA / "postgresql.yaml").is_file():
        sys.exit("No benchmark data: run `python -m bench.generate --scale 0.1` (or 1) first.")
    scale = (DATA / "scale.txt").read_text().strip()
    engines, cases = args.engine or list(ENGINES), args.case or list(CASES)
    samples: dict[tuple, list[dict]] = {}
    for round_ in range(args.repeat):
        print(f"round {round_ + 1}/{args.repeat}", file=sys.stderr)
        for case in cases:
            for engine in engines if round_ % 2 == 0 else list(reversed(engines)):
                sample = measure(engine, case)
                if sample:
                    samples.setdefault((case, engine), []).append(sample)
    lines = summarise(samples, engines, cases, args.repeat)
    lines.insert(1, f"\nScale {scale}; the same machine and versions as above, plus duckdb and pyspark.")
    print("\n".join(lines))
    if args.output != "-":
        replace_section(Path(args.output), HEADING, lines)


if __name__ == "__main__":
    main()
