"""The page checks catch what they claim to: a notebook built to fail each one of them.

Without this, `assert_clean()` in the scenarios could pass because a check looks at the
wrong element.
"""

from __future__ import annotations

import nbformat

BROKEN_CELLS = [
    'print("fine")',
    # a widget whose callback raises: JupyterLab shows that only in its log console
    ("import ipywidgets as w\n"
     'button = w.Button(description="Boom")\n'
     'button.on_click(lambda _: 1 / 0)\n'
     "button"),
    # a widget view whose model the front-end never heard of
    ("from IPython.display import display\n"
     'display({"application/vnd.jupyter.widget-view+json":'
     ' {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}}, raw=True)'),
    'raise RuntimeError("a cell that fails")',
    'print("never reached: Run All stops at the error")',
]


def test_every_kind_of_problem_is_reported(open_notebook, jupyterlab):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in BROKEN_CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, jupyterlab.root / "broken.ipynb")

    page = open_notebook("broken.ipynb")
    page.run_all()
    page.panel.get_by_role("button", name="Boom").click()
    page.page.locator(".jp-LogConsoleStatusItem:not(.lm-mod-hidden)").wait_for()

    problems = page.problems()
    page.screenshot("detectors")
    report = "\n".join(problems)
    assert "error or stderr output" in report and "RuntimeError: a cell that fails" in report
    assert "widget failed to render: Error displaying widget: model not found" in report
    assert "log console" in report and "ZeroDivisionError" in report
    assert "code cells not executed (0-based): [4]" in report
    assert "widget outputs in the notebook" in report  # the unrendered one is counted too
