"""Bilateral meetings over HTTP: slots with availability, booking, cancelling and rebooking,
the agents' agenda, both sides told, and one slot booked by exactly one of many truly
concurrent requests (separate OS threads in another process, against PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import eventlet
import pytest

from tests.helpers import login, make_account, sign_up, unique_email

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]

SLOTS = "/api/v1/support/slots"
MEETINGS = "/api/v1/support/meetings"
SUPPORT_MAILBOX = "meetings@support.test"

# Fired from a plain Python process: its threads block on real sockets, released together.
RACE = r"""
import json, sys, threading, urllib.request, urllib.error
url, bodies, tokens = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
barrier = threading.Barrier(len(tokens))
statuses = [None] * len(tokens)
def book(i):
    request = urllib.request.Request(url, data=json.dumps(bodies[i]).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + tokens[i]})
    barrier.wait()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            statuses[i] = response.status
    except urllib.error.HTTPError as error:
        statuses[i] = error.code
threads = [threading.Thread(target=book, args=(i,)) for i in range(len(tokens))]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(json.dumps(statuses))
"""


def wait_for(condition, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def addressed_to(smtp_server, email: str) -> list[Any]:
    return [m for m in smtp_server.messages() if m["To"] == email]


@pytest.fixture
def support_config(config):
    config["SUPPORT"] = {**config["SUPPORT"], "mailbox": SUPPORT_MAILBOX, "slot_weeks": 2}
    return config


@pytest.fixture
def agent(support_config, api, db_engines) -> dict[str, str]:
    email = unique_email("agent")
    make_account(db_engines["registration"], email, ["support_agent"])
    return login(api, email)


def free_slots(api, headers) -> list[dict[str, Any]]:
    response = api.get(SLOTS, headers=headers)
    assert response.status_code == 200, response.text
    return [slot for slot in response.json() if slot["available"]]


def test_a_participant_books_cancels_and_rebooks_and_both_sides_hear_of_it(
        support_config, api, agent, smtp_server):
    email, participant = sign_up(api)
    assert api.get(SLOTS).status_code == 401
    slots = free_slots(api, participant)
    assert slots and all(s["start"].endswith("Z") for s in slots)
    assert all(s["timezone"] == "Europe/Brussels" for s in slots)
    assert {s["local_start"][11:16] for s in slots} <= {"10:00", "10:30", "11:00", "11:30", "12:00",
                                                        "12:30", "13:00", "13:30"}
    first, second = slots[0], slots[1]

    booked = api.post(MEETINGS, headers=participant, json={"start": first["start"], "topic": "Dates"})
    assert booked.status_code == 201, booked.text
    meeting = booked.json()
    assert (meeting["status"], meeting["start"], meeting["local_start"]) == (
        "booked", first["start"], first["local_start"])
    assert first["start"] not in {s["start"] for s in free_slots(api, participant)}
    assert booked.headers["Location"] == f"{MEETINGS}/{meeting['id']}"
    assert api.get(booked.headers["Location"], headers=participant).json() == meeting
    assert api.get(booked.headers["Location"], headers=agent).status_code == 200
    wait_for(lambda: addressed_to(smtp_server, email), what="the participant's confirmation")
    wait_for(lambda: addressed_to(smtp_server, SUPPORT_MAILBOX), what="the support office's copy")

    assert api.post(MEETINGS, headers=participant, json={"start": second["start"]}).status_code == 409
    _other_email, other = sign_up(api)
    assert api.post(MEETINGS, headers=other, json={"start": first["start"]}).status_code == 409
    assert api.post(f"{MEETINGS}/{meeting['id']}/cancel", headers=other).status_code == 404
    assert api.get(f"{MEETINGS}/{meeting['id']}", headers=other).status_code == 404

    cancelled = api.post(f"{MEETINGS}/{meeting['id']}/cancel", headers=participant)
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_by"] == "participant"
    assert api.post(f"{MEETINGS}/{meeting['id']}/cancel", headers=participant).status_code == 409
    rebooked = api.post(MEETINGS, headers=participant, json={"start": first["start"]})
    assert rebooked.status_code == 201

    agenda = api.get(MEETINGS, headers=agent, params={"status": "booked"})
    assert [m["id"] for m in agenda.json()] == [rebooked.json()["id"]]
    assert [m["id"] for m in api.get(MEETINGS, headers=other).json()] == []
    by_support = api.post(f"{MEETINGS}/{rebooked.json()['id']}/cancel", headers=agent)
    assert by_support.status_code == 200 and by_support.json()["cancelled_by"] == "support"
    inbox = wait_for(lambda: [n for n in api.get("/api/v1/notifications", headers=participant).json()
                              if n["event_type"] == "support_meeting_cancelled"
                              and "by the support office" in n["body"]], what="the cancellation")
    assert inbox


def test_a_booking_must_name_a_real_slot_still_to_come(support_config, api, agent):
    _email, participant = sign_up(api)
    slot = free_slots(api, participant)[0]
    off = slot["start"].replace(":00:00Z", ":15:00Z").replace(":30:00Z", ":45:00Z")
    wrong = api.post(MEETINGS, headers=participant, json={"start": off})
    assert wrong.status_code == 422 and "start" in wrong.json()["errors"]
    assert api.post(MEETINGS, headers=participant,
                    json={"start": "2020-01-06T09:00:00Z"}).status_code == 422
    assert api.post(MEETINGS, headers=participant,
                    json={"start": slot["start"][:-1]}).status_code == 422  # no offset
    assert api.post(MEETINGS, headers=participant,
                    json={"start": slot["start"], "query_id": "someone-elses"}).status_code == 422
    assert api.post(MEETINGS, headers=agent, json={"start": slot["start"]}).status_code == 403
    assert api.get(SLOTS, headers=participant, params={"weeks": 0}).status_code == 422


def race(api, bodies: list[dict[str, Any]], tokens: list[str]) -> list[int]:
    proc = subprocess.Popen([sys.executable, "-c", RACE, api.base + MEETINGS, json.dumps(bodies),
                             json.dumps(tokens)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        eventlet.sleep(0.05)  # the gateway serves from this process: wait cooperatively
    out, err = proc.communicate(timeout=5)
    assert out, err.decode()[-2000:]
    return json.loads(out)


def test_one_participant_booking_several_slots_at_once_gets_one(support_config, api):
    _email, participant = sign_up(api)
    slots = free_slots(api, participant)[:6]
    token = participant["Authorization"].split(" ", 1)[1]
    statuses = race(api, [{"start": slot["start"]} for slot in slots], [token] * len(slots))
    assert sorted(statuses) == [201] + [409] * (len(slots) - 1), statuses
    assert len(api.get(MEETINGS, headers=participant, params={"status": "booked"}).json()) == 1


def test_of_many_concurrent_bookings_of_one_slot_exactly_one_succeeds(
        support_config, api, db_engines):
    people = [sign_up(api)[1] for _ in range(8)]
    slot = free_slots(api, people[0])[0]
    tokens = [headers["Authorization"].split(" ", 1)[1] for headers in people]
    statuses = race(api, [{"start": slot["start"]}] * len(tokens), tokens)
    assert sorted(statuses) == [201] + [409] * 7, statuses
    agenda = [m for m in api.get(MEETINGS, headers=people[statuses.index(201)]).json()]
    assert len(agenda) == 1 and agenda[0]["start"] == slot["start"]
