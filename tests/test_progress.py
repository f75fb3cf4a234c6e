"""Progress while a statement runs: nothing for a quick one; after half a second elapsed time and
rows so far (a widget line in a notebook, a rich line on a terminal's stderr, nothing when
piped); Cancel takes the path of Ctrl-C and stops the statement on the server.

The notebook widget itself is tested in a real JupyterLab (tests/e2e/test_progress.py).
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from readers import SLOW_MARKER, running_statements, slow_config, slow_query

import explorer
from explorer import progress
from explorer.engines.run import interruptible
from explorer.errors import QueryInterrupted

CROSSQUERY = str(Path(sys.executable).with_name("crossquery"))
CANCELLED = "the statement was cancelled on the server, and nothing of it is left running there."


class Recorder:
    """A display that records what it is told; ``cancel_after`` seconds of showing, it asks to cancel."""

    def __init__(self, cancel_after: float | None = None):
        self.updates: list[tuple[float, int | None]] = []
        self.cancel_after = cancel_after
        self.created = time.monotonic()
        self.cancelled = self.closed = False

    def update(self, elapsed, rows):
        self.updates.append((elapsed, rows))

    def cancel_requested(self):
        return self.cancel_after is not None and time.monotonic() - self.created >= self.cancel_after

    def cancelling(self):
        self.cancelled = True

    def close(self):
        self.closed = True


class Sleeper:
    """A run that takes ``seconds`` unless cancelled, counting rows as a reader would."""

    def __init__(self, seconds: float):
        self.seconds, self.stop, self.received, self.cancels = seconds, threading.Event(), 0, 0

    def __call__(self):
        started = time.monotonic()
        while time.monotonic() - started < self.seconds and not self.stop.is_set():
            self.received += 1
            time.sleep(0.01)
        return "cancelled" if self.stop.is_set() else "done"

    def cancel(self):
        self.cancels += 1
        self.stop.set()

    def abandon(self):
        pass


class Displays(list):
    """The displays runs create; each asks to cancel ``cancel_after`` seconds after it shows."""

    cancel_after: float | None = None

    def __call__(self, elapsed, rows) -> Recorder:
        self.append(Recorder(self.cancel_after))
        self[-1].update(elapsed, rows)
        return self[-1]


@pytest.fixture
def shown(monkeypatch) -> Displays:
    """Every display the runs of this test create (instead of a widget or a terminal line)."""
    displays = Displays()
    monkeypatch.setattr(progress, "display_for_here", displays)
    monkeypatch.setattr(progress, "REFRESH", 0)
    return displays


# -- when something is shown


def test_a_quick_run_shows_nothing(shown):
    assert interruptible(Sleeper(0.2)) == "done"
    assert shown == []


def test_a_slow_run_shows_elapsed_and_rows_then_goes(shown):
    assert interruptible(Sleeper(1.2)) == "done"
    [display] = shown
    elapsed = [e for e, _ in display.updates]
    assert elapsed[0] >= progress.DELAY and elapsed == sorted(elapsed) and elapsed[-1] < 1.3
    rows = [r for _, r in display.updates]
    assert rows == sorted(rows) and rows[0] > 0  # the run's count, as it grows
    assert display.closed and not display.cancelled


def test_a_run_without_a_count_shows_elapsed_only(shown):
    class Arrowish:  # a reader that fetches all at once has no ``received``
        def __call__(self):
            time.sleep(0.8)
            return "done"

    interruptible(Arrowish())
    assert {rows for _, rows in shown[0].updates} == {None}
    assert progress.describe(3.21, None) == "running 3.2 s · reading…"


def test_cancel_takes_the_path_of_ctrl_c(shown):
    shown.cancel_after = 0.3
    run = Sleeper(30)
    started = time.monotonic()
    with pytest.raises(QueryInterrupted) as cancelled:
        interruptible(run)
    assert time.monotonic() - started < 2
    assert str(cancelled.value) == CANCELLED
    assert run.cancels == 1 and shown[0].cancelled and shown[0].closed


def test_a_failing_display_never_fails_the_run(monkeypatch):
    def broken(_elapsed, _rows):
        raise RuntimeError("no front-end")

    monkeypatch.setattr(progress, "display_for_here", broken)
    assert interruptible(Sleeper(0.8)) == "done"


def test_nothing_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress.in_kernel()  # pytest, or the plain IPython shell of test_magic
    assert progress.display_for_here(0.5, 0) is None


def test_a_terminal_gets_a_rich_line(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setenv("TERM", "xterm")
    line = progress.display_for_here(0.5, None)
    try:
        assert isinstance(line, progress.TerminalLine)
    finally:
        line.close()
    assert "crossquery: running 0.5 s · reading… (Ctrl-C cancels)" in sys.stderr.getvalue()


def test_text():
    assert progress.describe(0.5, 0) == "running 0.5 s · 0 rows so far"
    assert progress.describe(12.34, 1) == "running 12.3 s · 1 row so far"
    assert progress.describe(59.96, 120_000) == "running 60.0 s · 120,000 rows so far"
    assert [progress.clock(s) for s in (61, 3725)] == ["1:01", "1:02:05"]


# -- in a Jupyter kernel, as JupyterLab talks to it


KERNEL_CELL = """
import threading, time
from explorer.engines.run import interruptible

class Sleeper:
    def __init__(self):
        self.stop, self.received = threading.Event(), 0
    def __call__(self):
        started = time.monotonic()
        while time.monotonic() - started < 20 and not self.stop.is_set():
            time.sleep(0.01)
        return "finished"
    def cancel(self):
        self.stop.set()
    def abandon(self):
        pass

