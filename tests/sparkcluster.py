"""A real Spark standalone cluster on loopback, for the Spark engine's tests.

``standalone_cluster()`` starts a master and one worker from the pyspark package's
``bin/spark-class`` (the package has no sbin scripts), both bound to 127.0.0.1 on free
ports, waits until the worker has registered with the master, yields the master URL
(``spark://127.0.0.1:P``) and stops both by process id afterwards (worker first). The
``spark_cluster`` fixture is the same, once per test session. Up in about 15 s; about
470 MB of memory for both.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT = 90.0


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment() -> dict[str, str]:
    home = spark_home()
    return {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_NO_DAEMONIZE": "1", "SPARK_LOG_DIR": tempfile.gettempdir()}


def _start(arguments: list[str], log: Path) -> subprocess.Popen:
    command = [str(spark_home() / "bin" / "spark-class"), *arguments]
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        # A session of its own, so the whole process group (spark-class and its JVM) stops together.
        return subprocess.Popen(command, env=_environment(), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as response:
            state = json.load(response)
    except (OSError, ValueError):
        return 0
    return int(state.get("aliveworkers", 0))


def _stop(process: subprocess.Popen) -> None:
    """Stop one process (and its JVM, in its process group) by its id: TERM, then KILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def standalone_cluster(cores: int = 2, memory: str = "2g", logs: Path | None = None) -> Iterator[str]:
    """A master and one worker on 127.0.0.1; yields the master URL once the worker registered."""
    logs = Path(logs or tempfile.mkdtemp(prefix="crossquery-spark-cluster-"))
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    master = _start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                     "--webui-port", str(ui_port)], logs / "master.log")
    worker = None
    try:
        url = f"spark://127.0.0.1:{port}"
        worker = _start(["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", str(cores),
                         "--memory", memory, "--webui-port", str(worker_ui), url], logs / "worker.log")
        deadline = time.monotonic() + START_TIMEOUT
        while _alive_workers(ui_port) < 1:
            for name, process in (("master", master), ("worker", worker)):
                if process.poll() is not None:
                    raise RuntimeError(f"the Spark {name} exited ({process.returncode}); see {logs}/{name}.log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no Spark worker registered within {START_TIMEOUT:g} s; see {logs}")
            time.sleep(0.5)
        yield url
    finally:
        if worker is not None:
            _stop(worker)
        _stop(master)


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[str]:
    """The master URL of a standalone cluster on loopback, for the whole test session."""
    with standalone_cluster() as url:
        yield url
