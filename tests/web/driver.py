"""Runs one browser scenario in a process of its own: `python -m tests.web.driver NAME ARGS`.

Playwright's sync API blocks its thread on an asyncio loop, which starves the eventlet hub
that serves the gateway in the test process; here nothing else needs that thread.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tests.web.browser import CHROMIUM, require_browser
from tests.web.scenarios import SCENARIOS


def main() -> None:
    name, raw = sys.argv[1], sys.argv[2]
    args = json.loads(raw)
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            result = SCENARIOS[name](browser, {**args, "tmp": Path(tmp),
                                               "state": Path(args.get("state") or tmp)})
        finally:
            browser.close()
    print(json.dumps({"result": result or {}}))
    print(f"scenario {name}: passed")


if __name__ == "__main__":
    main()
