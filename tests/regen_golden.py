"""Regenerate the golden SQL files: ``python tests/regen_golden.py``.

Each shop case of ``shopcases.CASES`` is rendered for every dialect into
``tests/golden/<case>.<dialect>.sql`` by ``explorer.prepare(...).to_sql(dialect=...)``,
so a change of the compiler shows up as a reviewable diff of these files.
The shop is built as SQLite files in a temporary folder (columns are reflected
from it); the SQL names logical databases only, never a path.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shopcases import CASES, extended, extended_models

import explorer
from explorer import demo

GOLDEN = Path(__file__).resolve().parent / "golden"
DIALECTS = ("sqlite", "mysql", "postgresql", "trino")
# Trino names each database by a catalog of the Trino cluster (databases.<name>.catalog).
TRINO_CATALOGS = {"users_and_orders": "shop_mariadb", "products": "shop_postgresql"}


def with_catalogs(config: explorer.Config) -> explorer.Config:
    databases = {name: {"url": db.url.render_as_string(hide_password=False), "schema": db.schema,
                        "catalog": TRINO_CATALOGS[name]} for name, db in config.databases.items()}
    return explorer.load_config({"databases": databases, "models": extended_models()})


# Soft deletes need paranoid models: those cases render over the lending library (tests/library.py).
LIBRARY_CASES = {
    "library_paranoid": {"from": "Member", "attributes": ["id"],
                         "include": [{"loans": {"attributes": ["id"], "include": [
                             {"book": {"attributes": ["id"], "include": [
                                 {"authors": {"attributes": ["id"], "through": {"attributes": ["role"]}}}]}}]}}]},
    "library_paranoid_off": {"from": "Loan", "attributes": ["id"], "paranoid": False,
                             "include": [{"book": {"attributes": ["id"], "paranoid": False}},
                                         {"member": {"attributes": ["id"]}}]},
    "library_top_n_through_paranoid": {
        "from": "Author", "attributes": ["id"],
        "include": [{"books": {"attributes": ["title"], "order": [["year", "desc"]], "limit": 2, "offset": 1,
                               "through": {"attributes": ["role"], "paranoid": False}}}]},
}
LIBRARY_CATALOGS = {"lending": "library_mariadb", "catalog": "library_postgresql"}


def library_config(folder: str, dialect: str) -> explorer.Config:
    import library

    config = library.build_sqlite(folder)
    if dialect == "trino":
        for name, database in config["databases"].items():
            database["catalog"] = LIBRARY_CATALOGS[name]
    return explorer.load_config(config)


def render_library(folder: str, case: str, dialect: str) -> str:
    config = library_config(folder, dialect)
    return explorer.prepare(config, LIBRARY_CASES[case]).to_sql(dialect=dialect).rstrip() + "\n"


def rendered_cases(config: explorer.Config, dialect: str) -> list[str]:
    """The cases with a golden file for ``dialect``: Trino renders the join strategy only."""
    if dialect != "trino":
        return sorted(CASES)
    return [case for case in sorted(CASES) if explorer.prepare(config, CASES[case]).compiled.strategy == "join"]


def render(config: explorer.Config, case: str, dialect: str) -> str:
    config = with_catalogs(config) if dialect == "trino" else extended(config)
    return explorer.prepare(config, CASES[case]).to_sql(dialect=dialect).rstrip() + "\n"


def golden_path(case: str, dialect: str) -> Path:
    return GOLDEN / f"{case}.{dialect}.sql"


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        config = explorer.load_config(demo.build_sqlite(folder))
        written = set()
        for dialect in DIALECTS:
            for case in rendered_cases(extended(config), dialect):
                path = golden_path(case, dialect)
                path.write_text(render(config, case, dialect), encoding="utf-8")
                written.add(path)
        for dialect in DIALECTS:
            for case in LIBRARY_CASES:
                path = golden_path(case, dialect)
                path.write_text(render_library(folder, case, dialect), encoding="utf-8")
                written.add(path)
        for stale in set(GOLDEN.glob("*.sql")) - written:
            stale.unlink()
    print(f"wrote {len(written)} golden files to {GOLDEN}")


if __name__ == "__main__":
    main()
