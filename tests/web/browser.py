"""Playwright with Debian's Chromium (/usr/bin/chromium; no browser download), axe-core from
npm injected into every page, and screenshots saved as test artefacts."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "test-artifacts" / "screenshots"
BLOCKING = ("serious", "critical")


def require_browser() -> None:
    if not CHROMIUM.exists():
        raise AssertionError("Chromium is missing: apt-get install -y chromium")
    if not AXE.exists():
        raise AssertionError("axe-core is missing: run `make web-assets` (npm ci)")


class Person:
    """One person in their own browser context (their own cookies, their own session)."""

    def __init__(self, browser: Any, base: str, name: str, state: Path | None = None) -> None:
        # bypass_csp: the pages forbid inline scripts, and axe is injected as one. `state`:
        # the cookies a previous scenario saved (the same person, still signed in).
        self.context = browser.new_context(base_url=base, bypass_csp=True,
                                           storage_state=str(state) if state and state.exists()
                                           else None,
                                           viewport={"width": 1280, "height": 900},
                                           accept_downloads=True)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.name = name
        self.checked: list[str] = []

    def goto(self, path: str, shot: str | None = None) -> Any:
        self.page.goto(path)
        self.check(shot)
        return self.page

    def check(self, shot: str | None = None) -> None:
        """No serious or critical accessibility violation on the page as it is now; a
        screenshot when named."""
        self.page.wait_for_load_state("load")
        assert_accessible(self.page)
        self.checked.append(self.page.url)
        if shot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)

    def save(self, state: Path) -> None:
        self.context.storage_state(path=str(state))

    def sign_in(self, email: str, password: str) -> None:
        self.goto("/sign-in")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.press("Sign in")

    def press(self, button: str, navigates: bool = True) -> None:
        """Click a button; a form without htmx loads the next page."""
        target = self.page.get_by_role("button", name=button, exact=True)
        if navigates:
            with self.page.expect_navigation():
                target.click()
        else:
            target.click()
        self.check()

    def follow(self, link: Any) -> None:
        with self.page.expect_navigation():
            link.click()
        self.check()

    def submit_with_enter(self) -> None:
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        self.check()

    def reload_until(self, condition: Any, timeout: float = 10) -> None:
        """Reload the page until `condition(page)` holds (what another service learns from an
        event arrives a little later)."""
        deadline = time.monotonic() + timeout
        while not condition(self.page):
            assert time.monotonic() < deadline, f"{self.name}: still not there at {self.page.url}"
            self.page.wait_for_timeout(200)
            self.page.reload()


def assert_accessible(page: Any) -> None:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.html)}));
    }""")
    blocking = [v for v in result if v["impact"] in BLOCKING]
    assert not blocking, f"accessibility violations on {page.url}: {blocking}"


def status_of(page: Any, selector: str) -> str:
    return re.sub(r"\s+", " ", page.locator(selector).inner_text()).strip().lower()
