"""Browser tests: one JupyterLab server and one headless chromium for the whole session.

They skip on a machine without chromium or Playwright, unless CROSSQUERY_REQUIRE_BROWSER=1
(as in CI, whose .ci/run installs Debian's chromium), where a missing browser fails the run.
Never let a tool download its own browser: the tests drive the system's chromium.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import MYSQL_SERVER, _unavailable

from e2e.lab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, JupyterLab, NotebookPage

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
REQUIRE_BROWSER = os.environ.get("CROSSQUERY_REQUIRE_BROWSER") == "1"
# The MariaDB notebook creates its shop under this prefix (see the notebook's first cell).
NOTEBOOK_PREFIX = f"cqe2e{os.getpid()}_"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


def _missing(what: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{what} (CROSSQUERY_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory):
    if not _importable("jupyterlab"):
        _missing("JupyterLab is not installed")
    lab = JupyterLab(tmp_path_factory.mktemp("jupyterlab"), NOTEBOOKS,
                     env={"CROSSQUERY_NB_PREFIX": NOTEBOOK_PREFIX, "CROSSQUERY_MYSQL_URL": MYSQL_SERVER})
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()
        _drop_notebook_databases()


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _drop_notebook_databases() -> None:
    engine = sa.create_engine(MYSQL_SERVER)
    try:
        with engine.begin() as connection:
            for name in ("users_and_orders", "products"):
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{NOTEBOOK_PREFIX}{name}`")
    except sa.exc.OperationalError:
        pass  # no server here: the MariaDB notebook did not run either
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's chromium through Playwright, headless, with a fresh profile."""
    if not Path(CHROMIUM).exists():
        _missing(f"chromium not found at {CHROMIUM} (apt-get install chromium, or set CROSSQUERY_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1800})
        context.set_default_timeout(60_000)
        yield context
        context.close()


@pytest.fixture
def open_notebook(browser, jupyterlab, request):
    """open_notebook("notebooks/x.ipynb") -> a NotebookPage in its own tab and workspace.

    At the end a screenshot of each page goes to tests/e2e/artifacts/<test>-end.png.
    """
    pages: list[NotebookPage] = []
    test_name = re.sub(r"\W+", "-", request.node.name)

    def open_(notebook: str) -> NotebookPage:
        page = NotebookPage(browser.new_page(), jupyterlab, notebook)
        pages.append(page)
        return page.open(workspace=f"{test_name}-{len(pages)}")

    yield open_
    for number, page in enumerate(pages):
        try:
            page.screenshot(f"{test_name}-end{number or ''}")
        finally:
            page.page.close()


@pytest.fixture
def mariadb():
    """An engine on the MariaDB/MySQL server the notebooks use (skip or fail without one)."""
    engine = sa.create_engine(MYSQL_SERVER)
    try:
        engine.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        engine.dispose()
        _unavailable("MariaDB/MySQL at " + MYSQL_SERVER, exc)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _artifacts_folder():
    ARTIFACTS.mkdir(exist_ok=True)
