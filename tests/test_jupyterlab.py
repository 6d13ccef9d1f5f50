"""JupyterLab in a real headless browser: open the data notebook and run all cells, as a user would.

Starts `jupyter lab` on a free port with a random token, serving a temporary copy of
notebooks/00_data.ipynb (the committed notebook is never opened, so never saved), drives Debian's
Chromium with Playwright through Run > Run All Cells, waits for every code cell to have an execution
count, then checks that no cell raised and that the figures rendered. A screenshot is left in
runs/screenshots/jupyterlab-00_data.png.

Needs the `test` extra (playwright, jupyterlab) and /usr/bin/chromium (`apt-get install chromium`;
.ci/run installs it when it can). Playwright's own browser download is never used.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "00_data.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "runs" / "screenshots" / "jupyterlab-00_data.png"
FAILURE_SCREENSHOT = SCREENSHOT.with_name("jupyterlab-00_data-failure.png")
SERVER_START_TIMEOUT_S = 60
RUN_ALL_TIMEOUT_S = 240
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

STDERR_TEXT = '.jp-OutputArea-output.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'
# Whether the open notebook's kernel is connected and idle, as JupyterLab's session sees it.
KERNEL_READY = """() => {
    const context = window.jupyterapp?.shell.currentWidget?.sessionContext;
    const kernel = context?.session?.kernel;
    return Boolean(context?.isReady && kernel?.connectionStatus === 'connected' && kernel.status === 'idle');
}"""
# The outputs of every code cell of the open notebook, from JupyterLab's model: [[{output_type, ...}]].
MODEL_OUTPUTS = """() => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    return notebook.model.sharedModel.cells
        .filter(cell => cell.cell_type === 'code')
        .map(cell => cell.toJSON().outputs);
}"""

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _write_user_settings(config_dir: Path) -> None:
    """Answer JupyterLab's "fetch news?" question with no, so that no toast covers the notebook."""
    folder = config_dir / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True)
    (folder / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@pytest.fixture
def jupyterlab(tmp_path: Path, mnist_root: Path):
    """A JupyterLab server over a temporary copy of the data notebook: yields (base URL, token, root)."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    # A copy with no outputs, as after "Clear All Outputs": whatever the page shows was produced now.
    notebook = json.loads((ROOT / "notebooks" / NOTEBOOK).read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    (notebooks / NOTEBOOK).write_text(json.dumps(notebook, indent=1))
    # Config, data, runtime, user settings, workspaces, IPython profile: none of them the user's.
    jupyter = tmp_path / "jupyter"
    _write_user_settings(jupyter / "config")
    env = dict(
        os.environ,
        MNIST_NB_SMOKE="1",
        MNIST_NB_DATA=str(mnist_root),  # the data the rest of the suite uses (conftest seeds it)
        OMP_NUM_THREADS="1",
        JUPYTER_CONFIG_DIR=str(jupyter / "config"),
        JUPYTER_DATA_DIR=str(jupyter / "data"),
        JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
        IPYTHONDIR=str(jupyter / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_CONFIG_PATH", None)
    port = _free_port()
    token = secrets.token_hex(24)
    command = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.disable_check_xsrf=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the kernel's state, the cells' outputs
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                log_text = (tmp_path / "jupyterlab.log").read_text()
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log_text}")
            try:
                _get_json(f"{base}/api/status?token={token}")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter lab did not answer within {SERVER_START_TIMEOUT_S} s:\n"
                        + (tmp_path / "jupyterlab.log").read_text()
                    )
                time.sleep(0.5)
        yield base, token, notebooks
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def sync_playwright():
    """Playwright's entry point, once Debian's Chromium is known to be there (before any server starts)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed: apt-get install chromium (the .ci/run script does this)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is not installed: pip install -e ".[test]" (the test extra has it)')
    return sync_playwright


def _save_failure_screenshot(page) -> str:
    """The page as it was when the test failed, for the failure report; never raises."""
    try:
        FAILURE_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(FAILURE_SCREENSHOT), full_page=True, timeout=10_000)
    except Exception as error:  # the browser may be what failed
        return f"no screenshot ({error})"
    return str(FAILURE_SCREENSHOT.relative_to(ROOT))


