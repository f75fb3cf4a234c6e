"""What a person sees while a long statement runs: elapsed time, rows so far, a way to cancel.

The statement runs in a worker thread while the main thread waits (``engines.run.interruptible``);
the waiting loop calls ``Watch.tick()``. A statement that ends within ``DELAY`` seconds shows
nothing. After that, in a Jupyter kernel: an ipywidgets line (elapsed, rows, a Cancel button)
that the result replaces; on a terminal: a rich live line on stderr, erased at the end;
anywhere else (stderr piped, a log file): nothing. Cancel takes the path of Ctrl-C: the
waiting loop raises KeyboardInterrupt and the statement is cancelled on the server.

IPython, ipywidgets and rich are imported only when a display is shown.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from contextlib import ExitStack
from typing import Any

DELAY = 0.5  # seconds before anything is shown: a quick query stays silent
REFRESH = 0.2  # seconds between two updates of the shown text

log = logging.getLogger("explorer")


class Watch:
    """The waiting thread's view of one run: when to show what, and whether Cancel was asked.

    ``run.received`` (when the run has it) counts the rows the reader has fetched so far;
    readers that fetch all at once (Arrow, DuckDB, Spark) have none and show elapsed time only.
    """

    def __init__(self, run: Any):
        self.run = run
        self.started = time.monotonic()
        self.display: Any = None
        self.shown_at = 0.0
        self.decided = False

    def tick(self) -> None:
        """Show or refresh the display; raise KeyboardInterrupt when its Cancel was clicked."""
        now = time.monotonic()
        elapsed, rows = now - self.started, getattr(self.run, "received", None)
        if not self.decided and elapsed >= DELAY:
            self.decided, self.shown_at = True, now
            self.display = self._guarded(lambda: display_for_here(elapsed, rows))
        if self.display is None:
            return
        if now - self.shown_at >= REFRESH:
            self.shown_at = now
            self._guarded(lambda: self.display.update(elapsed, rows))
        if self._guarded(lambda: self.display.cancel_requested()):
            raise KeyboardInterrupt  # the Cancel button: the waiting loop cancels as for Ctrl-C

    def cancelling(self) -> None:
        """Say that the server is being told to stop (Ctrl-C or Cancel)."""
        if self.display is not None:
            self._guarded(self.display.cancelling)

    def close(self) -> None:
        if self.display is not None:
            self._guarded(self.display.close)
            self.display = None

    def _guarded(self, action):
        # A display that fails must never fail the query: it is dropped, the statement goes on.
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - ipywidgets, rich, a closed terminal
            log.debug("progress display dropped: %s", exc)
            self.display = None
            return None


def display_for_here(elapsed: float, rows: int | None):
    """An ipywidgets line in a Jupyter kernel, a rich line on a terminal's stderr, else None;
    it shows ``elapsed`` and ``rows`` from the start."""
    if in_kernel():
        return WidgetLine(elapsed, rows)
    if stderr_is_terminal():
        return TerminalLine(elapsed, rows)
    return None


def in_kernel() -> bool:
    """True inside a Jupyter (ZMQ) kernel, where widgets can show; not in terminal IPython."""
    ipython = sys.modules.get("IPython")  # never imported here: only a kernel has it loaded
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def stderr_is_terminal() -> bool:
    """True when a person watches stderr: a terminal that can redraw a line (not TERM=dumb)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def describe(elapsed: float, rows: int | None) -> str:
    """``running 3.2 s · 120,000 rows so far``; ``reading…`` where the reader gives no count."""
    got = "reading…" if rows is None else f"{rows:,} row{'' if rows == 1 else 's'} so far"
    return f"running {clock(elapsed)} · {got}"


