"""Gateway benchmark: the system on PostgreSQL, driven over HTTP by wrk from its own process.

Measures, in one run and on one machine:
  ceiling    GET on a bare nameko @http endpoint making one RPC through common.rpc (the
             gateway's own RPC) to an echo service
  pika echo  a raw pika RPC echo with as many requests in flight (the broker's floor)
  ceiling + read  the ceiling whose echo also reads the GET's registration with registration's
             own prepared read (no token, visibility rule or schema): GET's baseline, with
             its database round trip, so what GET costs beyond it shows
  GET        /api/v1/registrations/{id}, authenticated
  ceiling + write  the ceiling whose echo also commits a draft with registration's own
             statement (no token verified, the body validated once): POST's baseline, with
             its database round trip
  POST       /api/v1/registrations, authenticated (a different participant each request)
  matches    /api/v1/matches?registration_id=..., 10k listed
  search     /api/v1/catalogue?q=..., 10k listed
and prints requests/s, p50 and p99 of each, its share of the ceiling and of its baseline
(GET's and POST's targets are shares of theirs), the CPU each process spent per request
(from /proc), the load average, and then each service process's CPU while nothing is asked
of it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import requests

from bench.procstat import CpuMeter, load, pids_named

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@localhost:5432/postgres")
RABBIT_API = os.environ.get("BENCH_RABBIT_API", "http://guest:guest@localhost:15672/api")
READ_BASELINE = "ceiling + read"
WRITE_BASELINE = "ceiling + write"
CEILING = "ceiling"
# Each target is a share of the baseline that takes the same path with none of our code: a
# GET or a POST does one database round trip, which the plain ceiling does not, so theirs is
# the ceiling plus that same read or write; matches and search read no database.
TARGETS = {"GET": (READ_BASELINE, 0.80), "POST": (WRITE_BASELINE, 0.55),
           "matches": (CEILING, 0.50), "search": (CEILING, 0.60)}
SERVICES = ("registration", "matching", "agreements", "payments", "gateway")
IDLE_TARGET_PERCENT = 1.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_admin(sql: str, attempts: int = 1) -> None:
    """`attempts` > 1 retries a refused connection: on a shared server the connections may
    all be taken for a while, and a teardown that gave up would leave its databases behind."""
    for attempt in range(attempts):
        try:
            conn = psycopg2.connect(PG_ADMIN)
            break
        except psycopg2.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def registration_body(partnership_id: str) -> dict[str, Any]:
    start = date.today() + timedelta(days=40)
    return {
        "partnership_id": partnership_id, "roles": ["visitor"],
        "organisation": {"name": "Cluster Têxtil Norte", "type": "cluster_organisation",
                         "country": "PT", "city": "Porto", "latitude": 41.15, "longitude": -8.61},
        "representative": {"first_name": "Ana", "last_name": "Ferreira", "email": "a@example.org",
                           "date_of_birth": "1986-03-14", "nationality": "PT"},
        "motivation": "Learn how textile clusters abroad adopt circular production.",
        "preferences": {"sectors": ["textiles"], "objectives": ["learn"],
                        "activity_types": ["knowledge_sharing"], "languages": ["pt", "en"],
                        "modes": ["physical"],
                        "availability": [{"start": start.isoformat(),
                                          "end": (start + timedelta(days=30)).isoformat()}]},
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = secrets.token_hex(4)
        self.work = Path(tempfile.mkdtemp(prefix="cxc-bench-"))
        self.vhost = f"cxc_bench_{self.run_id}"
        self.db_name = f"cxc_bench_{self.run_id}_registration"
        self.db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db_name
        self.matching_db = f"cxc_bench_{self.run_id}_matching"
        self.matching_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.matching_db
        self.procs: dict[str, subprocess.Popen] = {}
        self.spied = 0
        self.admin: Any = None
        self.gateway_port = free_port()
        self.bare_port = free_port()

    # --- set-up ---------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "AMQP_URI": f"amqp://guest:guest@localhost:5672/{self.vhost}",
            "DATABASE_URL_REGISTRATION": self.db_url,
            "DATABASE_URL_MATCHING": self.matching_url,
            "CXC_VAR_DIR": str(self.work / "var"),
            "JWT_KEYS_DIR": str(self.work / "keys"),
            "LOG_LEVEL": "WARNING",
            "MAX_WORKERS": str(self.args.workers),
            "DB_POOL_SIZE": str(min(self.args.workers, 10)),
            "PYTHONPATH": str(ROOT),
        })
        env.update(extra)
        return env

    def setup(self) -> None:
        requests.put(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{self.vhost}/guest", timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        pg_admin(f'CREATE DATABASE "{self.db_name}"')
        pg_admin(f'CREATE DATABASE "{self.matching_db}"')
        os.environ.update({k: v for k, v in self.env().items() if k in (
            "DATABASE_URL_REGISTRATION", "DATABASE_URL_MATCHING", "CXC_VAR_DIR", "JWT_KEYS_DIR")})
        subprocess.run([sys.executable, "-m", "cli.main", "migrate", "--no-declare"], cwd=ROOT,
                       env=self.env(), check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "cli.main", "seed"], cwd=ROOT, env=self.env(),
                       check=True, stdout=subprocess.DEVNULL)
        self.make_accounts()
        self.make_catalogue()

    def make_accounts(self) -> None:
        from sqlalchemy import create_engine, insert, select
        from sqlalchemy.orm import Session

        from common.auth import TokenService
        from common.db import new_id, normalise_url
        from services.registration.models import Account, Partnership
        from services.registration.passwords import hash_password

        tokens = TokenService({"keys_dir": str(self.work / "keys"), "ttl_seconds": 3600})
        engine = create_engine(normalise_url(self.db_url))
        password_hash = hash_password("bench-password-123")
        now = datetime.now(UTC)
        # The owner, then the POST run's participants, then the ceiling + write's (only when
        # POST runs: each token takes ~0.4 ms to sign).
        ids = [new_id() for _ in range((2 if self.posts() else 1) * self.args.post_accounts + 1)]
        with Session(engine) as session:
            partnership = session.scalar(select(Partnership.id).where(Partnership.code == "TEXCIRC"))
            session.execute(insert(Account), [
                {"id": i, "email": f"bench{n}@example.org", "full_name": f"Bench {n}",
                 "password_hash": password_hash, "roles": ["participant"], "failed_logins": 0,
                 "created_at": now} for n, i in enumerate(ids)])
            session.commit()
        engine.dispose()
        body = registration_body(partnership)
        (self.work / "body.json").write_text(json.dumps(body))
        owner_token = tokens.issue(ids[0], ["participant"], None, None)[0]
        self.owner_token = owner_token
        post_ids = ids[1:self.args.post_accounts + 1]
        for name, group in (("tokens.txt", post_ids), ("tokens-write.txt", ids[len(post_ids) + 1:])):
            with (self.work / name).open("w") as handle:
                for account_id in group:
                    handle.write(tokens.issue(account_id, ["participant"], None, None)[0] + "\n")
        self.body = body
        self.admin_token = tokens.issue(ids[0], ["admin"], None, None)[0]
        self.partnership_id = partnership

    def wants(self, run: str) -> bool:
        """Whether --only leaves this run in."""
        return not self.args.only or run in self.args.only

    def posts(self) -> bool:
        """Whether the POST runs, which need the ceiling + write's participants too."""
        return self.wants("POST")

    def make_catalogue(self) -> None:
        """The synthetic catalogue of bench/matching, written as matching's event
        projection would have written it."""
        import uuid

        from sqlalchemy import create_engine, insert, update

        from bench.matching import synthetic
        from common.db import normalise_url
        from services.matching.models import CatalogueChanges, CatalogueEntry

        profiles = synthetic.catalogue(self.args.listed)
        now = datetime.now(UTC)
        rows = []
        for seq, p in enumerate(profiles, start=1):
            registration_id = str(uuid.UUID(int=seq))
            name, _, text = p.text.partition(" ")
            rows.append({
                "registration_id": registration_id, "account_id": str(uuid.uuid4()),
                "partnership_id": self.partnership_id, "registration_version": 1, "listed": True,
                "has_visited": p.has_visited, "host_capacity": p.host_capacity,
                "changed_at": now, "change_seq": seq,
                "profile": {
                    "registration_id": registration_id, "reference": f"CXC-{seq:06d}",
                    "roles": sorted(p.roles), "partnership_id": self.partnership_id,
                    "status": "accepted",
                    "organisation": {"name": name, "type": p.organisation_type,
                                     "country": p.country, "city": "Somewhere"},
                    "motivation": text,
                    "preferences": {
                        "sectors": sorted(p.sectors), "objectives": sorted(p.objectives),
                        "activity_types": sorted(p.activity_types),
                        "languages": sorted(p.languages), "modes": sorted(p.modes),
                        "target_countries": sorted(p.target_countries),
                        "host_capacity": p.host_capacity,
                        "availability": [{"start": s.isoformat(), "end": e.isoformat()}
                                         for s, e in p.availability]}}})
        engine = create_engine(normalise_url(self.matching_url))
        with engine.begin() as conn:
            for start in range(0, len(rows), 2000):
                conn.execute(insert(CatalogueEntry.__table__), rows[start:start + 2000])
            conn.execute(update(CatalogueChanges.__table__).values(value=len(rows)))
        engine.dispose()
        rng_ids = [row["registration_id"] for row in rows[:: max(len(rows) // 50, 1)]][:50]
        (self.work / "matches.txt").write_text("".join(
            f"/api/v1/matches?registration_id={rid}\n" for rid in rng_ids))
        words = sorted({w for vocab in synthetic.SECTOR_WORDS.values() for w in vocab.split()})
        (self.work / "search.txt").write_text("".join(
            f"/api/v1/catalogue?q={w}\n" for w in words[:: max(len(words) // 50, 1)][:50]))

    def start(self) -> None:
        amqp = f"amqp://guest:guest@localhost:5672/{self.vhost}"
        commands = {
            **{name: (["-m", "cli.serve", name], {}) for name in SERVICES if name != "gateway"},
            "gateway": (["-m", "cli.serve", "gateway"],
                        {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.gateway_port}"}),
            "echo": (["-m", "bench.gateway.serve_echo", "echo"], {}),
            "bare_http": (["-m", "bench.gateway.serve_echo", "bare_http"],
                          {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.bare_port}"}),
            "pika_echo": (["-m", "bench.gateway.pika_echo", "serve", amqp], {}),
        }
        log = (self.work / "services.log").open("w")
        for name, (argv, extra) in commands.items():
            self.procs[name] = subprocess.Popen([sys.executable, *argv], cwd=ROOT,
                                                env=self.env(**extra), stdout=log,
                                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        first_match = f"http://127.0.0.1:{self.gateway_port}" + (
            self.work / "matches.txt").read_text().splitlines()[0]
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{self.gateway_port}/health", timeout=2)
                bare = requests.get(f"http://127.0.0.1:{self.bare_port}/echo/x", timeout=2)
                matches = requests.get(first_match, timeout=5,
                                       headers={"Authorization": f"Bearer {self.admin_token}"})
                services = health.json()["services"]
                if (all(services.get(name) == "ok" for name in SERVICES if name != "gateway")
                        and bare.text == "x" and matches.status_code == 200):
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.5)
        else:
            raise SystemExit(f"services did not come up; see {self.work / 'services.log'}")
        created = requests.post(f"http://127.0.0.1:{self.gateway_port}/api/v1/registrations",
                                json=self.body, timeout=10,
                                headers={"Authorization": f"Bearer {self.owner_token}"})
        created.raise_for_status()
        self.registration_id = created.json()["id"]

    # --- measuring ------------------------------------------------------------------

    def meter(self) -> CpuMeter:
        def backends() -> list[int]:
            # One connection for the whole run: the shared server may have none to spare later.
            try:
                if self.admin is None:
                    self.admin = psycopg2.connect(PG_ADMIN)
                    self.admin.autocommit = True
                with self.admin.cursor() as cur:
                    cur.execute("SELECT pid FROM pg_stat_activity WHERE datname IN (%s, %s)",
                                (self.db_name, self.matching_db))
                    return [row[0] for row in cur.fetchall()]
            except psycopg2.Error:
                return []  # PostgreSQL's share is then missing from that run's figures

        groups: dict[str, Any] = {name: [proc.pid] for name, proc in self.procs.items()}
        groups["postgres"] = backends
        groups["rabbitmq"] = lambda: pids_named("beam.smp")
        return CpuMeter(groups)

    def wrk(self, url: str, seconds: int, script: str | None = None, **env: str) -> dict[str, Any]:
        argv = ["wrk", "-t1", f"-c{self.args.connections}", f"-d{seconds}s", "--latency",
                "--timeout", "10s"]
        if script:
            argv += ["-s", str(HERE / script)]
        meter = self.meter()
        spies = self.spy(seconds)
        meter.start()
        out = subprocess.run(argv + [url], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout
        for spy in spies:
            spy.wait()
        result = parse_wrk(out)
        result["cpu_s"] = meter.stop()
        result["load"] = load()
        return result

    def spy(self, seconds: int) -> list[subprocess.Popen]:
        """py-spy on the processes named by --profile while a run lasts (collapsed stacks in
        the work directory; `python -m bench.profile_summary FILE` reads them)."""
        spies = []
        for name in self.args.profile:
            self.spied += 1
            out = self.work / f"profile-{self.spied:02d}-{name}.txt"
            spies.append(subprocess.Popen(
                ["py-spy", "record", "--format", "raw", "--nonblocking", "-r", "200",
                 "-d", str(seconds), "-o", str(out), "-p", str(self.procs[name].pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return spies

    def pika(self, seconds: int) -> dict[str, Any]:
        meter = self.meter()
        meter.start()
        out = subprocess.run([sys.executable, "-m", "bench.gateway.pika_echo", "drive",
                              f"amqp://guest:guest@localhost:5672/{self.vhost}",
                              str(self.args.connections), str(seconds)],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
        result = json.loads(out)
        result["cpu_s"] = meter.stop()
        result["load"] = load()
        return result

    def measure(self) -> dict[str, dict[str, Any]]:
        seconds = self.args.seconds
        base = f"http://127.0.0.1:{self.gateway_port}"
        bare = f"http://127.0.0.1:{self.bare_port}/echo/hello"
        bare_read = f"http://127.0.0.1:{self.bare_port}/read/{self.registration_id}"
        get = f"{base}/api/v1/registrations/{self.registration_id}"
        post = f"{base}/api/v1/registrations"
        get_env = {"BENCH_TOKEN": self.owner_token}
        post_env = {"BENCH_TOKENS_FILE": str(self.work / "tokens.txt"),
                    "BENCH_BODY_FILE": str(self.work / "body.json")}
        bare_write = f"http://127.0.0.1:{self.bare_port}/write"
        write_env = {**post_env, "BENCH_TOKENS_FILE": str(self.work / "tokens-write.txt")}
        matches_env = {"BENCH_TOKEN": self.admin_token,
                       "BENCH_PATHS_FILE": str(self.work / "matches.txt")}
        search_env = {"BENCH_TOKEN": self.admin_token,
                      "BENCH_PATHS_FILE": str(self.work / "search.txt")}
        self.wrk(bare, 3)
        self.wrk(bare_read, 3)
        self.wrk(get, 3, "get.lua", **get_env)
        self.wrk(base, 3, "paths.lua", **matches_env)
        self.wrk(base, 3, "paths.lua", **search_env)
        runs = {
            "pika echo": lambda: self.pika(seconds),
            READ_BASELINE: lambda: self.wrk(bare_read, seconds),
            "GET": lambda: self.wrk(get, seconds, "get.lua", **get_env),
            WRITE_BASELINE: lambda: self.wrk(bare_write, seconds, "post.lua", **write_env),
            "POST": lambda: self.wrk(post, seconds, "post.lua", **post_env),
            "matches": lambda: self.wrk(base, seconds, "paths.lua", **matches_env),
            "search": lambda: self.wrk(base, seconds, "paths.lua", **search_env),
        }
        results = {"ceiling (before)": self.wrk(bare, seconds)}
        for name, run in runs.items():
            if self.wants({READ_BASELINE: "GET", WRITE_BASELINE: "POST"}.get(name, name)):
                results[name] = run()
        results["ceiling (after)"] = self.wrk(bare, seconds)
        return results

    def idle(self) -> dict[str, Any]:
        """Each service process's CPU while nothing is asked of it, after the runs above."""
        time.sleep(self.args.idle_settle)
        meter = CpuMeter({name: [self.procs[name].pid] for name in SERVICES})
        meter.start()
        time.sleep(self.args.idle_seconds)
        used = meter.stop()
        return {"percent": {name: 100 * cpu / self.args.idle_seconds for name, cpu in used.items()},
                "load": load()}

    def teardown(self) -> None:
        if self.admin is not None:
            self.admin.close()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            for name in (self.db_name, self.matching_db):
                pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         f"WHERE datname = '{name}' AND pid <> pg_backend_pid()", attempts=30)
                pg_admin(f'DROP DATABASE IF EXISTS "{name}"', attempts=30)
        finally:
            requests.delete(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10)
            if not self.args.keep:
                shutil.rmtree(self.work, ignore_errors=True)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sockets.groups()) if sockets else 0)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": total, "errors": errors}


CPU_COLUMNS = ("gateway", "registration", "matching", "bare_http", "echo", "pika_echo",
               "rabbitmq", "postgres")


def _ran_out(name: str, row: dict[str, Any], args: argparse.Namespace) -> bool:
    """A POST run that asked for more registrations than it had participants."""
    return name in ("POST", WRITE_BASELINE) and row["requests"] > args.post_accounts


def report(results: dict[str, dict[str, Any]], idle: dict[str, Any], args: argparse.Namespace) -> bool:
    ceiling = (results["ceiling (before)"]["rps"] + results["ceiling (after)"]["rps"]) / 2
    print(f"\ngateway benchmark: wrk -t1 -c{args.connections} -d{args.seconds}s, "
          f"{os.cpu_count()} cores, MAX_WORKERS={args.workers}, PostgreSQL, "
          f"{args.listed:,} listed in the catalogue")
    print(f"{'endpoint':<18}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>7}"
          f"{'of ceiling':>11}  {'baseline':<16}{'of it':>6}{'target':>8}  load (1/5/15 min)")
    ok = True
    for name, row in results.items():
        share = row["rps"] / ceiling if ceiling else 0
        baseline, target = TARGETS.get(name, ("", None))
        of_baseline, verdict = "", ""
        if target is not None:
            base = results.get(baseline, {"rps": ceiling, "errors": 0, "requests": 0})
            base_share = row["rps"] / base["rps"] if base["rps"] else 0
            passed = (base_share >= target and row["errors"] == base["errors"] == 0
                      and not _ran_out(name, row, args) and not _ran_out(baseline, base, args))
            ok = ok and passed
            of_baseline = f"{base_share:.0%}"
            verdict = f"{'>=' if passed else '<'}{target:.0%}"
        print(f"{name:<18}{row['rps']:>8.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
              f"{row['errors']:>7}{share:>11.0%}  {baseline:<16}{of_baseline:>6}{verdict:>8}"
              f"  {row['load']}")
    for name, row in results.items():
        if _ran_out(name, row, args):
            print(f"{name}: {row['requests']:,} requests for {args.post_accounts:,} participants "
                  "- the later ones repeated a participant (raise --post-accounts)")
    print(f"ceiling = mean of before/after = {ceiling:.0f} req/s (bare nameko @http + one RPC "
          "through common.rpc to an echo service); ceiling + read: the echo also reads the "
          "registration with registration's prepared read; ceiling + write: it commits a draft "
          "with registration's own statement")
    print("\nCPU per request, ms (from /proc; rabbitmq is the shared broker, so it includes "
          "whatever else it served meanwhile)")
    print(f"{'endpoint':<18}" + "".join(f"{c:>13}" for c in CPU_COLUMNS) + f"{'total':>9}")
    for name, row in results.items():
        requests_done = max(row["requests"], 1)
        cells = [row["cpu_s"].get(c, 0.0) * 1000 / requests_done for c in CPU_COLUMNS]
        print(f"{name:<18}" + "".join(f"{v:>13.3f}" for v in cells) + f"{sum(cells):>9.3f}")
    print(f"\nat rest: CPU of each service process over {args.idle_seconds:.0f} s with no "
          f"requests, {args.idle_settle:.0f} s after the last run ({idle['load']}); "
          f"target < {IDLE_TARGET_PERCENT:.0f} % of a core")
    for name, percent in idle["percent"].items():
        passed = percent < IDLE_TARGET_PERCENT
        ok = ok and passed
        print(f"  {name:<14}{percent:>6.2f} %  {'ok' if passed else 'BURNS'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--post-accounts", type=int, default=None,
                        help="participants for each POST run (one registration each); "
                             "default: --seconds x 1,600, more than any run here has posted")
    parser.add_argument("--listed", type=int, default=10_000, help="catalogue size for matches/search")
    parser.add_argument("--idle-settle", type=float, default=30.0,
                        help="seconds after the last run before the at-rest measure")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--only", type=lambda v: v.split(","), default=[],
                        help="comma-separated runs besides the ceiling (GET,POST,matches,...)")
    parser.add_argument("--profile", type=lambda v: v.split(","), default=[],
                        help="comma-separated processes to sample with py-spy during each run "
                             "(collapsed stacks in the work directory; use with --keep)")
    args = parser.parse_args()
    if args.post_accounts is None:
        args.post_accounts = args.seconds * 1600
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    bench = Bench(args)
    try:
        bench.setup()
        bench.start()
        results = bench.measure()
        idle = bench.idle()
    finally:
        bench.teardown()
    ok = report(results, idle, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "gateway.json").write_text(json.dumps({"args": vars(args), "results": results, "idle": idle},
                                                        indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
