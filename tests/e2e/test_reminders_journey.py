"""Pending steps from the real events of a journey over HTTP: a registration submitted opens
its assessment step for the partnership's contact points, due REMINDER_ASSESSMENT_DAYS later;
the assessment clears it; a contact point's request for changes and the resubmission open a
new round."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.e2e.test_registration_journey import _draft_with_cv
from tests.helpers import login, make_account, partnership_id, sign_up, unique_email

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]


def wait_for(condition, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def step(db_engines, key: str) -> Any:
    with db_engines["notifications"].connect() as conn:
        return conn.execute(text("SELECT * FROM pending_steps WHERE step_key = :k"), {"k": key}).first()


def test_an_assessment_step_opens_on_submission_and_clears_on_the_decision(api, db_engines):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    contact_email = unique_email("contact")
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    contact = login(api, contact_email)
    _email, participant = sign_up(api)
    reg = _draft_with_cv(api, participant, greenmob)
    assert api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=participant).status_code == 200

    key = f"assessment:{reg['id']}"
    opened = wait_for(lambda: step(db_engines, key), what="the assessment step")
    assert opened.cleared_at is None and opened.round == 1
    assert opened.subject["partnership_id"] == greenmob
    assert [rule[:2] for rule in opened.rules] == [["contact_point", "contact_points"]]
    assert opened.due_at - opened.since == timedelta(days=5)

    asked = api.post(f"/api/v1/registrations/{reg['id']}/assessment", headers=contact,
                     json={"decision": "request_changes", "comment": "Say more about your cluster."})
    assert asked.status_code == 200, asked.text
    wait_for(lambda: step(db_engines, key).cleared_at is not None, what="the step cleared")

    assert api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=participant).status_code == 200
    again = wait_for(lambda: (row := step(db_engines, key)) and row.cleared_at is None and row,
                     what="a new round")
    assert again.round == 2 and again.reminders_sent == 0
