"""The Spark engine (SPEC "Engines: databases on different servers"): the shop over MariaDB,
PostgreSQL and a SQLite file as ONE Spark SQL statement, on real servers and a real Spark.

Spark is slow to start (8-15 s) and to run a first query (4-10 s), so each test checks much:

* every shop case gives the records of the same data on one MariaDB server, both strategies,
  in local mode here and on a standalone cluster on loopback (in a subprocess: Spark allows
  one session per process; see tests/sparkcluster.py);
* the engine received one statement; each remote server received reads of its own tables only,
  with the filters Spark pushed (MariaDB's general log, PostgreSQL's pg_stat_statements-free
  view: the statements logged by the server);
* anything but one SELECT is refused before Spark sees it; secrets never show (a MariaDB user
  with a password made here); a timeout and a cancel leave the session usable; explain().

Skips without pyspark or Java, unless CROSSQUERY_REQUIRE_SERVERS=1 (then it fails).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, REQUIRE_SERVERS
from oracle import normalize
from shopcases import CASES

import explorer
from explorer.errors import ExecutionError

pytestmark = [pytest.mark.mysql, pytest.mark.postgresql]

HERE = Path(__file__).parent
MASTER = "local[2]"


def _require_spark() -> None:
    missing = [what for what, ok in (("pyspark", importlib.util.find_spec("pyspark") is not None),
                                     ("java", shutil.which("java") is not None)) if not ok]
    if missing:
        message = f"engine: spark needs {' and '.join(missing)}"
        if REQUIRE_SERVERS:
            pytest.fail(message + " (CROSSQUERY_REQUIRE_SERVERS=1)", pytrace=False)
        pytest.skip(message)


def spark_config(config_dict: dict, master: str = MASTER, **top) -> explorer.Config:
    """The federated shop with an ``engine: {spark: {master: ...}}`` block."""
    return explorer.load_config({**copy.deepcopy(config_dict), "engine": {"spark": {"master": master}}, **top})


@pytest.fixture(scope="module")
def spark_shop(federated_config_dict) -> explorer.Config:
    _require_spark()
    return spark_config(federated_config_dict)


def records_of(config, query: dict, strategy: str, **options):
    return explorer.run(config, {**query, "strategy": strategy}, **options)


@pytest.mark.parametrize("strategy", ["join", "json"])
def test_shop_cases_as_on_one_server(spark_shop, one_server_shop, strategy):
    """Every shop case: the records of the same data on one MariaDB server, one statement."""
    problems = []
    for name, query in CASES.items():
        result = records_of(spark_shop, query, strategy)
        assert result.engine == "spark" and result.statements == 1
        want = records_of(one_server_shop, query, strategy).records
        if normalize(result.records) != normalize(want):
            problems.append(f"{name}: got {result.records!r}\nwant {want!r}")
    assert not problems, "\n".join(problems)
