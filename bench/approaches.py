"""The ways of answering a case: explorer, the same SQL through other readers, and baselines."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import pandas as pd
import yaml
from sqlalchemy.orm import joinedload, selectinload

import explorer
from bench.baselines import naive_merge, orm
from bench.cases import CASES, LIBRARY_CASES

warnings.filterwarnings("ignore", message=".*pandas only supports SQLAlchemy.*")


class Setup:
    def __init__(self, case: str, config_path: str):
        self.case = case
        self.query = CASES[case]
        self.config = explorer.load_config(config_path)
        for model in self.config.models:
            self.config.table(model)  # reflect once, as a notebook session would
        self.statement = explorer.prepare(self.config, self.query)
        self.raw = yaml.safe_load(open(config_path))
        self.schemas = {name: db.schema for name, db in self.config.databases.items()}
        self.home = next(iter(self.config.databases))  # the first database: users_and_orders, lending

    def pymysql(self, database: str | None = None):
        import pymysql

        url = self.config.databases[database or self.home].url
        return pymysql.connect(host=url.host, port=url.port or 3306, user=url.username,
                               password=url.password or "", database=url.database, charset="utf8mb4")


def explorer_run(setup: Setup, reader: str = "driver", strategy: str | None = None, parts: str = "all"):
    """run() and then ``parts``: "all" (frame, frames, records), "records" (what Sequelize's
    findAll + toJSON() gives, and all the library cases time) or "frame" (what read_sql gives)."""
    query = setup.query if strategy is None else {**yaml.safe_load(setup.query), "strategy": strategy}
    result = explorer.run(setup.config, query, reader=reader)
    if parts == "records" or setup.case in LIBRARY_CASES:
        return result.row_count, [], len(result.records)
    if parts == "frame":
        return result.row_count, [result.frame], None
    frames = result.frames
    records = result.records
    return result.row_count, [result.frame, *frames.values()], len(records)


def read_sql(setup: Setup):
    connection = setup.pymysql()
    params = setup.statement.params
    if setup.statement.rendered.compiled.positional:  # PyMySQL's dialect sends %s placeholders
        params = tuple(params.values())
    frame = pd.read_sql(setup.statement.sql, connection, params=params)
    connection.close()
    return len(frame), [frame], None


def limit_client(setup: Setup):
    """The mariadb command-line client, output thrown away: the server + wire limit."""
    url = setup.config.databases[setup.home].url
    sql = setup.statement.to_sql(literal=True)
    done = subprocess.run([shutil.which("mariadb"), "-u", url.username, "-h", url.host, "-P", str(url.port or 3306),
                           "-B", "-N", "-e", sql], stdout=subprocess.PIPE, check=True)
    return done.stdout.count(b"\n"), [], None


def connectorx_read(setup: Setup):
    import connectorx as cx

    url = setup.config.databases[setup.home].url.set(drivername="mysql")
    frame = cx.read_sql(url.render_as_string(hide_password=False), setup.statement.to_sql(literal=True))
    return len(frame), [frame], None


APPROACHES = {
    "explorer": explorer_run,
    "explorer_fast": lambda setup: explorer_run(setup, reader="arrow"),
    "explorer_records": lambda setup: explorer_run(setup, parts="records"),
    "explorer_records_fast": lambda setup: explorer_run(setup, reader="arrow", parts="records"),
    "explorer_frame": lambda setup: explorer_run(setup, parts="frame"),
    "explorer_json": lambda setup: explorer_run(setup, strategy="json"),
    "explorer_json_fast": lambda setup: explorer_run(setup, reader="arrow", strategy="json"),
    "read_sql": read_sql,
    "limit_client": limit_client,
    "connectorx": connectorx_read,
    "naive_merge": naive_merge,
    "orm_joinedload": orm(joinedload),
    "orm_selectinload": orm(selectinload),
}


