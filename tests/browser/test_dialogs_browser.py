"""A dialog a fresh JupyterLab puts over the notebook does not break a browser test (the
microphone test once failed on a first run: a jp-Dialog took the click)."""

from pathlib import Path

import pytest
from jupyter_lab import CHROMIUM, HEADLESS_ARGS, jupyterlab, open_notebook, run_cell

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (make test installs it)")


def test_a_dialog_over_the_notebook_is_answered_and_the_cell_runs(tmp_path):
    from playwright.sync_api import sync_playwright

    # a kernel this machine does not have: JupyterLab opens its kernel picker dialog
    with jupyterlab(tmp_path, ["print('RAN', 6 * 7)"], kernel="no-such-kernel") as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, wait_until="domcontentloaded", timeout=60_000)
            page.locator(".jp-Dialog").wait_for(timeout=60_000)  # the dialog is there
            open_notebook(page, url)
            run_cell(page, 0)
            out = page.locator(".jp-OutputArea-output", has_text="RAN")
            out.wait_for(timeout=60_000)
            assert "RAN 42" in out.inner_text()
        finally:
            browser.close()
