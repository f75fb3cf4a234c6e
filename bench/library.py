"""A lending library at scale in MariaDB, the data of shared/MEASURED.md's Sequelize comparison.

    python -m bench.library --scale 1     # 20k members, 100k loans; 5k books, 2k authors, 15k links

Two databases: ``cqbench_lending`` (members, loans) and ``cqbench_catalog``
(books, authors, book_authors); a loan belongs to a book across them.
Deterministic (a fixed seed), bulk-loaded with LOAD DATA LOCAL INFILE, with
indexes on the foreign keys. Writes bench/data/library.yaml for bench.run
(cases ``library_*`` in bench/cases.py) and the Sequelize runner.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pymysql
import yaml

from bench.generate import DATA

CONFIG = DATA / "library.yaml"
SCALE = DATA / "library_scale.txt"
HOST, PORT, USER = "127.0.0.1", 3306, "root"
DATABASES = {"lending": "cqbench_lending", "catalog": "cqbench_catalog"}  # logical -> real

TABLES = {  # real database -> CREATE TABLE statements, in load order
    "cqbench_lending": {
        "members": "id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL, "
                   "joined_on DATE NOT NULL",
        "loans": "id INT PRIMARY KEY, member_id INT NOT NULL, book_id INT NOT NULL, loaned_at DATETIME NOT NULL, "
                 "returned_on DATE NULL, fee DECIMAL(8,2) NOT NULL, KEY (member_id), KEY (book_id)",
    },
    "cqbench_catalog": {
        "books": "id INT PRIMARY KEY, title VARCHAR(200) NOT NULL, year INT NULL",
        "authors": "id INT PRIMARY KEY, name VARCHAR(100) NOT NULL",
        "book_authors": "book_id INT NOT NULL, author_id INT NOT NULL, role VARCHAR(20) NOT NULL, "
                        "PRIMARY KEY (book_id, author_id), KEY (author_id)",
    },
}

MODELS = {
    "Member": {"database": "lending", "table": "members",
               "associations": {"loans": {"has_many": "Loan", "foreign_key": "member_id"}}},
    "Loan": {"database": "lending", "table": "loans",
             "associations": {"book": {"belongs_to": "Book", "foreign_key": "book_id"},
                              "member": {"belongs_to": "Member", "foreign_key": "member_id"}}},
    "Book": {"database": "catalog", "table": "books",
             "associations": {"authors": {"belongs_to_many": "Author", "through": "BookAuthor",
                                          "foreign_key": "book_id", "other_key": "author_id"},
                              "loans": {"has_many": "Loan", "foreign_key": "book_id"}}},
    "Author": {"database": "catalog", "table": "authors"},
    "BookAuthor": {"database": "catalog", "table": "book_authors", "primary_key": ["book_id", "author_id"]},
}

ADJECTIVES = np.array(["Silent", "Amber", "Broken", "Crimson", "Distant", "Endless", "Golden", "Hidden",
                       "Iron", "Last", "Midnight", "Northern", "Pale", "Quiet", "Secret", "Winter"])
NOUNS = np.array(["River", "Garden", "Atlas", "Crown", "Harbour", "Island", "Lantern", "Mirror",
                  "Orchard", "Prince", "Road", "Sea", "Tower", "Voyage", "Wolf", "Year"])
FIRST = np.array(["Ada", "Björn", "Chidi", "Dana", "Émile", "Farah", "Grace", "Hal", "Ines", "Jun"])
LAST = np.array(["Lovelace", "Ødegård", "O'Connor", "Whitfield", "陈", "Hopper", "Jansson", "Quill"])
ROLES = np.array(["author", "translator", "illustrator", "editor"])


def library_rows(scale: float, seed: int = 12) -> dict[str, pd.DataFrame]:
    """One DataFrame per table, in TABLES' column order."""
    rng = np.random.default_rng(seed)
    n_members, n_loans = max(int(20_000 * scale), 20), max(int(100_000 * scale), 100)
    n_books, n_authors, n_links = max(int(5_000 * scale), 10), max(int(2_000 * scale), 5), max(int(15_000 * scale), 30)
    member_ids, book_ids = np.arange(1, n_members + 1), np.arange(1, n_books + 1)
    members = pd.DataFrame({
        "id": member_ids, "name": [f"member {i}" for i in member_ids],
        "email": [f"member{i}@example.org" for i in member_ids],
        "joined_on": np.datetime64("2020-01-01") + rng.integers(0, 1_500, n_members)})
    # Members borrow unevenly (gamma weights): about 8% never borrow, some borrow a lot.
    weights = rng.gamma(2.0, size=n_members)
    loaned_at = np.datetime64("2024-01-01T00:00") + rng.integers(0, 525_600, n_loans).astype("timedelta64[m]")
    returned = loaned_at.astype("datetime64[D]") + rng.integers(1, 40, n_loans)
    loans = pd.DataFrame({
        "id": np.arange(1, n_loans + 1), "member_id": rng.choice(member_ids, n_loans, p=weights / weights.sum()),
        "book_id": rng.integers(1, n_books + 1, n_loans), "loaned_at": loaned_at,
        "returned_on": np.where(rng.random(n_loans) < 0.1, np.datetime64("NaT"), returned),
        "fee": np.char.mod("%.2f", rng.integers(0, 2_000, n_loans) / 100)})
    years = rng.integers(1850, 2025, n_books).astype(float)
    years[rng.random(n_books) < 0.02] = np.nan
    books = pd.DataFrame({"id": book_ids, "year": pd.array(years, dtype="Int64"),
                          "title": ADJECTIVES[rng.integers(0, 16, n_books)] + " " + NOUNS[rng.integers(0, 16, n_books)]})
    authors = pd.DataFrame({"id": np.arange(1, n_authors + 1),
                            "name": FIRST[rng.integers(0, 10, n_authors)] + " " + LAST[rng.integers(0, 8, n_authors)]})
    pairs = np.unique(np.stack([rng.integers(1, n_books + 1, int(n_links * 1.02)),
                                rng.integers(1, n_authors + 1, int(n_links * 1.02))], axis=1), axis=0)
    pairs = pairs[np.sort(rng.permutation(len(pairs))[:n_links])]
    book_authors = pd.DataFrame({"book_id": pairs[:, 0], "author_id": pairs[:, 1],
                                 "role": ROLES[rng.integers(0, 4, len(pairs))]})
    return {"members": members, "loans": loans, "books": books[["id", "title", "year"]], "authors": authors,
            "book_authors": book_authors}


