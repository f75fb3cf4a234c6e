"""A real JupyterLab server and a notebook page in Debian's chromium, driven as a person would.

`JupyterLab` runs the server from the test environment on 127.0.0.1 with a random free port,
a random token and its own temporary config, data, runtime, settings and workspace folders.
`NotebookPage` opens one notebook in its own workspace, runs cells from the menu, waits on
the kernel's idle indicator and on cell prompts (never on fixed sleeps alone), and lists
what a user would see as a problem: error or stderr output, a widget that failed to render
or is stuck loading, a message that reached only the log console, a cell left unexecuted.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CROSSQUERY_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SERVER_START_SECONDS = 90
RUN_SECONDS = 180
WIDGET_SECONDS = 30

# Settings a fresh user would otherwise be asked about (a news pop-up over the notebook) or
# that reach the network; the notebook renders every cell so prompts can be read.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # the files stay as copied, so every scenario starts from unexecuted cells
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}

# True when the kernel is idle, no cell waits ("[*]:"), and either every code cell shows
# "[n]:" or an error stopped Run All (JupyterLab then clears the rest of the queue).
ALL_EXECUTED_JS = """(panel) => {
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
      .map(e => e.textContent.trim());
  const idle = panel.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]');
  const stopped = panel.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  return idle !== null && prompts.length > 0 && !prompts.includes('[*]:')
      && (stopped !== null || prompts.every(p => /^\\[\\d+\\]:$/.test(p)));
}"""

# The notebook's panel, by path, from the application object (expose_app_in_browser).
PANEL_JS = """(path) => [...window.jupyterapp.shell.widgets('main')]
    .find(w => w.context && w.context.path === path)"""

KERNEL_READY_JS = f"""(path) => {{
  const panel = window.jupyterapp && ({PANEL_JS})(path);
  const kernel = panel && panel.sessionContext.isReady && panel.sessionContext.session
      && panel.sessionContext.session.kernel;
  return Boolean(kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle');
}}"""

# Outputs whose model carries a widget view, and how many of them show a rendered widget.
WIDGET_COUNTS_JS = """(panel) => {
  const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
  const loading = outputs.filter(e => e.textContent.trim() === 'Loading widget...').length;
  const failed = outputs.filter(e => e.textContent.includes('Error displaying widget'))
      .map(e => e.textContent.trim());
  // a rendered view sits inside the output; a failed one marks the output itself
  const rendered = outputs.filter(e => e.querySelector('.jupyter-widgets') !== null).length;
  return {loading, failed, rendered};
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterLab:
    """One JupyterLab server for the test session, serving a copy of the notebooks."""

    def __init__(self, home: Path, notebooks: Path, env: dict[str, str] | None = None):
        self.home = home
        self.root = home / "root"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = ARTIFACTS / "jupyterlab.log"
        # A copy: the repository's notebooks stay untouched whatever a scenario does to them.
        shutil.copytree(notebooks, self.root / "notebooks")
        self.env = {**os.environ, **(env or {})}
        for name in ("config", "data", "runtime", "ipython"):
            (home / name).mkdir()
        self.env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
                        JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
                        JUPYTER_PLATFORM_DIRS="1")
        self._write_settings(home / "settings")
        self.process: subprocess.Popen | None = None

    def _write_settings(self, folder: Path) -> None:
        for plugin, values in LAB_SETTINGS.items():
            path = folder / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def command(self) -> list[str]:
        return [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                f"--LabApp.user_settings_dir={self.home / 'settings'}",
                f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
                "--LabApp.extension_manager=readonly",
                # lets tests read the notebook model (error outputs) besides the page itself
                "--LabApp.expose_app_in_browser=True"]

    def start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        with self.log_path.open("w") as log:  # the child keeps its own handle
            self.process = subprocess.Popen(self.command(), cwd=self.root, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def url(self, notebook: str, workspace: str) -> str:
        # A workspace per scenario: each page starts with only its own notebook open.
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"


class NotebookPage:
    """One notebook open in JupyterLab, in a browser page."""

    def __init__(self, page, lab: JupyterLab, notebook: str):
        self.page = page
        self.lab = lab
        self.notebook = notebook
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))
        page.on("console", self._on_console)

    def _on_console(self, message) -> None:
        # JupyterLab logs a widget model it cannot create (a missing front-end) only here
        if message.type == "error":
            self.console.append(f"browser console error: {message.text[:500]}")

    @property
    def panel(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    @property
    def code_cells(self):
        return self.panel.locator(".jp-CodeCell")

    def open(self, workspace: str) -> NotebookPage:
        """Open the notebook and wait until its kernel is connected and idle."""
        self.page.goto(self.lab.url(self.notebook, workspace))
        self.panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(
            timeout=SERVER_START_SECONDS * 1000)
        # the indicator reads idle before a kernel is attached; Run All then does nothing
        self.page.wait_for_function(KERNEL_READY_JS, arg=self.notebook, timeout=SERVER_START_SECONDS * 1000)
        return self

    def run_all(self) -> None:
        """Run → Run All Cells, then wait until every code cell has run and the kernel is idle."""
        self.menu("Run", "Run All Cells")
        self.wait_executed()

    def menu(self, *path: str) -> None:
        for label in path:
            self.page.get_by_role("menuitem", name=label, exact=True).click()

    def wait_executed(self) -> None:
        self.page.wait_for_function(ALL_EXECUTED_JS, arg=self.panel.element_handle(),
                                    timeout=RUN_SECONDS * 1000)

    def run_cell(self, cell) -> None:
        """Select a cell and press Ctrl+Enter (run in place), as a person would; wait for its prompt."""
        before = cell.locator(".jp-InputPrompt").inner_text().strip()
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Control+Enter")
        self.page.wait_for_function(
            "([cell, before]) => { const p = cell.querySelector('.jp-InputPrompt').textContent.trim();"
            " return /^\\[\\d+\\]:$/.test(p) && p !== before; }",
            arg=[cell.element_handle(), before], timeout=RUN_SECONDS * 1000)
        self.wait_idle()

    def wait_idle(self) -> None:
        """Wait until the kernel indicator says idle and no cell waits to run."""
        self.page.wait_for_function(
            "(panel) => panel.querySelector('.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]') !== null"
            " && ![...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
            ".some(e => e.textContent.trim() === '[*]:')",
            arg=self.panel.element_handle(), timeout=RUN_SECONDS * 1000)

    def wait_widgets(self) -> dict:
        """Wait until no widget says "Loading widget..." (or give up); return the counts."""
        deadline = time.monotonic() + WIDGET_SECONDS
        while True:
            counts = self.panel.evaluate(WIDGET_COUNTS_JS)
            if counts["loading"] == 0 or time.monotonic() > deadline:
                return counts
            self.page.wait_for_timeout(200)

    def widget_view_outputs(self) -> int:
        """How many outputs in the notebook model hold a widget view (what should render)."""
        return self.page.evaluate(f"""(path) => {{
          const panel = ({PANEL_JS})(path);
          let count = 0;
          for (const cell of panel.content.model.cells) {{
            if (cell.type !== 'code') continue;
            for (const output of cell.outputs.toJSON())
              if (output.data && output.data['application/vnd.jupyter.widget-view+json']) count++;
          }}
          return count;
        }}""", self.notebook)

    def problems(self) -> list[str]:
        """Everything on the page a user would read as something gone wrong."""
        found = []
        for output in self.panel.locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all():
            found.append("error or stderr output: " + output.inner_text()[:2000])
        counts = self.wait_widgets()
        if counts["loading"]:
            found.append(f"{counts['loading']} widget(s) stuck on 'Loading widget...'")
        found += [f"widget failed to render: {text}" for text in counts["failed"]]
        expected = self.widget_view_outputs()
        if counts["rendered"] < expected:
            found.append(f"{expected} widget outputs in the notebook, {counts['rendered']} rendered")
        found += self.log_console()
        prompts = [p.strip() for p in self.code_cells.locator(".jp-InputPrompt").all_inner_texts()]
        unexecuted = [i for i, p in enumerate(prompts) if not p.strip("[]:").isdigit()]
        if unexecuted:
            found.append(f"code cells not executed (0-based): {unexecuted}, prompts {prompts}")
        status = self.page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status")
        if status != "idle":
            found.append(f"kernel status is {status!r}, not idle")
        return list(dict.fromkeys(found + self.console))  # each distinct problem once

    def assert_clean(self) -> None:
        """Fail with the problems a user would see, one per line (the first 20)."""
        problems = self.problems()
        if problems:
            shown = "\n".join(f"- {problem}" for problem in problems[:20])
            raise AssertionError(f"{self.notebook}: {len(problems)} problem(s) on the page:\n{shown}")

    def log_console(self) -> list[str]:
        """Messages that reached only JupyterLab's log console (e.g. a widget callback's error)."""
        status = self.page.locator(".jp-LogConsoleStatusItem")
        if not status.count() or "lm-mod-hidden" in (status.first.get_attribute("class") or ""):
            return []
        self.page.evaluate("() => window.jupyterapp.commands.execute('logconsole:open')")
        entries = self.page.locator(".jp-LogConsolePanel .jp-OutputArea-child")
        entries.first.wait_for(timeout=10_000)
        return ["log console: " + text[:2000] for text in entries.all_inner_texts()]

    def screenshot(self, name: str, element=None) -> Path:
        """Save the window, or one element whole, to tests/e2e/artifacts/<name>.png."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        (element or self.page).screenshot(path=str(path))
        return path
