"""The baseline consumer: a nameko service whose handler, on the same kind of queue as
notifications' (quorum, delivery limit, parking; bound with `#`), does nothing but count.
When it has seen BENCH_EXPECTED events it writes the time to BENCH_DONE_FILE."""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from common.events import ALL_EVENTS, handles  # noqa: E402

EXPECTED = int(os.environ.get("BENCH_EXPECTED", "0"))
DONE_FILE = os.environ.get("BENCH_DONE_FILE", "")
_seen = {"count": 0, "first": 0.0}


class BareConsumer:
    name = "bench_bare"

    @handles("matching", ALL_EVENTS)
    def handle_matching_event(self, payload: dict[str, Any]) -> None:
        if not _seen["count"]:
            _seen["first"] = time.time()
        _seen["count"] += 1
        if _seen["count"] == EXPECTED and DONE_FILE:
            with open(DONE_FILE, "w") as handle:
                handle.write(f"{_seen['first']:.6f} {time.time():.6f}\n")


if __name__ == "__main__":
    from nameko.cli.run import run

    from common.config import build_config

    run([BareConsumer], build_config("bench_bare"))
