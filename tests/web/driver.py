"""Runs browser scenarios in a process of its own: `python -m tests.web.driver NAME ARGS` runs
one; `python -m tests.web.driver --serve` runs one per line of its input (`{"name": …,
"args": …}`), in one browser that stays open, and answers each with a RESULT line.

Playwright's sync API blocks its thread on an asyncio loop, which starves the eventlet hub
that serves the gateway in the test process; here nothing else needs that thread. Each
scenario's people still get browser contexts of their own (their own cookies and storage).
"""

from __future__ import annotations

import json
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from tests.web.browser import CHROMIUM, require_browser
from tests.web.scenarios import SCENARIOS

RESULT = "@@scenario-result "


def run(browser: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """One scenario; its people's browser contexts (pages, cookies) are closed after it, so
    the next scenario starts in a browser as fresh as a new one."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return SCENARIOS[name](browser, {**args, "tmp": Path(tmp),
                                             "state": Path(args.get("state") or tmp)}) or {}
    finally:
        for context in browser.contexts:
            context.close()


def main() -> None:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            if sys.argv[1] != "--serve":
                name = sys.argv[1]
                print(json.dumps({"result": run(browser, name, json.loads(sys.argv[2]))}))
                print(f"scenario {name}: passed")
                return
            for line in sys.stdin:
                request = json.loads(line)
                try:
                    answer = {"passed": True, "result": run(browser, request["name"],
                                                            request["args"])}
                except Exception:
                    answer = {"passed": False, "error": traceback.format_exc()}
                print(RESULT + json.dumps(answer), flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
