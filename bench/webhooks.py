"""Webhook delivery benchmark: N deliveries queued at once for one endpoint, sent by the real
sender (claim, sign, POST with the SSRF-checked pinned connection, record each attempt),
next to a baseline in the same run: the same N POSTs of the same bodies to the same receiver
with the same concurrency and the same HTTP client, and nothing else (no database, no
signing, no claim).

`python -m bench.webhooks [--events 2000] [--concurrency 10] [--database-url URL]`

The receiver is a separate process (stdlib ThreadingHTTPServer) that answers 200 and notes
when each event arrived. Latency is arrival minus the moment the batch was queued (the
sender) or the moment the baseline started (the baseline): both measure "how long until the
receiver has it" for a burst of N. Figures are printed, never asserted; the machine's load
average is printed with them.

Measured on 2026-11-25 (2 shared cores, load average 17-19, so noisy), 2000 events, SQLite:
plain POSTs 233/s, p50 4.8 s, p99 8.5 s for the burst; the sender 95/s, p50 14.3 s, p99 21.1 s.
The sender waits for the slowest request of each claimed batch (50) before claiming the next,
and commits each batch's attempt log: about 40 % of the bare HTTP rate.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from eventlet.greenpool import GreenPool  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from common.db import make_engine, utcnow  # noqa: E402
from services.notifications import signing, webhook_delivery, webhook_http  # noqa: E402
from services.notifications.models import Base  # noqa: E402
from services.notifications.webhook_models import WebhookEndpoint  # noqa: E402


def serve(port_file: str) -> None:
    """The receiver process: POST records (event id, arrival), GET /stats answers them."""
    arrivals: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrivals.setdefault(self.headers.get("CXC-Event-Id", ""), time.time())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps(arrivals).encode()
            if self.path == "/reset":
                arrivals.clear()
                body = b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 256  # the default 5 drops connections under a burst
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file, "w") as handle:
        handle.write(str(server.server_address[1]))
    server.serve_forever()


def _get(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - our own receiver
        return json.loads(answer.read())


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms"


def _events(count: int) -> list[dict[str, Any]]:
    return [{"event_id": str(uuid.uuid4()), "event_type": "registration_accepted", "version": 1,
             "occurred_at": utcnow().isoformat(), "actor_id": None, "registration_id": str(uuid.uuid4()),
             "partnership_id": "p", "status": "accepted", "padding": "x" * 1500} for _ in range(count)]


def baseline(url: str, events: list[dict[str, Any]], concurrency: int) -> float:
    pool = GreenPool(concurrency)
    started = time.time()

    def send(event: dict[str, Any]) -> None:
        answer = webhook_http.post(url, webhook_delivery.body_of(event).encode(),
                                   {signing.EVENT_ID_HEADER: event["event_id"]}, connect_timeout=3,
                                   read_timeout=10, allow_insecure=True)
        if not answer.ok:
            print(f"  baseline POST failed: {answer.error}")

    for event in events:
        pool.spawn_n(send, event)
    pool.waitall()
    return started


class _Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    def new_session(self) -> Session:
        return self.sessionmaker()


def through_the_sender(database: _Database, url: str, events: list[dict[str, Any]], concurrency: int,
                       keys_dir: str) -> float:
    settings = {"secret_keys": "", "keys_dir": keys_dir, "connect_timeout_seconds": 3,
                "read_timeout_seconds": 10, "max_attempts": 5, "retry_base_seconds": 1,
                "retry_cap_seconds": 5, "allow_insecure": True, "batch_size": 50, "lease_seconds": 60,
                "concurrency": concurrency}
    worker = webhook_delivery.WebhookWorker()
    worker.database, worker.settings = database, settings
    worker.box = signing.secret_box(settings)
    worker._pool = GreenPool(concurrency)
    with database.new_session() as session:
        endpoint = WebhookEndpoint(id=str(uuid.uuid4()), partnership_id="p", url=url,
                                   event_types=["registration_accepted"], active=True,
                                   sealed_secret=worker.box.seal(signing.new_secret()), created_by="bench")
        session.add(endpoint)
        session.commit()
        queued_at = time.time()
        now = utcnow()
        for event in events:
            webhook_delivery.enqueue(session, endpoint_id=endpoint.id, event=event, at=now)
        session.commit()
    while worker.run_once():
        pass
    return queued_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--serve", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    work = tempfile.mkdtemp(prefix="cxc-bench-webhooks-")
    port_file = os.path.join(work, "port")
    receiver = subprocess.Popen([sys.executable, "-m", "bench.webhooks", "--serve", port_file])
    try:
        port = Path(port_file)
        while not port.exists() or not port.read_text():
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port.read_text()}"
        database = _Database(args.database_url or f"sqlite:///{work}/notifications.db")
        Base.metadata.create_all(database.engine)
        print(f"webhook delivery of {args.events} events to one receiver, concurrency "
              f"{args.concurrency}, {database.engine.dialect.name}; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        events = _events(args.events)
        started = baseline(f"{base}/hook", events, args.concurrency)
        arrivals = _get(f"{base}/stats")
        elapsed = max(arrivals.values()) - started
        print(f"  baseline (POST only)   {len(arrivals) / elapsed:8.0f} /s   "
              f"{_percentiles([t - started for t in arrivals.values()])}")
        _get(f"{base}/reset")

        events = _events(args.events)
        queued_at = through_the_sender(database, f"{base}/hook", events, args.concurrency, work)
        arrivals = _get(f"{base}/stats")
        assert len(arrivals) == args.events, f"{len(arrivals)} of {args.events} arrived"
        elapsed = max(arrivals.values()) - queued_at
        print(f"  sender (queue, claim,  {len(arrivals) / elapsed:8.0f} /s   "
              f"{_percentiles([t - queued_at for t in arrivals.values()])}")
        print("   sign, POST, record)")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        receiver.terminate()
        receiver.wait(10)


if __name__ == "__main__":
    main()
