"""Notifications benchmark: events through the notifications service, with email to a local
SMTP server (aiosmtpd), next to the raw rate of consuming and acknowledging the same events
with no work, in the same run.

The system runs on PostgreSQL (registration and notifications as their own processes, as
`make run` starts them), on a RabbitMQ vhost of its own. Events are matching's
`contact_requested` (a person to look up at registration, an inbox entry, an email: it is
emailed by default) about a pool of accounts.

  raw        N events waiting in a quorum queue like notifications' (bound with `#`); a
             nameko consumer that does nothing drains it: events/s
  drain      the same N events waiting in notifications' queue; the service drains it:
             events/s handled (inbox entry and email queued, committed), and emails/s sent
  latency    M more events published at a steady pace (half the drain rate): publish ->
             inbox entry committed, and publish -> the SMTP server has the email, p50 / p99

    python -m bench.notifications.run [--events 10000] [--latency-events 1000] [--accounts 500]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from kombu import Connection
from sqlalchemy import create_engine, insert, text

from bench.gateway.run import PG_ADMIN, RABBIT_API, free_port, pg_admin
from bench.procstat import cpu_seconds

ROOT = Path(__file__).resolve().parents[2]
DATABASES = ("registration", "notifications")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = secrets.token_hex(4)
        self.work = Path(tempfile.mkdtemp(prefix="cxc-bench-notifications-"))
        self.vhost = f"cxc_bench_{self.run_id}"
        self.amqp = f"amqp://guest:guest@localhost:5672/{self.vhost}"
        self.urls = {name: f"{PG_ADMIN.rsplit('/', 1)[0]}/cxc_bench_{self.run_id}_{name}"
                     for name in DATABASES}
        self.smtp_port = free_port()
        self.arrivals = self.work / "arrivals.txt"
        self.procs: dict[str, subprocess.Popen] = {}
        self.log = None
        self.accounts: list[str] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "AMQP_URI": self.amqp, "CXC_VAR_DIR": str(self.work / "var"),
            "JWT_KEYS_DIR": str(self.work / "keys"), "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
            "EMAIL_TRANSPORT": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp_port),
            "SMTP_SECURITY": "none", "EMAIL_POLL_SECONDS": "1",
            "NOTIFICATIONS_DIRECTORY_SECONDS": str(self.args.directory_seconds),
            **{f"DATABASE_URL_{name.upper()}": url for name, url in self.urls.items()},
        })
        env.update(extra)
        return env

    # --- set-up ---------------------------------------------------------------------

    def setup(self) -> None:
        requests.put(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{self.vhost}/guest", timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        for url in self.urls.values():
            pg_admin(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"')
        for command in (["migrate", "--no-declare"], ["seed"]):
            subprocess.run([sys.executable, "-m", "cli.main", *command], cwd=ROOT, env=self.env(),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from common.db import normalise_url
        from services.registration.models import Account

        engine = create_engine(normalise_url(self.urls["registration"]))
        self.accounts = [str(uuid.uuid4()) for _ in range(self.args.accounts)]
        with engine.begin() as conn:
            conn.execute(insert(Account), [
                {"id": account, "email": f"bench{n}@example.org", "full_name": f"Bench Person {n}",
                 "password_hash": "-", "roles": ["participant"], "failed_logins": 0,
                 "created_at": datetime.now(UTC)} for n, account in enumerate(self.accounts)])
        engine.dispose()
        self.notifications_db = create_engine(normalise_url(self.urls["notifications"]))
        self.log = (self.work / "processes.log").open("w")
        self.spawn("smtp", ["-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.smtp_port}",
                            "-c", "bench.notifications.smtp_sink.Recorder", str(self.arrivals)])
        self.spawn("registration", ["-m", "cli.serve", "registration"])

    def spawn(self, name: str, argv: list[str], **extra: str) -> None:
        self.procs[name] = subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=self.env(**extra),
                                            stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()

    # --- events ---------------------------------------------------------------------

    def events(self, count: int) -> list[dict[str, Any]]:
        from common.events import make_event

        made = []
        for n in range(count):
            requester = self.accounts[n % len(self.accounts)]
            recipient = self.accounts[(n + 1) % len(self.accounts)]
            made.append(make_event("contact_requested", {
                "contact_id": str(uuid.uuid4()), "status": "open",
                "requester_account_id": requester, "recipient_account_id": recipient,
                "requester_registration_id": str(uuid.uuid4()),
                "recipient_registration_id": str(uuid.uuid4())}, requester))
        return made

    def declare(self, queue_name: str, service: str) -> None:
        from common.events import ALL_EVENTS, event_exchange, subscriber_queue
        from common.outbox import prepare_subscriber_queues

        with Connection(self.amqp) as conn:
            event_exchange("matching")(conn.default_channel).declare()
        queue = subscriber_queue("matching", ALL_EVENTS, queue_name, service)
        refused = prepare_subscriber_queues(self.amqp, [queue], service)[queue.name]
        if refused is not None:
            raise refused

    def publish(self, events: list[dict[str, Any]], pace: float = 0.0) -> dict[str, float]:
        """Publish with confirms; with `pace` (events/s), one every 1/pace seconds. Returns
        each event's publish time."""
        from common.events import event_exchange

        sent: dict[str, float] = {}
        exchange = event_exchange("matching")
        started = time.perf_counter()
        with Connection(self.amqp, transport_options={"confirm_publish": True}) as conn:
            producer = conn.Producer()
            for n, event in enumerate(events):
                if pace:
                    delay = started + n / pace - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                sent[event["event_id"]] = time.time()
                producer.publish(event, exchange=exchange, routing_key=event["event_type"],
                                 serializer="json", delivery_mode=2, message_id=event["event_id"])
        return sent

    def queue_has_consumer(self, name: str) -> bool:
        answer = requests.get(f"{RABBIT_API}/queues/{self.vhost}/{requests.utils.quote(name, safe='')}",
                              timeout=5)
        return answer.ok and answer.json().get("consumers", 0) > 0

    def scalar(self, sql: str) -> Any:
        with self.notifications_db.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def wait(self, what: str, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {what}; see {self.work / 'processes.log'}")

    # --- phases ---------------------------------------------------------------------

    def raw(self, count: int) -> dict[str, float]:
        from common.events import ALL_EVENTS, Subscription

        queue = Subscription("matching", ALL_EVENTS, "bench_bare", "handle_matching_event").queue_name
        self.declare(queue, "bench_bare")
        self.publish(self.events(count))
        done = self.work / "bare.done"
        self.spawn("bare", ["-m", "bench.notifications.bare"], BENCH_EXPECTED=str(count),
                   BENCH_DONE_FILE=str(done))
        self.wait("the bare consumer", done.exists, 600)
        self.stop("bare")
        first, last = map(float, done.read_text().split())
        requests.delete(f"{RABBIT_API}/queues/{self.vhost}/{requests.utils.quote(queue, safe='')}",
                        timeout=10)
        return {"events": count, "seconds": last - first, "rate": count / (last - first)}

    def drain(self, count: int) -> dict[str, float]:
        from common.events import SUBSCRIPTIONS

        [queue] = [s.queue_name for s in SUBSCRIPTIONS
                   if s.service == "notifications" and s.source == "matching"]
        self.declare(queue, "notifications")
        self.publish(self.events(count))
        registration_cpu = cpu_seconds(self.procs["registration"].pid)
        self.spawn("notifications", ["-m", "cli.serve", "notifications"])
        pid = self.procs["notifications"].pid
        # CPU from the moment it consumes (its start-up left out), to the last event handled.
        self.wait("notifications to consume", lambda: self.queue_has_consumer(queue), 120)
        notifications_cpu = cpu_seconds(pid)
        self.wait("notifications to drain its queue",
                  lambda: self.scalar("SELECT count(*) FROM inbox") >= count, 1800)
        cpu_ms = {"notifications": 1000 * (cpu_seconds(pid) - notifications_cpu) / count,
                  "registration": 1000 * (cpu_seconds(self.procs["registration"].pid)
                                          - registration_cpu) / count}
        self.wait("every email sent",
                  lambda: self.scalar("SELECT count(*) FROM email_messages WHERE status = 'sent'") >= count,
                  1800)
        with self.notifications_db.connect() as conn:
            first, last = conn.execute(text("SELECT min(processed_at), max(processed_at) FROM inbox")).one()
            sent_first, sent_last = conn.execute(text(
                "SELECT min(sent_at), max(sent_at) FROM email_messages")).one()
            failed = conn.execute(text("SELECT count(*) FROM email_messages WHERE status <> 'sent'")).scalar()
            entries = conn.execute(text("SELECT count(*) FROM notifications")).scalar()
        seconds = (last - first).total_seconds()
        return {"events": count, "seconds": seconds, "rate": count / seconds,
                "email_rate": count / (sent_last - first).total_seconds(),
                "email_seconds_after_last_event": (sent_last - last).total_seconds(),
                "inbox_entries": entries, "not_sent": failed, "cpu_ms": cpu_ms}

    def latency(self, count: int, pace: float) -> dict[str, Any]:
        before = self.scalar("SELECT count(*) FROM inbox")
        events = self.events(count)
        sent = self.publish(events, pace)
        self.wait("the paced events",
                  lambda: self.scalar("SELECT count(*) FROM inbox") >= before + count, 900)
        self.wait("the paced emails", lambda: self.scalar(
            "SELECT count(*) FROM email_messages WHERE status = 'sent'") >= before + count, 900)
        ids = tuple(sent)
        with self.notifications_db.connect() as conn:
            claimed = dict(conn.execute(text("SELECT event_id, processed_at FROM inbox "
                                             "WHERE event_id IN :ids").bindparams(
                                                 _expanding("ids")), {"ids": ids}).all())
            messages = dict(conn.execute(text("SELECT message_id, event_id FROM email_messages "
                                              "WHERE event_id IN :ids").bindparams(
                                                  _expanding("ids")), {"ids": ids}).all())
        arrivals = {}
        for line in self.arrivals.read_text().splitlines():
            message_id, at = line.split()
            arrivals[message_id] = float(at)
        handled = [(claimed[e].timestamp() - sent[e]) * 1000 for e in ids if e in claimed]
        delivered = [(arrivals[m] - sent[e]) * 1000 for m, e in messages.items() if m in arrivals]
        return {"events": count, "pace": pace, "handled_ms": handled, "delivered_ms": delivered}

    def teardown(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        if self.log:
            self.log.close()
        try:
            if hasattr(self, "notifications_db"):
                self.notifications_db.dispose()
            for url in self.urls.values():
                name = url.rsplit("/", 1)[1]
                pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
                pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            requests.delete(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10)
            if not self.args.keep:
                shutil.rmtree(self.work, ignore_errors=True)


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--latency-events", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--directory-seconds", type=float, default=30,
                        help="NOTIFICATIONS_DIRECTORY_SECONDS (0: ask registration for every event)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    bench = Bench(args)
    load_before = os.getloadavg()
    try:
        bench.setup()
        raw = bench.raw(args.events)
        drain = bench.drain(args.events)
        paced = bench.latency(args.latency_events, pace=max(1.0, round(drain["rate"] / 2)))
    finally:
        bench.teardown()
    load_after = os.getloadavg()
    print(f"notifications benchmark, {args.events} events ({args.accounts} people), "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after, "
          f"NOTIFICATIONS_DIRECTORY_SECONDS={args.directory_seconds:g}")
    print(f"  raw consume+ack, no work      {raw['rate']:8.0f} events/s   ({raw['seconds']:.1f} s)")
    print(f"  notifications (drain)         {drain['rate']:8.0f} events/s   ({drain['seconds']:.1f} s; "
          f"{drain['rate'] / raw['rate']:.1%} of raw)")
    print(f"    CPU per event               {drain['cpu_ms']['notifications']:8.2f} ms notifications, "
          f"{drain['cpu_ms']['registration']:.2f} ms registration (while draining)")
    print(f"    emails sent                 {drain['email_rate']:8.0f} emails/s   (last one "
          f"{drain['email_seconds_after_last_event']:.1f} s after the last event; "
          f"{drain['inbox_entries']} inbox entries, {drain['not_sent']} not sent)")
    handled, delivered = paced["handled_ms"], paced["delivered_ms"]
    print(f"  paced at {paced['pace']:.0f} events/s, {paced['events']} events:")
    print(f"    publish -> inbox entry      p50 {percentile(handled, .5):7.1f} ms   "
          f"p99 {percentile(handled, .99):7.1f} ms   mean {statistics.mean(handled):.1f} ms")
    print(f"    publish -> email delivered  p50 {percentile(delivered, .5):7.1f} ms   "
          f"p99 {percentile(delivered, .99):7.1f} ms   ({len(delivered)} emails)")


if __name__ == "__main__":
    main()