def test_jupyterlab_runs_the_data_notebook(sync_playwright, jupyterlab):
    base, token, notebooks = jupyterlab
    FAILURE_SCREENSHOT.unlink(missing_ok=True)

    # The kernel the notebook gets is this interpreter's (the venv's), not some other python3.
    spec = _get_json(f"{base}/api/kernelspecs?token={token}")["kernelspecs"]["python3"]["spec"]
    assert spec["argv"][0] in ("python", "python3", sys.executable), spec["argv"]

    notebook = json.loads((notebooks / NOTEBOOK).read_text())
    code_cells = sum(cell["cell_type"] == "code" for cell in notebook["cells"])

    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=60_000)
            panel = page.locator(".jp-NotebookPanel")
            panel.wait_for(state="visible", timeout=60_000)
            page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=30_000)
            # Wait for the notebook's kernel to be connected and idle. (Not the toolbar's indicator: it says
            # idle before the kernel is connected, and Run All then silently runs nothing.)
            page.wait_for_function(KERNEL_READY, timeout=120_000)
            # The cells are attached to the page progressively: wait until all of them are there.
            prompts = panel.locator(".jp-CodeCell .jp-InputArea-prompt")
            page.wait_for_function(
                "count => document.querySelectorAll("
                "'.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt').length === count",
                arg=code_cells,
                timeout=60_000,
            )

            # Run > Run All Cells, through the menu bar.
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            clicked = time.monotonic()
            deadline = clicked + RUN_ALL_TIMEOUT_S
            while True:
                texts = [text.strip() for text in prompts.all_text_contents()]
                idle = page.evaluate(KERNEL_READY)
                stderr = panel.locator(STDERR_TEXT).all_text_contents()
                if idle and "[*]:" not in texts:
                    if all(text[1:-2].isdigit() for text in texts):
                        break
                    if any("Traceback" in text for text in stderr):
                        break  # Run All stops at the first error: report it below
                not_started = all(text == "[ ]:" for text in texts) and time.monotonic() > clicked + 30
                if not_started or time.monotonic() > deadline:
                    problem = (
                        "Run All Cells ran nothing in 30 s"
                        if not_started
                        else (f"the notebook did not finish within {RUN_ALL_TIMEOUT_S} s")
                    )
                    pytest.fail(f"{problem}: prompts {texts}")
                time.sleep(1)

            # The error outputs, twice: as the page shows them (an error renders as stderr text with
            # its traceback) and as the notebook model holds them (output_type "error").
            stderr = panel.locator(STDERR_TEXT).all_text_contents()
            tracebacks = [text for text in stderr if "Traceback" in text]
            assert not tracebacks, "a cell raised:\n" + "\n\n".join(tracebacks)
            outputs = page.evaluate(MODEL_OUTPUTS)
            assert len(outputs) == code_cells, f"JupyterLab's notebook model has {len(outputs)} code cells"
            model_errors = [
                f"{output['ename']}: {output['evalue']}"
                for cell in outputs
                for output in cell
                if output["output_type"] == "error"
            ]
            assert not model_errors, f"a cell's output is an error: {model_errors}"
            # A fresh kernel, Run All: the cells ran once each, in order.
            expected = [f"[{count}]:" for count in range(1, code_cells + 1)]
            assert texts == expected, f"not every code cell ran, once, in order: {texts}"

            images = panel.locator(".jp-RenderedImage img")
            assert images.count() >= 1, "no figure was rendered"
            images.first.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-NotebookPanel .jp-RenderedImage img')]"
                ".every(img => img.complete && img.naturalWidth > 0)",
                timeout=30_000,
            )
            # Show the digits (the first figure) and the code that drew them at the top of the screenshot.
            panel.locator(".jp-CodeCell", has=page.locator(".jp-RenderedImage")).first.evaluate(
                "cell => cell.scrollIntoView({block: 'start'})"
            )
            page.wait_for_timeout(500)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        except BaseException:
            if page is not None:
                print(f"\nthe page when the test failed: {_save_failure_screenshot(page)}")
            raise
        finally:
            browser.close()
    print(f"\nran {NOTEBOOK} in JupyterLab in {time.monotonic() - started:.0f} s; "
          f"screenshot: {SCREENSHOT.relative_to(ROOT)}")  # fmt: skip
