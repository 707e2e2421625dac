"""Drive ComfyUI's real front end in Debian's headless Chromium (run with the engine's Python,
which has selenium; the test in ``test_browser.py`` starts it and reads its report).

Usage::

    python browser_check.py URL OUT_DIR RUN_WORKFLOW.json TEMPLATE.json [TEMPLATE.json ...]

For each template: load it through the front end (``app.loadGraphData``, what the template
browser calls), record the node types the front end does not know (the missing-nodes dialog
lists them), the widgets each sddr node renders, the dialog text, and save a screenshot
``OUT_DIR/<template>.png``. Then load RUN_WORKFLOW, press the Run button, wait until the
PreviewImage node shows its image and save ``OUT_DIR/finished_run.png``. Browser console
errors are collected throughout. Writes ``OUT_DIR/report.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
WINDOW = (1600, 900)

READY_JS = "return !!(window.app && window.app.graph && window.LiteGraph && window.app.canvas)"
LOAD_JS = """
const [wf, name, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
window.app.loadGraphData(wf, true, true, name).then(
  () => done(null), (e) => done(String(e && e.stack || e)));
"""
STATE_JS = """
const known = window.LiteGraph.registered_node_types;
const nodes = window.app.graph.nodes.map((n) => ({
  id: n.id, type: n.type, known: n.type in known, has_errors: !!n.has_errors,
  widgets: (n.widgets || []).map((w) => w.name),
  images: (n.imgs || []).length,
  sizes: (n.widgets || []).filter((w) => w.name === "sddr_sizes").map((w) => String(w.value)),
}));
const dialogs = [...document.querySelectorAll('.p-dialog')].map((d) => d.innerText);
return {nodes, dialogs};
"""


def _driver() -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def _wait(driver: webdriver.Chrome, js: str, timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = driver.execute_script(js)
        if got:
            return got
        time.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}")


CLOSE_JS = """
for (const d of document.querySelectorAll('.p-dialog')) {
  const b = [...d.querySelectorAll('button')].find((b) =>
    /close/i.test(b.getAttribute('aria-label') || '') ||
    b.classList.contains('p-dialog-close-button') ||
    b.querySelector('.pi-times, [class*="lucide--x"]'));
  if (b) b.click();
}
"""


def _close_dialogs(driver: webdriver.Chrome) -> None:
    """Close open dialogs (missing models, missing nodes, the template browser)."""
    for _ in range(4):
        if not driver.find_elements(By.CSS_SELECTOR, ".p-dialog"):
            return
        driver.execute_script(CLOSE_JS)
        time.sleep(0.3)
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
        time.sleep(0.3)


def _load(driver: webdriver.Chrome, path: Path) -> dict[str, Any]:
    _close_dialogs(driver)
    error = driver.execute_async_script(LOAD_JS, json.loads(path.read_text()), path.stem)
    time.sleep(1.5)  # let dialogs and the canvas draw
    state = driver.execute_script(STATE_JS)
    state["load_error"] = error
    return state


def _shoot(driver: webdriver.Chrome, path: Path) -> None:
    """Screenshot the graph: dialogs (missing models, missing nodes) closed first."""
    _close_dialogs(driver)
    time.sleep(0.5)
    driver.save_screenshot(str(path))


def _console(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    return [
        {"level": e.get("level"), "message": e.get("message", "")}
        for e in driver.get_log("browser")
    ]


def main(url: str, out_dir: str, run_workflow: str, *templates: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"templates": {}, "console": []}
    driver = _driver()
    try:
        driver.set_script_timeout(60)
        driver.get(url)
        _wait(driver, READY_JS, 180, "the ComfyUI front end")
        time.sleep(3)
        # a new user's first view: the template browser, with this pack's thumbnails
        driver.execute_script(
            "const t = [...document.querySelectorAll('button, a, div')].find("
            "(e) => e.innerText && e.innerText.trim() === 'comfyui-sddr'); if (t) t.click();"
        )
        time.sleep(2)
        driver.save_screenshot(str(out / "template_browser.png"))
        report["console"] += _console(driver)
        for t in templates:
            path = Path(t)
            state = _load(driver, path)
            if state["dialogs"]:
                driver.save_screenshot(str(out / f"{path.stem} (dialog).png"))
            _shoot(driver, out / f"{path.stem}.png")
            report["templates"][path.stem] = state
            report["console"] += _console(driver)

        state = _load(driver, Path(run_workflow))
        report["run_loaded"] = state
        _close_dialogs(driver)
        buttons = driver.find_elements(By.CSS_SELECTOR, '[data-testid="queue-button"] button')
        if not buttons:
            raise RuntimeError("the Run button was not found")
        # the Run button's own click handler (a JS click: the "Nodes 2.0" banner can overlap it)
        driver.execute_script("arguments[0].click();", buttons[0])
        preview = next(n["id"] for n in state["nodes"] if n["type"] == "PreviewImage")
        js = f"const n = window.app.graph.getNodeById({preview}); return n && (n.imgs||[]).length"
        report["preview_images"] = _wait(driver, js, 240, "the preview image of the run")
        time.sleep(1.0)
        report["run_done"] = driver.execute_script(STATE_JS)
        _shoot(driver, out / "finished_run.png")
        report["console"] += _console(driver)
    except Exception as exc:  # reported to the test, which fails with it
        report["error"] = f"{type(exc).__name__}: {exc}"
        try:
            driver.save_screenshot(str(out / "error.png"))
            report["console"] += _console(driver)
        except Exception:
            pass
    finally:
        driver.quit()
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
