"""Sequelize 6 as a baseline on the library cases: installs itself, runs run.js, checks it against explorer.

The Node.js side (run.js) defines the library's models with the cross-database
schema trick and times ``findAll`` + ``toJSON()``; it is installed on first use
from package.json / package-lock.json (``npm ci``) into bench/sequelize/node_modules.
Without node or npm, ``unavailable()`` says why and bench.run skips the approach.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
import yaml

HERE = Path(__file__).parent


def unavailable() -> str | None:
    """None when run.js can run (installing Sequelize and mysql2 if needed), else the reason it cannot."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"sequelize skipped: `{tool}` is not on PATH (Node.js 18+ and npm are needed)"
    if (HERE / "node_modules" / "sequelize").is_dir():
        return None
    print("installing sequelize and mysql2 into bench/sequelize/node_modules (npm ci)", file=sys.stderr)
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=False,
                          capture_output=True, text=True)
    if done.returncode != 0:
        return f"sequelize skipped: npm ci failed: {done.stderr.strip().splitlines()[-1:]}"
    return None


def _environment(config_path: Path) -> dict[str, str]:
    """The lending database's URL for Sequelize (mysql://...) and the catalog's real database name."""
    databases = yaml.safe_load(Path(config_path).read_text())["databases"]
    lending = sa.engine.make_url(databases["lending"]["url"]).set(drivername="mysql")
    catalog = sa.engine.make_url(databases["catalog"]["url"]).database
    return {**os.environ, "CQBENCH_URL": lending.render_as_string(hide_password=False), "CQBENCH_CATALOG": catalog}


def measure(case: str, config_path: Path, *options: str) -> dict | None:
    """One fresh node process: findAll + toJSON() once; the JSON line run.js prints (None if it failed)."""
    done = subprocess.run(["node", str(HERE / "run.js"), case, *options], env=_environment(config_path),
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  sequelize/{case} failed: {done.stderr.strip().splitlines()[:1]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def count(records: list[dict], counts: dict[str, int] | None = None, path: str = "") -> dict[str, int]:
    """Records at each level of the include, as run.js counts them: {"": roots, "loans": ..., ...}."""
    counts = {} if counts is None else counts
    counts[path] = counts.get(path, 0) + len(records)
    for record in records:
        for name, value in record.items():
            if isinstance(value, (dict, list)):
                count(value if isinstance(value, list) else [value], counts, f"{path}.{name}" if path else name)
    return counts


def as_json(value):
    """Explorer's values as Sequelize's JSON shows them, lists in a fixed order, for comparison."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((as_json(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, Decimal):
        return str(value)  # mysql2 gives DECIMAL as its text
    if isinstance(value, dt.datetime):  # a JS Date (Sequelize's connection is in UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()  # DATEONLY
    return value


def check(case: str, query: str, config_path: Path, readers=("driver", "arrow")) -> None:
    """Fail loudly unless explorer (each reader) and Sequelize give the same counts at every level and
    the same records for a sample of roots (ids that are multiples of ``every``)."""
    import explorer

    every = 97
    theirs = measure(case, config_path, "--sample-every", str(every))
    if theirs is None:
        raise SystemExit(f"check {case}: the Sequelize runner failed")
    their_sample = as_json(theirs["sample"])
    for reader in readers:
        records = explorer.run(str(config_path), query, reader=reader).records
        ours = count(records)
        if ours != theirs["counts"]:
            raise SystemExit(f"check {case} ({reader}): explorer counts {ours} != Sequelize {theirs['counts']}")
        our_sample = as_json([r for r in records if r["id"] % every == 0])
        if our_sample != their_sample:
            ours_, theirs_ = next(((a, b) for a, b in zip(our_sample, their_sample) if a != b),
                                  (f"{len(our_sample)} roots", f"{len(their_sample)} roots"))
            raise SystemExit(f"check {case} ({reader}): sampled records differ from Sequelize's:\n"
                             f"  explorer  {ours_}\n  sequelize {theirs_}")
    print(f"check {case}: explorer ({', '.join(readers)}) and Sequelize agree: {ours}; "
          f"{len(our_sample)} sampled roots equal", file=sys.stderr)
