"""A paced writer for the events benchmark: commits registration acceptances through
registration's own write path, without HTTP in front.

Each transaction is what `assess_registration` commits for one registration: the row locked
and changed (repository.load_registration, domain.next_state_on_assessment), the
registration_accepted event built from the row (domain.event_profile, make_event) and
recorded in the outbox (common.outbox.record_event), and the `NOTIFY cxc_outbox` the
service's sessions send on a commit that wrote outbox rows (common.db). One row per
transaction, as the service commits them.

`python -m bench.events.writer URL IDS_FILE RATE SECONDS` commits RATE transactions a
second (spread evenly, catching up if it falls behind) over the ids in IDS_FILE, and prints
how many it committed, over how many seconds, and its CPU seconds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from common.db import OUTBOX_CHANNEL, normalise_url, utcnow
from common.events import jsonable, make_event
from common.outbox import record_event
from services.registration import domain, repository
from services.registration.models import OutboxEvent

ASSESSOR = "00000000-0000-4000-8000-00000000a55e"


def accept(session: Session, registration_id: str) -> None:
    reg, org = repository.load_registration(session, registration_id, for_update=True)
    reg.status = domain.next_state_on_assessment(reg.status, "accept")
    reg.assessment_decision = "accept"
    reg.assessed_by = ASSESSOR
    reg.assessed_at = reg.updated_at = utcnow()
    session.flush()  # the new version the event reports
    profile = domain.event_profile(jsonable(repository.registration_dict(reg, org)))
    record_event(session, OutboxEvent, make_event(domain.DECISION_EVENTS[reg.status], profile,
                                                  ASSESSOR))
    session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
    session.commit()


def main() -> int:
    url, ids_file, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    ids = Path(ids_file).read_text().split()
    engine = create_engine(normalise_url(url), pool_size=1, max_overflow=0)
    count = min(len(ids), int(rate * seconds))
    interval = 1.0 / rate
    cpu0 = time.process_time()
    with Session(engine, expire_on_commit=False) as session:
        started = time.monotonic()
        for n, registration_id in enumerate(ids[:count]):
            due = started + n * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            accept(session, registration_id)
        elapsed = time.monotonic() - started
    engine.dispose()
    print(f"{count} {elapsed:.3f} {time.process_time() - cpu0:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
