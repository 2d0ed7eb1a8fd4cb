"""Gateway benchmark: the system on PostgreSQL, driven over HTTP by wrk from its own process.

Measures, in one run and on one machine:
  ceiling  GET on a bare nameko @http endpoint making one RPC to an echo service
  GET      /api/v1/registrations/{id}, authenticated
  POST     /api/v1/registrations, authenticated (a different participant each request)
and prints requests/s, p50 and p99 of each, with GET and POST as a share of the ceiling.
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

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@localhost:5432/postgres")
RABBIT_API = os.environ.get("BENCH_RABBIT_API", "http://guest:guest@localhost:15672/api")
TARGETS = {"GET": 0.75, "POST": 0.40}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_admin(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN)
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
        self.procs: list[subprocess.Popen] = []
        self.gateway_port = free_port()
        self.bare_port = free_port()

    # --- set-up ---------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "AMQP_URI": f"amqp://guest:guest@localhost:5672/{self.vhost}",
            "DATABASE_URL_REGISTRATION": self.db_url,
            "CXC_VAR_DIR": str(self.work / "var"),
            "JWT_KEYS_DIR": str(self.work / "keys"),
            "LOG_LEVEL": "WARNING",
            "MAX_WORKERS": str(self.args.workers),
            "DB_POOL_SIZE": str(self.args.workers),
            "PYTHONPATH": str(ROOT),
        })
        env.update(extra)
        return env

    def setup(self) -> None:
        requests.put(f"{RABBIT_API}/vhosts/{self.vhost}", timeout=10).raise_for_status()
        requests.put(f"{RABBIT_API}/permissions/{self.vhost}/guest", timeout=10,
                     json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
        pg_admin(f'CREATE DATABASE "{self.db_name}"')
        os.environ.update({k: v for k, v in self.env().items() if k in (
            "DATABASE_URL_REGISTRATION", "CXC_VAR_DIR", "JWT_KEYS_DIR")})
        subprocess.run([sys.executable, "-m", "cli.main", "migrate", "--no-declare"], cwd=ROOT,
                       env=self.env(), check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "cli.main", "seed"], cwd=ROOT, env=self.env(),
                       check=True, stdout=subprocess.DEVNULL)
        self.make_accounts()

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
        ids = [new_id() for _ in range(self.args.post_accounts + 1)]
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
        with (self.work / "tokens.txt").open("w") as handle:
            for account_id in ids[1:]:
                handle.write(tokens.issue(account_id, ["participant"], None, None)[0] + "\n")
        self.body = body

    def start(self) -> None:
        commands = [
            (["-m", "cli.serve", "registration"], {}),
            (["-m", "cli.serve", "gateway"], {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.gateway_port}"}),
            (["-m", "bench.gateway.serve_echo", "echo"], {}),
            (["-m", "bench.gateway.serve_echo", "bare_http"],
             {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.bare_port}"}),
        ]
        log = (self.work / "services.log").open("w")
        for argv, extra in commands:
            self.procs.append(subprocess.Popen([sys.executable, *argv], cwd=ROOT,
                                               env=self.env(**extra), stdout=log,
                                               stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{self.gateway_port}/health", timeout=2)
                bare = requests.get(f"http://127.0.0.1:{self.bare_port}/echo/x", timeout=2)
                # Only registration runs here; matching's absence makes /health say "degraded".
                if health.json()["services"].get("registration") == "ok" and bare.text == "x":
                    break
            except requests.RequestException:
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

    def wrk(self, url: str, seconds: int, script: str | None = None, **env: str) -> dict[str, Any]:
        argv = ["wrk", "-t1", f"-c{self.args.connections}", f"-d{seconds}s", "--latency",
                "--timeout", "10s"]
        if script:
            argv += ["-s", str(HERE / script)]
        out = subprocess.run(argv + [url], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout
        return parse_wrk(out)

    def measure(self) -> dict[str, dict[str, Any]]:
        seconds = self.args.seconds
        bare = f"http://127.0.0.1:{self.bare_port}/echo/hello"
        get = f"http://127.0.0.1:{self.gateway_port}/api/v1/registrations/{self.registration_id}"
        post = f"http://127.0.0.1:{self.gateway_port}/api/v1/registrations"
        get_env = {"BENCH_TOKEN": self.owner_token}
        post_env = {"BENCH_TOKENS_FILE": str(self.work / "tokens.txt"),
                    "BENCH_BODY_FILE": str(self.work / "body.json")}
        self.wrk(bare, 3)
        self.wrk(get, 3, "get.lua", **get_env)
        results = {"ceiling (before)": self.wrk(bare, seconds)}
        results["GET"] = self.wrk(get, seconds, "get.lua", **get_env)
        results["POST"] = self.wrk(post, seconds, "post.lua", **post_env)
        results["ceiling (after)"] = self.wrk(bare, seconds)
        return results

    def teardown(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     f"WHERE datname = '{self.db_name}' AND pid <> pg_backend_pid()")
            pg_admin(f'DROP DATABASE IF EXISTS "{self.db_name}"')
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


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> bool:
    ceiling = (results["ceiling (before)"]["rps"] + results["ceiling (after)"]["rps"]) / 2
    print(f"\ngateway benchmark: wrk -t1 -c{args.connections} -d{args.seconds}s, "
          f"{os.cpu_count()} cores, MAX_WORKERS={args.workers}, PostgreSQL")
    print(f"{'endpoint':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
          f"{'of ceiling':>12}{'target':>9}")
    ok = True
    for name, row in results.items():
        share = row["rps"] / ceiling if ceiling else 0
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            passed = share >= target and row["errors"] == 0
            ok = ok and passed
            verdict = f"{'>=' if passed else '<'}{target:.0%}"
        print(f"{name:<18}{row['rps']:>10.0f}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}"
              f"{row['errors']:>8}{share:>12.0%}{verdict:>9}")
    print(f"ceiling = mean of before/after = {ceiling:.0f} req/s "
          "(bare nameko @http + one RPC to an echo service)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--post-accounts", type=int, default=8000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    bench = Bench(args)
    try:
        bench.setup()
        bench.start()
        results = bench.measure()
    finally:
        bench.teardown()
    ok = report(results, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "gateway.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
