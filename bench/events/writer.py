"""A paced writer for the events benchmark: commits registration acceptances, one per
transaction, with the rows the registration service's `assess_registration` commits.

Each transaction holds what the service's does for one acceptance: the registration's row
changed (status, assessment, version + 1, under its row lock), its `registration_accepted`
event in the outbox (the event built as the service builds it: `domain.event_profile` of
the registration, `make_event`), and the `NOTIFY cxc_outbox` the service's sessions send
on a commit that wrote outbox rows (common.db). What the relay and PostgreSQL's tables see
is the service's write.

What the writer leaves out is the service's Python around that write (the ORM's load,
flush and unit of work: ~2 ms of CPU a write) and its round trips: this is the benchmark's
load generator, and on two cores it must commit 500 writes/s beside the services it loads.
Each registration's profile is therefore read once, through the service's own repository,
before the paced part starts; each transaction is then one statement sent in one round
trip (the update, the outbox row inserted only if the update matched, the NOTIFY), which
PostgreSQL runs as one transaction.

`python -m bench.events.writer URL IDS_FILE RATE SECONDS` reads the profiles of the ids in
IDS_FILE, prints `ready`, and waits for a line on its standard input (so that every writer
starts its paced part at once); then it commits RATE transactions a second (spread evenly,
catching up if it falls behind) and prints how many it committed, over how many seconds,
and the CPU seconds of its paced part.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common.db import OUTBOX_CHANNEL, normalise_url, utcnow
from common.events import jsonable, make_event
from services.registration import domain, repository

ASSESSOR = "00000000-0000-4000-8000-00000000a55e"
# One round trip: a multi-statement query is one implicit transaction (the NOTIFY is sent on
# its commit). The outbox row is written only if the registration's row was the one read.
ACCEPT = f"""
WITH changed AS (
    UPDATE registrations
       SET status = %(status)s, assessment_decision = 'accept', assessment_comment = NULL,
           assessed_by = %(assessor)s, assessed_at = %(now)s, updated_at = %(now)s,
           version = version + 1
     WHERE id = %(id)s AND version = %(version)s
    RETURNING id)
INSERT INTO outbox (event_id, event_type, payload, created_at)
SELECT %(event_id)s, %(event_type)s, %(payload)s::jsonb, %(now)s FROM changed;
NOTIFY {OUTBOX_CHANNEL};
"""


def read_profiles(session: Session, ids: list[str]) -> list[tuple[str, int, dict[str, Any]]]:
    """(id, version, the profile its acceptance event carries) for each registration."""
    profiles = []
    for registration_id in ids:
        reg, org = repository.load_registration(session, registration_id)
        status = domain.next_state_on_assessment(reg.status, "accept")
        profile = domain.event_profile(jsonable(repository.registration_dict(reg, org)))
        profile.update(status=status, registration_version=reg.version + 1)
        profiles.append((registration_id, reg.version, profile))
    session.rollback()
    return profiles


def accept(cursor: Any, registration_id: str, version: int, profile: dict[str, Any]) -> None:
    event = make_event(domain.DECISION_EVENTS[profile["status"]], profile, ASSESSOR)
    cursor.execute(ACCEPT, {
        "status": profile["status"], "assessor": ASSESSOR, "now": utcnow(), "id": registration_id,
        "version": version, "event_id": event["event_id"], "event_type": event["event_type"],
        "payload": json.dumps(event)})
    # The cursor reports the last statement (the NOTIFY): whether each row was written is
    # checked once at the end (`main`).


def main() -> int:
    url, ids_file, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    ids = Path(ids_file).read_text().split()
    engine = create_engine(normalise_url(url), pool_size=1, max_overflow=0)
    count = min(len(ids), int(rate * seconds))
    with Session(engine) as session:
        profiles = read_profiles(session, ids[:count])
    print("ready", flush=True)
    sys.stdin.readline()
    interval = 1.0 / rate
    cpu0 = time.process_time()
    raw = engine.raw_connection()
    raw.driver_connection.autocommit = True
    cursor = raw.driver_connection.cursor()
    started = time.monotonic()
    for n, (registration_id, version, profile) in enumerate(profiles):
        due = started + n * interval
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        accept(cursor, registration_id, version, profile)
    elapsed = time.monotonic() - started
    cursor.execute("SELECT count(*) FROM registrations WHERE id = ANY(%s) AND assessed_by = %s",
                   ([registration_id for registration_id, _, _ in profiles], ASSESSOR))
    accepted = cursor.fetchone()[0]
    raw.close()
    engine.dispose()
    if accepted != count:
        print(f"only {accepted} of {count} registrations were accepted", file=sys.stderr)
        return 1
    print(f"{count} {elapsed:.3f} {time.process_time() - cpu0:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