def load(rows: dict[str, pd.DataFrame]) -> None:
    """(Re)create both databases and bulk-load every table from a tab-separated file."""
    connection = pymysql.connect(host=HOST, port=PORT, user=USER, charset="utf8mb4", local_infile=True)
    with connection, connection.cursor() as cursor, tempfile.TemporaryDirectory() as folder:
        for database, tables in TABLES.items():
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
            for table, columns in tables.items():
                path = Path(folder) / f"{table}.tsv"
                rows[table].to_csv(path, sep="\t", header=False, index=False, na_rep="\\N")
                cursor.execute(f"CREATE TABLE `{database}`.`{table}` ({columns}) ENGINE=InnoDB")
                cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE `{database}`.`{table}` "
                               "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t'", (str(path),))
            for table in tables:
                cursor.execute(f"ANALYZE TABLE `{database}`.`{table}`")
        connection.commit()


def config() -> dict:
    server = f"mysql+pymysql://{USER}@{HOST}:{PORT}"
    return {"databases": {name: {"url": f"{server}/{real}"} for name, real in DATABASES.items()}, "models": MODELS}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = library_rows(args.scale)
    print(f"generated {sum(len(f) for f in rows.values()):,} rows in {time.perf_counter() - started:.1f} s")
    load(rows)
    DATA.mkdir(parents=True, exist_ok=True)
    CONFIG.write_text(yaml.safe_dump(config(), sort_keys=False), encoding="utf-8")
    SCALE.write_text(str(args.scale))
    print(f"MariaDB: {CONFIG}  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
