"""Putting a new cell into the notebook, from code in a cell or from a widget button.

From code running in a cell, the kernel's ``set_next_input`` rides on that cell's execute
reply, and every Jupyter front-end inserts the cell. A widget button's callback runs on a
widget (comm) message instead, which has no execute reply: ``set_next_input`` there is
silently kept for whichever cell runs next. So from a button, JupyterLab is asked directly,
through ipylab's front-end object (a widget model JupyterLab answers by setting its
``version``); where no front-end answers, the caller shows the text to copy.
"""

from __future__ import annotations

from typing import Any

_frontend: Any = None


def connect_frontend() -> None:
    """Create ipylab's front-end object early, so JupyterLab has answered before a click."""
    global _frontend
    if _frontend is not None:
        return
    try:
        from ipylab import JupyterFrontEnd
    except ImportError:  # ipylab is a dependency; a trimmed environment just loses the button
        return
    _frontend = JupyterFrontEnd()


def insert_cell_below(text: str) -> bool:
    """Insert a code cell holding ``text`` below the current one; False if nothing could."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return False
    if running_a_cell(shell):
        shell.set_next_input(text, replace=False)
        return True
    if _frontend is None or not _frontend.version:
        return False
    # the clicked widget's cell is JupyterLab's active cell; the new cell becomes active
    _frontend.commands.execute("notebook:insert-cell-below")
    _frontend.commands.execute("notebook:replace-selection", {"text": text})
    return True


def running_a_cell(shell) -> bool:
    """True while the kernel handles an execute request (not a widget message)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "get_parent"):
        return True  # a terminal IPython: set_next_input fills the next prompt
    return kernel.get_parent().get("header", {}).get("msg_type") == "execute_request"