print(interruptible(Sleeper()))
"""


def test_a_click_on_cancel_reaches_a_busy_kernel():
    """JupyterLab (its default "Kernel Comms over subshells") sends a widget's messages on a
    kernel subshell; the click must cancel while the cell still runs, and the widget is gone."""
    manager = pytest.importorskip("jupyter_client").KernelManager(kernel_name="python3")
    manager.start_kernel()
    client = manager.client()
    try:
        client.start_channels()
        client.wait_for_ready(60)
        subshell = _create_subshell(client)
        cell = client.execute(KERNEL_CELL)
        opened = _messages_until(client, cell, lambda m: m["msg_type"] == "comm_open"
                                 and m["content"]["data"]["state"].get("_model_name") == "ButtonModel")
        click = client.session.msg("comm_msg", {"comm_id": opened[-1]["content"]["comm_id"],
                                                "data": {"method": "custom", "content": {"event": "click"}}})
        click["header"]["subshell_id"] = subshell
        clicked = time.monotonic()
        client.shell_channel.send(click)
        rest = _messages_until(client, cell, lambda m: m["msg_type"] == "status"
                               and m["content"]["execution_state"] == "idle")
        assert time.monotonic() - clicked < 5  # not the 20 s of the whole run
        [ended] = [m for m in rest if m["msg_type"] in ("error", "stream")]
        assert (ended["msg_type"], ended["content"].get("evalue")) == ("error", CANCELLED)
        emptied = [m["content"]["data"] for m in rest if m["msg_type"] == "update_display_data"]
        assert emptied[-1] == {"text/plain": ""}  # the widget's output, emptied
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _create_subshell(client) -> str:
    client.control_channel.send(client.session.msg("create_subshell_request", {}))
    reply = client.control_channel.get_msg(timeout=10)["content"]
    if "subshell_id" not in reply:
        pytest.skip(f"this kernel has no subshells: {reply}")
    return reply["subshell_id"]


def _messages_until(client, cell: str, last, seconds: float = 60) -> list[dict]:
    """The iopub messages of ``cell`` up to the first that ``last`` accepts."""
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=seconds)
        if message["parent_header"].get("msg_id") == cell:
            messages.append(message)
            if last(message):
                return messages
    raise AssertionError(f"the kernel did not send the expected message: {messages[-3:]}")


# -- on MariaDB


@pytest.fixture
def slow_mysql(mysql_config_dict) -> explorer.Config:
    return explorer.load_config(slow_config(mysql_config_dict))


@pytest.mark.mysql
def test_the_driver_reader_counts_rows_as_they_come(slow_mysql, shown, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0)
    # orders joined with the orders of the same status, five levels: 117,714 joined rows
    result = explorer.run(slow_mysql, slow_query(depth=5, filtered=False), reader="driver", timeout=60)
    total = len(result.frame)
    rows = [r for _, r in shown[0].updates]
    assert total > 100_000
    assert rows == sorted(rows) and rows[-1] <= total
    assert any(0 < r < total for r in rows)  # seen while they were coming


@pytest.mark.mysql
@pytest.mark.parametrize("reader", ["driver", "arrow"])
def test_cancel_stops_the_statement_on_the_server(slow_mysql, shown, reader):
    if reader == "arrow":
        pytest.importorskip("connectorx")
    shown.cancel_after = 0.5
    with pytest.raises(QueryInterrupted, match="cancelled on the server"):
        explorer.run(slow_mysql, slow_query(), timeout=60, reader=reader)
    # connectorx reads all at once: elapsed time only; the driver counts (no row yet here)
    assert {rows for _, rows in shown[0].updates} == ({None} if reader == "arrow" else {0})
    deadline = time.monotonic() + 2
    while running_statements("mysql", SLOW_MARKER) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_statements("mysql", SLOW_MARKER) == []
    assert explorer.run(slow_mysql, {"from": "User", "attributes": ["id"]}).root_count == 7


# -- the crossquery command


@pytest.fixture
def slow_files(mysql_config_dict, tmp_path) -> tuple[str, str]:
    config, query = tmp_path / "shop.yaml", tmp_path / "slow.yaml"
    config.write_text(yaml.safe_dump(slow_config(mysql_config_dict)))
    query.write_text(yaml.safe_dump(slow_query()))
    return str(config), str(query)


@pytest.mark.mysql
def test_cli_shows_progress_on_a_terminal(slow_files):
    main, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    process = subprocess.Popen([CROSSQUERY, "run", *slow_files, "--timeout", "1.5"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=terminal, env=env)
    os.close(terminal)
    seen = _read_all(main, process)
    assert process.returncode == 1
    assert re.search(r"crossquery: running \d+\.\d s · 0 rows so far \(Ctrl-C cancels\)", seen), seen
    assert "stopped after its timeout of 1.5 s" in seen
    assert process.stdout.read() == b""  # progress never touches stdout


@pytest.mark.mysql
def test_cli_shows_nothing_when_piped(slow_files):
    done = subprocess.run([CROSSQUERY, "run", *slow_files, "--timeout", "1.5"], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("crossquery: error: The query on database")
    assert "running" not in done.stderr and "\x1b" not in done.stderr


def _read_all(fd: int, process: subprocess.Popen, seconds: float = 60) -> str:
    """Everything written to the terminal until the process ends."""
    chunks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the process closed its side
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(10)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")
