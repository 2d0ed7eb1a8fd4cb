"""Events benchmark: how fast committed events reach their consumers.

Two workloads on PostgreSQL, each followed from commit to
  - a plain AMQP consumer (a queue of this benchmark bound to registration's exchange), and
  - matching's catalogue (the row matching writes when it has applied the event);
  sustained  registrations accepted over HTTP (POST .../assessment) at a paced rate, through
             the gateway and the registration service, whose relay publishes them;
  sustained-direct  the same acceptances committed by paced writer processes, each
             transaction the rows registration's assessment commits (bench/events/writer.py),
             so that the asked rate really is committed (HTTP tops out lower);
  burst      N outbox rows committed in one transaction from outside the service, as another
             process of it would (with its NOTIFY), for the relay to drain.
Prints events/s and the commit-to-consumer lag p50/p99 of each, and checks that none is lost.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import requests
from kombu import Connection, Consumer, Queue

from bench.gateway.run import PG_ADMIN, RABBIT_API, free_port, parse_wrk, pg_admin, registration_body
from bench.procstat import CpuMeter, load

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TARGETS = {"burst_events_per_s": 2000, "sustained_lag_p99_s": 1.0}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)] if ordered else float("nan")


class Tap(threading.Thread):
    """A plain AMQP consumer: the arrival time of every event, by event id."""

    def __init__(self, amqp_uri: str) -> None:
        super().__init__(daemon=True)
        from common.events import event_exchange

        self.arrived: dict[str, float] = {}
        self.occurred: dict[str, float] = {}
        self.connection = Connection(amqp_uri)
        self.queue = Queue(f"bench_tap_{secrets.token_hex(3)}", exchange=event_exchange("registration"),
                           routing_key="#", exclusive=True)
        self.ready = threading.Event()
        self.running = True

    def run(self) -> None:
        def on_message(body: Any, message: Any) -> None:
            now = time.time()
            event_id = body["event_id"]
            self.arrived.setdefault(event_id, now)
            self.occurred.setdefault(event_id, datetime.fromisoformat(body["occurred_at"]).timestamp())
            message.ack()

        with self.connection as conn, Consumer(conn, [self.queue], callbacks=[on_message],
                                               prefetch_count=1000):
            self.ready.set()
            while self.running:
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    continue
                except Exception:  # noqa: BLE001 - the vhost went at teardown
                    return


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = secrets.token_hex(4)
        self.work = Path(tempfile.mkdtemp(prefix="cxc-bench-events-"))
        self.vhost = f"cxc_bench_{self.run_id}"
        self.amqp_uri = f"amqp://guest:guest@localhost:5672/{self.vhost}"
        base = PG_ADMIN.rsplit("/", 1)[0]
        self.dbs = {name: f"cxc_bench_{self.run_id}_{name}" for name in ("registration", "matching")}
        self.urls = {name: f"{base}/{db}" for name, db in self.dbs.items()}
        self.gateway_port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.reader: Any = None
        self.last_seen: dict[str, float] = {}

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "AMQP_URI": self.amqp_uri,
            "DATABASE_URL_REGISTRATION": self.urls["registration"],
            "DATABASE_URL_MATCHING": self.urls["matching"],
            "CXC_VAR_DIR": str(self.work / "var"), "JWT_KEYS_DIR": str(self.work / "keys"),
            "LOG_LEVEL": "WARNING", "MAX_WORKERS": "32", "DB_POOL_SIZE": "8",
            "PYTHONPATH": str(ROOT),
        })
        env.update(extra)
        return env

    def setup(self) -> None:
        requests.put(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{self.vhost}/guest", timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        for db in self.dbs.values():
            pg_admin(f'CREATE DATABASE "{db}"')
        os.environ.update({k: v for k, v in self.env().items() if k.startswith(
            ("DATABASE_URL_", "CXC_VAR_DIR", "JWT_KEYS_DIR"))})
        subprocess.run([sys.executable, "-m", "cli.main", "migrate"], cwd=ROOT, env=self.env(),
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "cli.main", "seed"], cwd=ROOT, env=self.env(),
                       check=True, stdout=subprocess.DEVNULL)
        http_count = self.args.rate * self.args.seconds + 200
        direct_count = self.args.direct_rate * self.args.seconds
        self.submitted = self.make_submitted(http_count + direct_count)
        (self.work / "ids.txt").write_text("\n".join(self.submitted[:http_count]) + "\n")
        direct = self.submitted[http_count:]
        writers = self.args.writers
        for n in range(writers):
            (self.work / f"direct-{n}.txt").write_text("\n".join(direct[n::writers]) + "\n")

    def make_submitted(self, count: int) -> list[str]:
        """`count` submitted registrations, each of its own participant, written directly."""
        from sqlalchemy import create_engine, insert, select
        from sqlalchemy.orm import Session

        from common.auth import TokenService
        from common.db import new_id, normalise_url, utcnow
        from services.registration import repository
        from services.registration.models import Account, Partnership

        tokens = TokenService({"keys_dir": str(self.work / "keys"), "ttl_seconds": 3600})
        self.admin_token = tokens.issue(new_id(), ["admin"], None, None)[0]
        engine = create_engine(normalise_url(self.urls["registration"]))
        ids = []
        with Session(engine) as session:
            partnership = session.scalar(select(Partnership.id).where(Partnership.code == "TEXCIRC"))
            body = registration_body(partnership)
            accounts = [new_id() for _ in range(count)]
            session.execute(insert(Account), [
                {"id": a, "email": f"ev{n}@example.org", "full_name": f"Events {n}",
                 "password_hash": "x", "roles": ["participant"], "failed_logins": 0,
                 "created_at": utcnow()} for n, a in enumerate(accounts)])
            for account in accounts:
                org = repository.upsert_organisation(session, account, body["organisation"])
                reg = repository.insert_registration(session, {
                    "status": "submitted", "account_id": account, "organisation_id": org.id,
                    "partnership_id": partnership, "roles": body["roles"],
                    "motivation": body["motivation"], "representative": body["representative"],
                    "preferences": body["preferences"], "submitted_at": utcnow()})
                ids.append(reg.id)
            session.commit()
            self.partnership = partnership
        engine.dispose()
        return ids

    def start(self) -> None:
        commands = {
            "registration": {}, "matching": {},
            "gateway": {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.gateway_port}"},
        }
        log = (self.work / "services.log").open("w")
        for name, extra in commands.items():
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "cli.serve", name], cwd=ROOT,
                                                env=self.env(**extra), stdout=log,
                                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                services = requests.get(f"http://127.0.0.1:{self.gateway_port}/health",
                                        timeout=2).json()["services"]
                if services.get("registration") == "ok" and services.get("matching") == "ok":
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.5)
        else:
            raise SystemExit(f"services did not come up; see {self.work / 'services.log'}")

    # --- measuring ------------------------------------------------------------------

    def catalogue_times(self, registration_ids: set[str]) -> dict[str, float]:
        """When matching wrote each of these registrations into its catalogue (one connection
        for the whole run: the shared server may have none to spare later)."""
        try:
            if self.reader is None:
                self.reader = psycopg2.connect(self.urls["matching"])
                self.reader.autocommit = True
            with self.reader.cursor() as cur:
                cur.execute("SELECT registration_id, changed_at FROM catalogue WHERE listed")
                found = {rid: changed.timestamp() for rid, changed in cur.fetchall()
                         if rid in registration_ids}
            self.last_seen = found
        except psycopg2.OperationalError:
            self.reader = None
            return self.last_seen
        return found

    def follow(self, tap: Tap, expected: dict[str, str], committed: dict[str, float],
               timeout: float) -> dict[str, Any]:
        """Wait until every expected event (event id -> registration id) reached the tap and
        the catalogue; rates and lags from their commit times."""
        deadline = time.monotonic() + timeout
        registrations = set(expected.values())
        while time.monotonic() < deadline:
            tapped = sum(1 for e in expected if e in tap.arrived)
            listed = self.catalogue_times(registrations)
            if tapped == len(expected) and len(listed) == len(registrations):
                break
            time.sleep(0.25)
        listed = self.catalogue_times(registrations)
        first = min(committed[e] for e in expected)
        to_tap = [tap.arrived[e] - committed[e] for e in expected if e in tap.arrived]
        to_catalogue = [listed[r] - committed[e] for e, r in expected.items() if r in listed]
        last_tap = max((tap.arrived[e] for e in expected if e in tap.arrived), default=first)
        last_catalogue = max(listed.values(), default=first)
        return {
            "events": len(expected),
            "tap": {"received": len(to_tap), "per_s": len(to_tap) / max(last_tap - first, 1e-3),
                    "lag_p50_s": percentile(to_tap, 0.5), "lag_p99_s": percentile(to_tap, 0.99)},
            "catalogue": {"received": len(to_catalogue),
                          "per_s": len(to_catalogue) / max(last_catalogue - first, 1e-3),
                          "lag_p50_s": percentile(to_catalogue, 0.5),
                          "lag_p99_s": percentile(to_catalogue, 0.99)},
            "load": load(),
        }

    def spy(self, label: str, seconds: int = 20) -> list[subprocess.Popen]:
        """py-spy on the processes named by --profile for `seconds` (collapsed stacks in the
        work directory, `profile-<label>-<process>.txt`; `python -m bench.profile_summary`
        reads them)."""
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        return [subprocess.Popen(
            [py_spy, "record", "--format", "raw", "--nonblocking", "-r", "200", "-d", str(seconds),
             "-o", str(self.work / f"profile-{label}-{name}.txt"), "-p", str(self.procs[name].pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name in self.args.profile]

    def meter(self) -> CpuMeter:
        return CpuMeter({name: [self.procs[name].pid] for name in ("registration", "matching")})

    @staticmethod
    def cpu_per_event(meter: CpuMeter, result: dict[str, Any]) -> None:
        """CPU milliseconds per event of each service process over the workload (from /proc),
        beside the rates: the machine is shared, so rates alone say little."""
        used = meter.stop()
        result["cpu_ms_per_event"] = {name: round(1000 * seconds / max(result["events"], 1), 2)
                                      for name, seconds in used.items()}

    def expected_accepts(self) -> dict[str, str]:
        conn = psycopg2.connect(self.urls["registration"])
        with conn.cursor() as cur:
            cur.execute("SELECT event_id, payload->>'registration_id' FROM outbox "
                        "WHERE event_type = 'registration_accepted'")
            expected = dict(cur.fetchall())
        conn.close()
        return expected

    def direct(self, tap: Tap) -> dict[str, Any]:
        """`--direct-rate` acceptances a second committed by `--writers` paced processes,
        each transaction the rows registration's assessment commits (bench/events/writer.py),
        all writers starting their paced part at once."""
        before = set(tap.arrived)
        meter = self.meter()
        meter.start()
        writers = [subprocess.Popen(
            [sys.executable, "-m", "bench.events.writer", self.urls["registration"],
             str(self.work / f"direct-{n}.txt"), str(self.args.direct_rate / self.args.writers),
             str(self.args.seconds)], cwd=ROOT, env=self.env(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
            for n in range(self.args.writers)]
        try:
            for writer in writers:  # each has read its registrations' profiles
                if writer.stdout.readline().strip() != "ready":
                    raise RuntimeError("a paced writer failed before its paced part")
            for writer in writers:
                writer.stdin.write("go\n")
                writer.stdin.close()
            reports = [w.stdout.read().split() for w in writers]
            if any(writer.wait() != 0 for writer in writers):
                raise RuntimeError("a paced writer failed (its error is above)")
        finally:
            for writer in writers:
                if writer.poll() is None:
                    writer.kill()
        committed_count = sum(int(r[0]) for r in reports)
        elapsed = max(float(r[1]) for r in reports)
        writer_cpu = sum(float(r[2]) for r in reports)
        expected = {e: r for e, r in self.expected_accepts().items() if e not in before}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(e in tap.occurred for e in expected):
            time.sleep(0.2)
        committed = {e: tap.occurred.get(e, time.time()) for e in expected}
        result = self.follow(tap, expected, committed, 120)
        self.cpu_per_event(meter, result)
        result["cpu_ms_per_event"]["writers"] = round(1000 * writer_cpu / max(committed_count, 1), 2)
        result["writes"] = {"committed": committed_count, "seconds": elapsed,
                            "per_s": committed_count / max(elapsed, 1e-3)}
        return result

    def sustained(self, tap: Tap) -> dict[str, Any]:
        meter = self.meter()
        meter.start()
        connections = self.args.connections
        delay_ms = max(int(1000 * connections / self.args.rate) - 2, 0)
        before = set(tap.arrived)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{self.args.seconds}s", "--latency", "--timeout", "10s",
             "-s", str(HERE / "paced.lua"), f"http://127.0.0.1:{self.gateway_port}"],
            capture_output=True, text=True, check=True,
            env={**os.environ, "BENCH_TOKEN": self.admin_token, "BENCH_DELAY_MS": str(delay_ms),
                 "BENCH_IDS_FILE": str(self.work / "ids.txt")}).stdout
        http = parse_wrk(out)
        # Accepted registrations are what the relay must deliver (a rare retry may 409).
        expected = self.expected_accepts()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(e in tap.occurred for e in expected):
            time.sleep(0.2)
        committed = {e: tap.occurred.get(e, time.time()) for e in expected if e not in before}
        result = self.follow(tap, {e: r for e, r in expected.items() if e in committed},
                             committed, 60)
        result["http"] = http
        result["accepted"] = len(expected)
        self.cpu_per_event(meter, result)
        return result

    def burst(self, tap: Tap) -> dict[str, Any]:
        from sqlalchemy import create_engine, insert, text

        from common.db import OUTBOX_CHANNEL, normalise_url, utcnow
        from common.events import make_event
        from services.registration.models import OutboxEvent

        start = date.today() + timedelta(days=60)
        events = []
        for n in range(self.args.burst):
            registration_id = f"00000000-0000-4000-8000-{n:012d}"
            events.append(make_event("registration_accepted", {
                "registration_id": registration_id, "reference": f"CXC-B{n:06d}",
                "account_id": f"10000000-0000-4000-8000-{n:012d}", "partnership_id": self.partnership,
                "registration_version": 3, "status": "accepted", "roles": ["host"],
                "organisation": {"name": f"Burst {n}", "type": "sme", "country": "DE"},
                "motivation": "Share circular textile know-how.",
                "preferences": {"sectors": ["textiles"], "languages": ["en"], "modes": ["physical"],
                                "availability": [{"start": start.isoformat(),
                                                  "end": (start + timedelta(days=20)).isoformat()}]},
            }))
        spies = self.spy("burst")
        meter = self.meter()
        meter.start()
        engine = create_engine(normalise_url(self.urls["registration"]))
        with engine.begin() as conn:
            conn.execute(insert(OutboxEvent.__table__), [
                {"event_id": e["event_id"], "event_type": e["event_type"], "payload": e,
                 "created_at": utcnow()} for e in events])
            conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
        committed_at = time.time()
        engine.dispose()
        expected = {e["event_id"]: e["registration_id"] for e in events}
        result = self.follow(tap, expected, dict.fromkeys(expected, committed_at), 120)
        self.cpu_per_event(meter, result)
        for spy in spies:
            spy.wait()
        return result

    def teardown(self) -> None:
        if self.reader is not None:
            self.reader.close()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            for db in self.dbs.values():
                pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE datname = '{db}' AND pid <> pg_backend_pid()")
                pg_admin(f'DROP DATABASE IF EXISTS "{db}"')
        finally:
            requests.delete(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10)
            if not self.args.keep:
                shutil.rmtree(self.work, ignore_errors=True)


def report(results: dict[str, Any], args: argparse.Namespace) -> bool:
    print(f"\nevents benchmark: {os.cpu_count()} cores, PostgreSQL, OUTBOX_BATCH_SIZE="
          f"{os.environ.get('OUTBOX_BATCH_SIZE', '200')}; lag = commit to arrival; "
          "CPU = ms of CPU per event of registration / matching over the workload")
    print(f"{'workload':<18}{'to':<11}{'events':>8}{'got':>8}{'events/s':>10}{'lag p50 s':>11}"
          f"{'lag p99 s':>11}{'CPU reg/match ms':>18}  load (1/5/15 min)")
    for name, row in results.items():
        cpu = row.get("cpu_ms_per_event", {})
        cpu_text = f"{cpu.get('registration', 0):.2f}/{cpu.get('matching', 0):.2f}"
        for to in ("tap", "catalogue"):
            part = row[to]
            print(f"{name:<18}{to:<11}{row['events']:>8}{part['received']:>8}{part['per_s']:>10.0f}"
                  f"{part['lag_p50_s']:>11.3f}{part['lag_p99_s']:>11.3f}{cpu_text:>18}  {row['load']}")
    sustained, burst = results["sustained"], results["burst"]
    http = sustained["http"]
    print(f"sustained writes: {http['rps']:.0f} accepts/s over HTTP for {args.seconds} s "
          f"(asked {args.rate}/s), p99 {http['p99_ms']:.1f} ms, {http['errors']} errors")
    direct = results.get("sustained-direct")
    if direct:
        writes = direct["writes"]
        print(f"sustained-direct writes: {writes['committed']} committed in {writes['seconds']:.1f} s "
              f"= {writes['per_s']:.0f}/s (asked {args.direct_rate}/s, {args.writers} writers, "
              f"{direct['cpu_ms_per_event']['writers']:.2f} ms CPU per write)")
    lost = sum(row["events"] - row["tap"]["received"] for row in results.values())
    late = sum(row["events"] - row["catalogue"]["received"] for row in results.values())
    checks = {
        f"burst >= {TARGETS['burst_events_per_s']} events/s to the tap":
            burst["tap"]["per_s"] >= TARGETS["burst_events_per_s"],
        f"sustained (HTTP) lag p99 <= {TARGETS['sustained_lag_p99_s']} s to the tap":
            sustained["tap"]["lag_p99_s"] <= TARGETS["sustained_lag_p99_s"],
    }
    if direct:
        reached = direct["writes"]["per_s"] >= 0.95 * args.direct_rate
        checks[f"sustained-direct committed >= 95 % of {args.direct_rate}/s"] = reached
        checks[f"sustained-direct lag p99 <= {TARGETS['sustained_lag_p99_s']} s to the tap"] = (
            direct["tap"]["lag_p99_s"] <= TARGETS["sustained_lag_p99_s"])
    checks["nothing lost on the way to the plain consumer"] = lost == 0
    checks[f"matching applied every event within the wait ({late} still to come)"] = late == 0
    for label, passed in checks.items():
        print(f"  {'ok  ' if passed else 'MISS'} {label}")
    return all(passed for label, passed in checks.items() if not label.startswith("matching"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=500, help="accepts per second over HTTP")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--direct-rate", type=int, default=500,
                        help="acceptances per second committed by the paced writers (0: skip)")
    parser.add_argument("--writers", type=int, default=4, help="paced writer processes")
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--profile", type=lambda v: v.split(","), default=[],
                        help="comma-separated processes (registration, matching) to sample with "
                             "py-spy for 20 s from the burst's commit; use with --keep")
    args = parser.parse_args()
    bench = Bench(args)
    results: dict[str, Any] = {}
    try:
        bench.setup()
        bench.start()
        tap = Tap(bench.amqp_uri)
        tap.start()
        tap.ready.wait(10)
        results["sustained"] = bench.sustained(tap)
        if args.direct_rate:
            results["sustained-direct"] = bench.direct(tap)
        results["burst"] = bench.burst(tap)
        tap.running = False
    finally:
        bench.teardown()
    ok = report(results, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "events.json").write_text(json.dumps({"args": vars(args), "results": results},
                                                indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
