"""Agreements benchmark: does rendering commitment PDFs stall other requests?

The system runs on PostgreSQL (registration, matching, agreements and the gateway, each its
own process, started as bench/gateway does). Exchanges are driven to `validated` over HTTP.
Then, measured with wrk from its own process:
  idle       GET /api/v1/exchanges/{id}, nothing else running
  rendering  the same GET while a separate process keeps rendering: each of its clients edits
             its own exchange's plan (a new content version) and downloads commitment.pdf,
             which renders that version (reportlab, in eventlet.tpool)
and, as a control, the same GET while those clients only edit and read back (no PDF);
and prints them side by side with the PDFs rendered per second, plus the raw in-process time
of render_commitment and of one seal (pyHanko), best of N, as a baseline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.gateway.run import Bench as GatewayBench
from bench.gateway.run import parse_wrk, pg_admin

ROOT = Path(__file__).resolve().parents[2]
GET_LUA = ROOT / "bench" / "gateway" / "get.lua"
SERVICES = ("registration", "matching", "agreements")
PASSWORD = "bench-password-123"
PHASES = {"edit": "while editing", "render": "while rendering", "sign": "while signing"}
MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
               b"2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def registration_payload(partnership_id: str, country: str, roles: list[str], name: str
                         ) -> dict[str, Any]:
    start = date.today() + timedelta(days=40)
    return {
        "partnership_id": partnership_id, "roles": roles,
        "organisation": {"name": name, "type": "cluster_organisation", "country": country,
                         "city": "Porto", "latitude": 41.15, "longitude": -8.61},
        "representative": {"first_name": "Ana", "last_name": "Ferreira", "email": "a@example.org",
                           "date_of_birth": "1986-03-14", "nationality": country},
        "motivation": "Learn how textile clusters abroad adopt circular production.",
        "preferences": {"sectors": ["textiles"], "objectives": ["learn"],
                        "activity_types": ["knowledge_sharing"], "languages": ["pt", "en"],
                        "modes": ["physical"], "target_countries": ["PT", "DE"],
                        "host_capacity": 2 if "host" in roles else None,
                        "availability": [{"start": start.isoformat(),
                                          "end": (start + timedelta(days=30)).isoformat()}]},
    }


def plan(outcomes: str = "A joint project on textile recycling.") -> dict[str, Any]:
    start = date.today() + timedelta(days=60)
    start += timedelta(days=-start.weekday())  # a Monday
    end = start + timedelta(days=4)
    return {
        "mode": "physical", "start_date": start.isoformat(), "end_date": end.isoformat(),
        "travel_days_before": 0, "travel_days_after": 0, "objectives": ["learn"],
        "activity_types": ["knowledge_sharing", "networking"], "languages": ["en"],
        "action_plan": [{"date": start.isoformat(), "title": "Visit of the recycling plants",
                         "description": "Sorting lines and fibre recovery"},
                        {"date": (start + timedelta(days=1)).isoformat(),
                         "title": "Workshop with the cluster's members"}],
        "expected_outcomes": outcomes,
        "responsibilities": {"visitor": "Present our circular programme.",
                             "host": "Organise the visits and the workshop."},
    }


def document_input(n: int) -> dict[str, Any]:
    return {"reference": f"CXC-BENCH-{n:04d}", "version": n, "working_days": 5,
            "parties": {"vo": {"name": "Cluster Têxtil Norte", "country": "PT"},
                        "ho": {"name": "Textil Cluster Süd", "country": "DE"},
                        "vop": {"name": "GREENMOB"}, "hop": {"name": "TEXCIRC"}},
            "plan": plan(f"A joint project on textile recycling, take {n}.")}


def baseline(repeats: int, work: Path) -> dict[str, float]:
    """Best-of-N wall time of one render and one seal, in this process, no event loop."""
    from services.agreements.commitment_pdf import render_commitment
    from services.agreements.sealing import ensure_identity, seal

    identity = ensure_identity(work / "sealing")
    render_commitment(document_input(0))  # fonts, taxonomy: first-use costs
    renders, seals, pdf = [], [], b""
    for n in range(repeats):
        started = time.perf_counter()
        pdf = render_commitment(document_input(n + 1))
        renders.append(time.perf_counter() - started)
    for n in range(repeats):
        started = time.perf_counter()
        seal(pdf, identity, f"Sig_{n}", "Bench Signer", "Benchmark")
        seals.append(time.perf_counter() - started)
    probe = subprocess.run([sys.executable, "-m", "bench.agreements.hub_probe", str(repeats)],
                           cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {"render_ms": min(renders) * 1000, "seal_ms": min(seals) * 1000, "pdf_bytes": len(pdf),
            "hub": json.loads(probe.stdout.strip().splitlines()[-1])}


def render_loop(base: str, mode: str, clients: list[dict[str, str]], stop: Any, done: Any,
                seconds_total: Any, failures: Any) -> None:
    """Each client works on its own exchange until `stop`. Mode `edit` (the control): edit the
    plan, read the exchange back, no PDF. Mode `render`: edit the plan (a new
    content version), download commitment.pdf, which renders it. Mode `sign`: edit the plan,
    both contact points approve (which renders), the host signs (which seals)."""
    lock = threading.Lock()

    def once(session: requests.Session, spec: dict[str, str], path: str, etag: str, n: int
             ) -> tuple[str, float | None]:
        edited = session.patch(path, timeout=30, headers={"If-Match": etag},
                               json={"plan": {"expected_outcomes": f"Outcome take {n}."}})
        if edited.status_code != 200:
            return session.get(path, timeout=30).headers["ETag"], None
        etag = edited.headers["ETag"]
        if mode == "edit":  # the control: the same requests, no PDF
            started = time.perf_counter()
            read = session.get(path, timeout=30)
            return etag, time.perf_counter() - started if read.status_code == 200 else None
        if mode == "render":
            started = time.perf_counter()
            pdf = session.get(f"{path}/commitment.pdf", timeout=30)
            ok = pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            return etag, time.perf_counter() - started if ok else None
        for who in ("vop", "hop"):
            validated = session.post(f"{path}/validation", json={"decision": "approve"},
                                     timeout=30, headers={"Authorization": spec[who]})
        if validated.status_code != 200 or validated.json()["status"] != "validated":
            return session.get(path, timeout=30).headers["ETag"], None
        started = time.perf_counter()
        signed = session.post(f"{path}/signatures", timeout=30,
                              json={"document_sha256": validated.json()["document"]["sha256"]})
        elapsed = time.perf_counter() - started
        if signed.status_code != 200:
            return session.get(path, timeout=30).headers["ETag"], None
        return signed.headers["ETag"], elapsed

    def client(spec: dict[str, str]) -> None:
        session = requests.Session()
        session.headers["Authorization"] = spec["auth"]
        path = f"{base}/api/v1/exchanges/{spec['id']}"
        etag = session.get(path, timeout=30).headers["ETag"]
        n = 0
        while not stop.is_set():
            n += 1
            etag, elapsed = once(session, spec, path, etag, n)
            with lock:
                if elapsed is None:
                    failures.value += 1
                else:
                    done.value += 1
                    seconds_total.value += elapsed

    threads = [threading.Thread(target=client, args=(spec,)) for spec in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Bench(GatewayBench):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.vhost = f"cxc_bench_pdf_{self.run_id}"
        self.db_names = {s: f"cxc_bench_{self.run_id}_{s}" for s in SERVICES}
        self.db_urls = {s: PG_BASE + "/" + db for s, db in self.db_names.items()}
        self.base = f"http://127.0.0.1:{self.gateway_port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = super().env(**extra)
        env.pop("DATABASE_URL_REGISTRATION", None)
        env.update({f"DATABASE_URL_{s.upper()}": url for s, url in self.db_urls.items()})
        # payments is not started: its database stays a throwaway SQLite file.
        env["DATABASE_URL_PAYMENTS"] = f"sqlite:///{self.work / 'payments.db'}"
        env["DOCUMENTS_DIR"] = str(self.work / "documents")
        env.update(extra)
        return env

    def setup(self) -> None:
        requests.put(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{self.vhost}/guest", timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        for db in self.db_names.values():
            pg_admin(f'CREATE DATABASE "{db}"')
        subprocess.run([sys.executable, "-m", "cli.main", "migrate"], cwd=ROOT, env=self.env(),
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "cli.main", "seed"], cwd=ROOT, env=self.env(),
                       check=True, stdout=subprocess.DEVNULL)
        self.make_contact_points()

    def make_contact_points(self) -> None:
        from sqlalchemy import create_engine, select
        from sqlalchemy.orm import Session

        from common.db import normalise_url
        from services.registration.models import Partnership
        from services.registration.repository import create_account

        engine = create_engine(normalise_url(self.db_urls["registration"]))
        self.partnerships: dict[str, str] = {}
        with Session(engine) as session:
            for code in ("GREENMOB", "TEXCIRC"):
                self.partnerships[code] = session.scalar(
                    select(Partnership.id).where(Partnership.code == code))
                create_account(session, f"cp-{code.lower()}@example.org", PASSWORD,
                               f"Contact {code}", ["partnership_contact"], self.partnerships[code])
            session.commit()
        engine.dispose()

    def verify_email(self, email: str) -> None:
        """As if the participant followed the link of the verification email (the email path
        is not what this bench measures)."""
        from sqlalchemy import create_engine, text

        from common.db import normalise_url

        engine = create_engine(normalise_url(self.db_urls["registration"]))
        with engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET email_verified_at = now() WHERE email = :e"),
                         {"e": email})
        engine.dispose()

    def start(self) -> None:
        log = (self.work / "services.log").open("w")
        for name in (*SERVICES, "gateway"):
            extra = {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.gateway_port}"} if name == "gateway" else {}
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "cli.serve", name], cwd=ROOT,
                                                env=self.env(**extra), stdout=log,
                                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"{self.base}/health", timeout=2).json()["services"]
                if all(health.get(s) == "ok" for s in SERVICES):
                    return
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.5)
        raise SystemExit(f"services did not come up; see {self.work / 'services.log'}")

    # --- exchanges over HTTP ----------------------------------------------------------

    def call(self, method: str, path: str, headers: dict[str, str], expect: int = 200,
             **kwargs: Any) -> requests.Response:
        response = requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)
        if response.status_code != expect:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response

    def login(self, email: str) -> dict[str, str]:
        token = self.call("POST", "/api/v1/auth/token", {},
                          json={"email": email, "password": PASSWORD}).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def accepted(self, n: int, code: str, country: str, role: str) -> tuple[dict[str, str], str]:
        email = f"bench-{role}-{n}-{self.run_id}@example.org"
        self.call("POST", "/api/v1/accounts", {}, 202,
                  json={"email": email, "password": PASSWORD, "full_name": f"Bench {role} {n}"})
        self.verify_email(email)
        headers = self.login(email)
        payload = registration_payload(self.partnerships[code], country, [role],
                                       f"Bench {role} organisation {n}")
        reg = self.call("POST", "/api/v1/registrations", headers, 201, json=payload).json()
        self.call("PUT", f"/api/v1/registrations/{reg['id']}/cv", {
            **headers, "Content-Type": "application/pdf", "X-Filename": "cv.pdf"}, data=MINIMAL_PDF)
        self.call("POST", f"/api/v1/registrations/{reg['id']}/submit", headers)
        self.call("POST", f"/api/v1/registrations/{reg['id']}/assessment", self.contacts[code],
                  json={"decision": "accept"})
        return headers, reg["id"]

    def validated_exchange(self, n: int) -> dict[str, str]:
        """A PT visitor (GREENMOB) and a DE host (TEXCIRC), their exchange validated."""
        visitor, _ = self.accepted(n, "GREENMOB", "PT", "visitor")
        host, host_reg = self.accepted(n, "TEXCIRC", "DE", "host")
        deadline = time.monotonic() + 20
        while requests.get(f"{self.base}/api/v1/catalogue/{host_reg}", headers=visitor,
                           timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the host never reached the catalogue")
            time.sleep(0.1)
        exchange = self.call("POST", "/api/v1/exchanges", visitor, 201,
                             json={"counterpart_registration_id": host_reg, "plan": plan()}).json()
        path = f"/api/v1/exchanges/{exchange['id']}"
        self.call("POST", f"{path}/confirm", host)
        self.call("POST", f"{path}/submit", visitor)
        for code in ("GREENMOB", "TEXCIRC"):
            done = self.call("POST", f"{path}/validation", self.contacts[code],
                             json={"decision": "approve"}).json()
        if done["status"] != "validated":
            raise SystemExit(f"exchange {exchange['id']} is {done['status']}, not validated")
        return {"id": exchange["id"], "auth": host["Authorization"],
                "vop": self.contacts["GREENMOB"]["Authorization"],
                "hop": self.contacts["TEXCIRC"]["Authorization"]}

    def make_exchanges(self) -> None:
        self.contacts = {code: self.login(f"cp-{code.lower()}@example.org")
                         for code in ("GREENMOB", "TEXCIRC")}
        self.watched = self.validated_exchange(0)
        self.rendering = [self.validated_exchange(n + 1) for n in range(self.args.renderers)]

    # --- measuring ----------------------------------------------------------------------

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) of each service process so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        used = {}
        for name, proc in self.procs.items():
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / ticks
        return used

    def wrk_get(self, seconds: int) -> dict[str, Any]:
        before, started = self.cpu_seconds(), time.monotonic()
        row = self._wrk_get(seconds)
        elapsed, after = time.monotonic() - started, self.cpu_seconds()
        row["cpu"] = {name: (after[name] - before[name]) / elapsed for name in after}
        return row

    def _wrk_get(self, seconds: int) -> dict[str, Any]:
        url = f"{self.base}/api/v1/exchanges/{self.watched['id']}"
        argv = ["wrk", "-t1", f"-c{self.args.connections}", f"-d{seconds}s", "--latency",
                "--timeout", "10s", "-s", str(GET_LUA), url]
        token = self.watched["auth"].split(" ", 1)[1]
        out = subprocess.run(argv, capture_output=True, text=True, check=True,
                             env={**os.environ, "BENCH_TOKEN": token}).stdout
        return parse_wrk(out)

    def measure(self) -> dict[str, dict[str, Any]]:
        seconds = self.args.seconds
        self.wrk_get(3)
        results = {"idle": self.wrk_get(seconds)}
        for mode in self.args.modes:
            results[PHASES[mode]] = self.under_load(mode, seconds)
        return results

    def under_load(self, mode: str, seconds: int) -> dict[str, Any]:
        ctx = multiprocessing.get_context("spawn")
        stop, done = ctx.Event(), ctx.Value("i", 0)
        busy_seconds, failures = ctx.Value("d", 0.0), ctx.Value("i", 0)
        loop = ctx.Process(target=render_loop, args=(self.base, mode, self.rendering, stop, done,
                                                     busy_seconds, failures))
        loop.start()
        try:
            deadline = time.monotonic() + 60
            while done.value < len(self.rendering) and time.monotonic() < deadline:
                time.sleep(0.1)  # every client has gone round once: the load is on
            before, seconds_before, started = done.value, busy_seconds.value, time.monotonic()
            row = self.wrk_get(seconds)
            elapsed = time.monotonic() - started
            during = done.value - before
            row.update(pdfs=during, pdfs_per_s=during / elapsed,
                       pdf_ms=(busy_seconds.value - seconds_before) / during * 1000 if during else 0.0)
        finally:
            stop.set()
            loop.join(60)
            if loop.is_alive():
                loop.terminate()
        row["failures"] = failures.value
        return row

    def teardown(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            for db in self.db_names.values():
                pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE datname = '{db}' AND pid <> pg_backend_pid()")
                pg_admin(f'DROP DATABASE IF EXISTS "{db}"')
        finally:
            requests.delete(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10)
            if not self.args.keep:
                shutil.rmtree(self.work, ignore_errors=True)


PG_BASE = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@localhost:5432/postgres").rsplit("/", 1)[0]
RABBIT_API = os.environ.get("BENCH_RABBIT_API", "http://guest:guest@localhost:15672/api")


def report(results: dict[str, dict[str, Any]], base: dict[str, float],
           args: argparse.Namespace) -> None:
    idle = results["idle"]
    print(f"\nagreements benchmark: GET /api/v1/exchanges/{{id}}, wrk -t1 -c{args.connections} "
          f"-d{args.seconds}s, {os.cpu_count()} cores, MAX_WORKERS={args.workers}, PostgreSQL; "
          f"{args.renderers} PDF clients")
    print(f"{'GET exchange':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
          f"{'p99/idle':>10}{'PDFs/s':>9}{'PDF ms':>9}{'failed':>8}")
    for name, row in results.items():
        pdfs = (f"{row['pdfs_per_s']:>9.1f}{row['pdf_ms']:>9.0f}{row['failures']:>8}"
                if "pdfs_per_s" in row else "")
        print(f"{name:<18}{row['rps']:>10.0f}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}"
              f"{row['errors']:>8}{row['p99_ms'] / idle['p99_ms']:>9.2f}x{pdfs}")
    print("CPU of each service process during each run, in cores: " + "; ".join(
        f"{name}: " + ", ".join(f"{svc} {used:.2f}" for svc, used in row["cpu"].items())
        for name, row in results.items()))
    print("editing (control, no PDF): each client edits its exchange's plan and GETs the exchange; "
          "PDFs/s = edits/s, PDF ms = that GET")
    print("rendering: each client edits its exchange's plan and GETs commitment.pdf (a new version "
          "rendered); PDF ms = that GET")
    print("signing: each client edits the plan, both contact points approve (render), the host "
          "signs (seal); PDF ms = the signature POST")
    print(f"baseline in-process, best of {args.repeats}: render_commitment "
          f"{base['render_ms']:.1f} ms ({base['pdf_bytes']} bytes), seal {base['seal_ms']:.1f} ms")
    hub = base["hub"]
    print("event loop while each runs in tpool (a green thread waking every 1 ms): "
          + "; ".join(f"{work}: longest gap {hub[work]['max_gap_ms']:.1f} ms, p99 gap "
                      f"{hub[work]['p99_gap_ms']:.1f} ms" for work in ("render", "seal")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--renderers", type=int, default=4,
                        help="concurrent clients rendering PDFs, one exchange each")
    parser.add_argument("--modes", nargs="+", choices=("edit", "render", "sign"),
                        default=["edit", "render", "sign"], help="the concurrent PDF work, one phase each")
    parser.add_argument("--repeats", type=int, default=10, help="baseline: best of N")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    bench = Bench(args)
    try:
        base = baseline(args.repeats, bench.work)
        bench.setup()
        bench.start()
        bench.make_exchanges()
        results = bench.measure()
    finally:
        bench.teardown()
    report(results, base, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "agreements.json").write_text(json.dumps(
        {"args": vars(args), "baseline": base, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