def clock(seconds: float) -> str:
    """``4.2 s`` under a minute, then ``2:05`` or ``1:02:05``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TerminalLine:
    """A rich live line on stderr (a spinner and the text), erased when the run ends."""

    def __init__(self, elapsed: float, rows: int | None):
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        self.spinner = Spinner("dots")
        self.update(elapsed, rows)
        # stdout stays untouched (a result may be piped there); erased at the end (transient)
        self.live = Live(self.spinner, console=Console(stderr=True), transient=True, refresh_per_second=10,
                         redirect_stdout=False, redirect_stderr=False)
        self.live.start()

    def update(self, elapsed: float, rows: int | None) -> None:
        self.spinner.update(text=f"crossquery: {describe(elapsed, rows)} (Ctrl-C cancels)")

    def cancelling(self) -> None:
        self.spinner.update(text="crossquery: cancelling the statement on the server…")
        self.live.refresh()

    def cancel_requested(self) -> bool:
        return False  # Ctrl-C reaches the waiting loop by itself

    def close(self) -> None:
        self.live.stop()


class WidgetLine:
    """An ipywidgets HBox (elapsed, rows, Cancel) in the cell's output, emptied when the run ends.

    A click must reach the kernel while the cell still runs, and a kernel handles widget
    messages between cells only. JupyterLab sends them on a kernel subshell (its setting
    "Kernel Comms over subshells"), which ipykernel 7 serves on another thread, but ipykernel
    routes a comm's messages back to the shell that opened it (the busy main shell):
    ``_route_clicks_to_subshell`` lets the button's clicks follow the subshell. Kernels
    without subshells (ipykernel 6) are polled with jupyter-ui-poll instead.
    """

    def __init__(self, elapsed: float, rows: int | None):
        import ipywidgets as widgets
        from IPython.display import display

        self.clicked = threading.Event()
        self.text = widgets.Label(value="crossquery: " + describe(elapsed, rows))
        self.button = widgets.Button(description="Cancel", icon="stop", button_style="warning",
                                     tooltip="Cancel the statement on the server (as the kernel's stop "
                                             "button does)")
        self.button.on_click(lambda _button: self.clicked.set())
        _route_clicks_to_subshell(self.button)
        self.box = widgets.HBox([self.text, self.button])
        self.box.add_class("crossquery-progress")
        self.handle = display(self.box, display_id=True)
        self.stack = ExitStack()
        self.poll = ui_poller(self.stack)

    def update(self, elapsed: float, rows: int | None) -> None:
        self.text.value = "crossquery: " + describe(elapsed, rows)

    def cancel_requested(self) -> bool:
        if self.poll is not None:
            self.poll(10)  # handle up to 10 pending kernel messages: a click among them
        return self.clicked.is_set()

    def cancelling(self) -> None:
        self.text.value = "crossquery: cancelling the statement on the server…"
        self.button.disabled = True

    def close(self) -> None:
        self.stack.close()
        # An empty output in place of the widget: nothing left to show, in the page or the saved file.
        self.handle.update({"text/plain": ""}, raw=True)
        self.box.close()
        self.text.close()
        self.button.close()


def _route_clicks_to_subshell(button) -> None:
    # ipykernel 7 (Comm._reply_subshell_for) sends a comm's messages to the shell that last
    # published on it, the busy main shell; taking the subshell the front-end sent the click on
    # lets it in while the cell runs. Without a subshell ``default`` is the main shell, as before.
    comm = getattr(button, "comm", None)
    if comm is not None and hasattr(comm, "_reply_subshell_for"):
        comm._reply_subshell_for = lambda _data, default: default


def ui_poller(stack: ExitStack):
    """jupyter-ui-poll's event processing (a function to call while waiting), for the kernels it
    can drive, those with ``do_one_iteration`` (ipykernel 6); None elsewhere: ipykernel 7.4 has
    no such method (jupyter-ui-poll 1.1 then silently does nothing), the subshell route serves it.
    """
    from IPython import get_ipython

    if not hasattr(get_ipython().kernel, "do_one_iteration"):
        return None
    try:
        from jupyter_ui_poll import ui_events
    except ImportError:
        return None
    return stack.enter_context(ui_events())
