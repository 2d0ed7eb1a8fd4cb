"""In a real browser (Playwright, Debian's Chromium): a visitor and a host go from sign-up to a
signed exchange, each contact point acting in its own session; the registration wizard with
the keyboard alone. axe-core checks every page; screenshots land in
var/test-artifacts/screenshots. The scenarios are in tests/web/scenarios.py."""

from __future__ import annotations

import json
import sys

import pytest
from eventlet.green import subprocess

from tests.helpers import make_account, unique_email
from tests.web.browser import ROOT

pytestmark = [pytest.mark.web, pytest.mark.e2e]


def run_scenario(name: str, base: str, timeout: float, **args: object) -> None:
    # A green subprocess: the gateway keeps serving while the browser talks to it.
    done = subprocess.run([sys.executable, "-m", "tests.web.driver", name,
                           json.dumps({"base": base, **args})], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"scenario {name} failed:\n{done.stdout}\n{done.stderr}"
    assert f"scenario {name}: passed" in done.stdout


@pytest.mark.timeout(420)
def test_a_visitor_and_a_host_go_from_sign_up_to_a_signed_exchange(gateway_url, db_engines):
    contact_points = {}
    for who, code in (("vop", "GREENMOB"), ("hop", "TEXCIRC")):
        contact_points[who] = unique_email(f"cp-{code.lower()}")
        make_account(db_engines["registration"], contact_points[who], ["partnership_contact"],
                     code)
    run_scenario("journey", gateway_url, 400, contact_points=contact_points)


@pytest.mark.timeout(200)
def test_the_registration_wizard_works_with_the_keyboard_alone(gateway_url):
    run_scenario("keyboard", gateway_url, 180)
