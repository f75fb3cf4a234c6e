"""Run every approach on every case side by side: ``python -m bench.run [--repeat 3]``.

Each measurement runs in a fresh process; repetitions alternate between
approaches so that a noisy moment hurts them all alike; the table shows
medians and ratios to (b) pandas.read_sql over PyMySQL and to (e) the fastest
reader of the same statement. Results go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from bench.cases import CASES
from bench.federation import HEADING
from bench.generate import DATA

APPROACHES = {  # label -> (approach, role)
    "explorer": "(a) explorer over PyMySQL: run + frame + frames + records",
    "explorer_fast": "(a') explorer, Arrow fast path: run + frame + frames + records",
    "read_sql": "(b) the same SQL, pandas.read_sql over PyMySQL",
    "naive_merge": "(c) one query per database + pandas merges",
    "orm_joinedload": "(d) SQLAlchemy ORM joinedload (+ nested dicts)",
    "orm_selectinload": "(d) SQLAlchemy ORM selectinload (+ nested dicts)",
    "connectorx": "(e) connectorx -> pandas, same SQL",
    "limit_client": "(e) mariadb client, same SQL, to a pipe",
}
LIMITS = ("connectorx", "limit_client")


def measure(approach: str, case: str, config: Path) -> dict | None:
    done = subprocess.run([sys.executable, "-m", "bench.case", approach, case, str(config)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  {approach}/{case} failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def available(approaches: list[str]) -> list[str]:
    from bench.approaches import APPROACHES as known

    return [a for a in approaches if a in known]


def run(repeat: int, approaches: list[str], cases: list[str], config: Path) -> dict:
    samples: dict[tuple, list[dict]] = {}
    for round_ in range(repeat):
        print(f"round {round_ + 1}/{repeat}", file=sys.stderr)
        for case in cases:
            order = approaches if round_ % 2 == 0 else list(reversed(approaches))
            for approach in order:
                sample = measure(approach, case, config)
                if sample:
                    samples.setdefault((case, approach), []).append(sample)
    return samples


def summarise(samples: dict, approaches: list[str], cases: list[str]) -> list[str]:
    lines = ["| case | approach | median s | rows sent | records | peak MB | frames MB | x (b) | x (e) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for case in cases:
        median = {a: statistics.median(s["seconds"] for s in samples[(case, a)])
                  for a in approaches if (case, a) in samples}
        limit = min((median[a] for a in LIMITS if a in median), default=None)
        for approach in approaches:
            if approach not in median:
                continue
            last = samples[(case, approach)][-1]
            ratio_b = f"{median[approach] / median['read_sql']:.2f}" if "read_sql" in median else ""
            ratio_e = f"{median[approach] / limit:.2f}" if limit else ""
            lines.append(f"| {case} | {APPROACHES[approach]} | {median[approach]:.3f} | {_n(last['rows'])} | "
                         f"{_n(last['records'])} | {last['peak_mb']:.0f} | {last['frames_mb']:.1f} | "
                         f"{ratio_b} | {ratio_e} |")
    return lines


def _n(value) -> str:
    return "" if value is None else f"{value:,}"


def machine() -> list[str]:
    import os

    versions = ", ".join(f"{name} {_version(name)}" for name in
                         ("pandas", "SQLAlchemy", "PyMySQL", "connectorx", "pyarrow"))
    server = subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-N", "-e", "SELECT VERSION()"],
                            capture_output=True, text=True).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [f"- machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}",
            f"- Python {platform.python_version()}; {versions}",
            f"- server: MariaDB {server} on loopback, sharing the cores with the client"]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--approach", action="append", choices=sorted(APPROACHES))
    parser.add_argument("--output", default=str(Path(__file__).parent / "RESULTS.md"))
    args = parser.parse_args(argv)
    config = DATA / "mysql.yaml"
    if not config.is_file():
        sys.exit("No benchmark data: run `python -m bench.generate --scale 1` first.")
    scale = (DATA / "scale.txt").read_text().strip()
    cases = args.case or list(CASES)
    approaches = available(args.approach or list(APPROACHES))
    samples = run(args.repeat, approaches, cases, config)
    table = summarise(samples, approaches, cases)
    text = "\n".join([f"# Benchmark results (scale {scale}, median of {args.repeat})", "",
                      *machine(), "", *table, ""])
    print(text)
    if args.output != "-":
        output = Path(args.output)
        kept = output.read_text(encoding="utf-8").partition(HEADING) if output.is_file() else ("", "", "")
        federation = kept[1] + kept[2] if kept[1] else ""  # bench.federation's section stays
        output.write_text(text + ("\n" + federation if federation else ""), encoding="utf-8")


if __name__ == "__main__":
    main()
