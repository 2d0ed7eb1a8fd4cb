"""A paced writer for the events benchmark: commits registration acceptances, one per
transaction, with the rows the registration service's `assess_registration` commits.

Each transaction holds what the service's does for one acceptance: the registration's row
changed (status, assessment, version + 1, under its row lock), its `registration_accepted`
event in the outbox (the event built as the service builds it: `domain.event_profile` of
the registration, `make_event`), and the `NOTIFY cxc_outbox` the service's sessions send
on a commit that wrote outbox rows (common.db). What the relay and PostgreSQL see is the
service's write.

What the writer leaves out is the service's Python around that write (the ORM's load,
flush and unit of work: ~2 ms of CPU a write): this is the benchmark's load generator, and
on two cores the ORM path cannot commit 500 writes/s beside the services it loads. Each
registration's profile is therefore read once, through the service's own repository,
before the paced part starts; the statements then run as Core statements.

`python -m bench.events.writer URL IDS_FILE RATE SECONDS` reads the profiles of the ids in
IDS_FILE, prints `ready`, and waits for a line on its standard input (so that every writer
starts its paced part at once); then it commits RATE transactions a second (spread evenly,
catching up if it falls behind) and prints how many it committed, over how many seconds,
and the CPU seconds of its paced part.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from common.db import OUTBOX_CHANNEL, normalise_url, utcnow
from common.events import jsonable, make_event
from services.registration import domain, repository
from services.registration.models import OutboxEvent, Registration

ASSESSOR = "00000000-0000-4000-8000-00000000a55e"
_registrations = Registration.__table__
_outbox = OutboxEvent.__table__
_notify = text(f"NOTIFY {OUTBOX_CHANNEL}")


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


def accept(conn: Connection, registration_id: str, version: int, profile: dict[str, Any]) -> None:
    now = utcnow()
    changed = conn.execute(
        update(_registrations)
        .where(_registrations.c.id == registration_id, _registrations.c.version == version)
        .values(status=profile["status"], assessment_decision="accept", assessed_by=ASSESSOR,
                assessed_at=now, updated_at=now, version=version + 1))
    if changed.rowcount != 1:
        raise RuntimeError(f"registration {registration_id} changed under the benchmark")
    event = make_event(domain.DECISION_EVENTS[profile["status"]], profile, ASSESSOR)
    conn.execute(_outbox.insert().values(event_id=event["event_id"], event_type=event["event_type"],
                                         payload=event, created_at=now))
    conn.execute(_notify)
    conn.commit()


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
    with engine.connect() as conn:
        started = time.monotonic()
        for n, (registration_id, version, profile) in enumerate(profiles):
            due = started + n * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            accept(conn, registration_id, version, profile)
        elapsed = time.monotonic() - started
    engine.dispose()
    print(f"{count} {elapsed:.3f} {time.process_time() - cpu0:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
