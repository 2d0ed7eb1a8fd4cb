"""In a real browser (Playwright, Debian's Chromium): a visitor and a host go from sign-up to a
signed exchange, each contact point acting in its own session; the registration wizard with
the keyboard alone. axe-core checks every page; screenshots land in
var/test-artifacts/screenshots. The scenarios are in tests/web/scenarios.py."""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from typing import Any

import eventlet
import pytest
import requests
from eventlet.green import subprocess

from tests.e2e.test_exchange_journey import _live_the_stay
from tests.helpers import make_account, partnership_id, unique_email
from tests.web.browser import ROOT
from tests.web.driver import RESULT

pytestmark = [pytest.mark.web, pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]


class Driver:
    """One browser process (tests/web/driver.py --serve) for the module's scenarios: Python,
    Playwright and Chromium start once, not once per scenario. A green subprocess: the
    gateway keeps serving while the browser talks to it. After a failure or a timeout the
    process goes, and the next scenario starts a new one."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.log: Any = None

    def run(self, name: str, args: dict, timeout: float) -> dict:
        if self.proc is None:
            self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (as long as the process)
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.web.driver", "--serve"],
                                         cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.log, text=True)
        self.proc.stdin.write(json.dumps({"name": name, "args": args}) + "\n")
        self.proc.stdin.flush()
        printed = []
        try:
            with eventlet.Timeout(timeout):
                while (line := self.proc.stdout.readline()) and not line.startswith(RESULT):
                    printed.append(line)
        except eventlet.Timeout:
            line = ""
        answer = json.loads(line.removeprefix(RESULT)) if line else {"passed": False}
        if not answer["passed"]:
            self.close()
        output = "".join(printed)
        assert answer["passed"], (f"scenario {name} failed:\n{output}\n"
                                  f"{answer.get('error') or self.stderr or 'no answer in time'}")
        return answer["result"]

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.seek(0)
            self.stderr = self.log.read()[-6000:]
            self.log.close()

    stderr = ""


DRIVER = Driver()


@pytest.fixture(scope="module", autouse=True)
def _close_the_browser():
    yield
    DRIVER.close()


def run_scenario(name: str, base: str, timeout: float, **args: object) -> dict:
    return DRIVER.run(name, {"base": base, **args}, timeout)


def links_config(config: dict) -> dict:
    """What the scenario needs to compute an account email's link (tests/helpers.quick_link)."""
    return {"DATABASE_URLS": {"registration": config["DATABASE_URLS"]["registration"]},
            "ACCOUNTS": config["ACCOUNTS"], "JWT": {"keys_dir": config["JWT"]["keys_dir"]}}


@pytest.mark.timeout(900)
def test_a_visitor_and_a_host_go_from_sign_up_to_a_signed_exchange_and_a_paid_lump_sum(
        gateway_url, config, db_engines, tokens, agreements_container, lump_sum_table, tmp_path):
    contact_points = {}
    for who, code in (("vop", "TEXCIRC"), ("hop", "GREENMOB")):
        contact_points[who] = unique_email(f"cp-{code.lower()}")
        make_account(db_engines["registration"], contact_points[who], ["partnership_contact"],
                     code)
    signed = run_scenario("journey", gateway_url, 400, contact_points=contact_points,
                          state=str(tmp_path), links=links_config(config))

    # An administrator gives the visitor's partnership a budget and the bank account its
    # payment runs are paid from, in the administration's pages.
    admin = unique_email("admin")
    make_account(db_engines["registration"], admin, ["admin"])
    texcirc = partnership_id(db_engines["registration"], "TEXCIRC")
    run_scenario("administration", gateway_url, 120, admin=admin, partnership=texcirc)
    assert requests.get(f"{gateway_url}/api/v1/budgets/{texcirc}", headers={
        "Authorization": f"Bearer {tokens.issue(str(uuid.uuid4()), ['admin'], None, None)[0]}"},
        timeout=30).json()["budget_cents"] == 500_000
    run_scenario("agreement", gateway_url, 200, exchange=signed["exchange"], state=str(tmp_path))
    _live_the_stay(db_engines, agreements_container, signed["exchange"])
    run_scenario("payment", gateway_url, 300, exchange=signed["exchange"], state=str(tmp_path))


@pytest.mark.timeout(200)
def test_the_registration_wizard_works_with_the_keyboard_alone(gateway_url):
    run_scenario("keyboard", gateway_url, 180)


@pytest.mark.timeout(200)
def test_a_password_reset_the_support_desk_and_account_administration_in_the_browser(
        gateway_url, config, db_engines):
    participant, agent = unique_email("support"), unique_email("agent")
    admin = unique_email("admin")
    make_account(db_engines["registration"], participant, ["participant"])
    make_account(db_engines["registration"], agent, ["support_agent"])
    make_account(db_engines["registration"], admin, ["admin"])
    run_scenario("support", gateway_url, 180, participant=participant, agent=agent, admin=admin,
                 links=links_config(config))
