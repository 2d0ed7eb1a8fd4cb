"""How long the eventlet hub goes without running while render_commitment or seal runs in
eventlet.tpool, as the agreements service runs them: a green thread asks to wake every
millisecond and records the real gaps. Prints JSON; run by bench.agreements.run in its own
process (it monkey-patches)."""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from eventlet import tpool  # noqa: E402

from bench.agreements.run import document_input  # noqa: E402
from services.agreements.commitment_pdf import render_commitment  # noqa: E402
from services.agreements.sealing import ensure_identity, seal  # noqa: E402


def gaps_while(work: Any, repeats: int) -> dict[str, float]:
    gaps: list[float] = []
    running = [True]

    def ticker() -> None:
        last = time.perf_counter()
        while running[0]:
            eventlet.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    thread = eventlet.spawn(ticker)
    eventlet.sleep(0.05)
    for n in range(repeats):
        work(n)
    running[0] = False
    thread.wait()
    gaps.sort()
    return {"p99_gap_ms": gaps[int(len(gaps) * 0.99)] * 1000, "max_gap_ms": gaps[-1] * 1000}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory(prefix="cxc-bench-seal-") as keys:
        identity = ensure_identity(keys)
    # First uses (tpool's threads, fonts, imports) are not what a running service pays.
    pdf = tpool.execute(render_commitment, document_input(0))
    tpool.execute(seal, pdf, identity, "Sig_warm", "Bench Signer", "Benchmark")
    print(json.dumps({
        "render": gaps_while(lambda n: tpool.execute(render_commitment, document_input(n)),
                             repeats),
        "seal": gaps_while(lambda n: tpool.execute(seal, pdf, identity, f"Sig_{n}",
                                                   "Bench Signer", "Benchmark"), repeats),
    }))


if __name__ == "__main__":
    main()
