"""Web application benchmark: main pages for 20 signed-in users, each next to the JSON API call
that backs the same page, in the same run; and the first page load's transferred bytes.

Like bench/gateway: a fresh PostgreSQL database and RabbitMQ vhost, the registration and
notifications services (the header's unread count) and the gateway each in its own process,
wrk (-t1) from another. Every user has a draft registration. Pages and their API counterparts:
  /dashboard                          <-> GET /api/v1/registrations
  /registration/{id}/organisation     <-> GET /api/v1/registrations/{id}
  /partnerships                       <-> GET /api/v1/partnerships
Targets: each page p95 <= 150 ms with 20 concurrent users; `/` with its CSS and JS <= 600 KB
compressed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from bench.gateway.run import ROOT, Bench, parse_wrk

HERE = Path(__file__).resolve().parent
PAGE_P95_MS = 150
FIRST_LOAD_BYTES = 600 * 1024


class WebBench(Bench):
    def make_catalogue(self) -> None:
        """The pages measured here read no catalogue."""

    def posts(self) -> bool:
        """The users sign in; nobody is measured posting."""
        return False

    def start(self) -> None:
        # notifications too: every signed-in page shows its unread count.
        commands = [["-m", "cli.serve", "registration"], ["-m", "cli.serve", "notifications"],
                    ["-m", "cli.serve", "gateway"]]
        log = (self.work / "services.log").open("w")
        for argv in commands:
            self.procs[argv[-1]] = subprocess.Popen(
                [sys.executable, *argv], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=self.env(WEB_SERVER_ADDRESS=f"127.0.0.1:{self.gateway_port}"))
        base = f"http://127.0.0.1:{self.gateway_port}"
        for _ in range(120):
            try:
                health = requests.get(f"{base}/health", timeout=2).json()
                if all(health["services"].get(name) == "ok"
                       for name in ("registration", "notifications")):
                    break
            except requests.RequestException:
                pass
            subprocess.run(["sleep", "0.5"], check=True)
        else:
            raise SystemExit(f"services did not come up; see {self.work / 'services.log'}")
        tokens = (self.work / "tokens.txt").read_text().split()[: self.args.users]
        self.users = []
        for token in tokens:
            created = requests.post(f"{base}/api/v1/registrations", json=self.body, timeout=10,
                                    headers={"Authorization": f"Bearer {token}"})
            created.raise_for_status()
            self.users.append((token, created.json()["id"]))

    def run_pairs(self, name: str, kind: str, paths: list[str]) -> dict[str, Any]:
        pairs = self.work / f"{name}.txt"
        pairs.write_text("".join(f"{token} {path}\n" for (token, _), path in zip(
            self.users, paths, strict=True)))
        argv = ["wrk", "-t1", f"-c{self.args.users}", f"-d{self.args.seconds}s", "--latency",
                "--timeout", "10s", "-s", str(HERE / "users.lua"),
                f"http://127.0.0.1:{self.gateway_port}"]
        out = subprocess.run(argv, capture_output=True, text=True, check=True, env={
            **os.environ, "BENCH_PAIRS_FILE": str(pairs), "BENCH_KIND": kind}).stdout
        row = parse_wrk(out)
        row["p95_ms"] = int(re.search(r"p95_us (\d+)", out).group(1)) / 1000
        return row

    def measure(self) -> dict[str, dict[str, Any]]:
        ids = [registration_id for _, registration_id in self.users]
        n = len(ids)
        plan = {
            "/dashboard": ("cookie", ["/dashboard"] * n),
            "GET /api/v1/registrations": ("bearer", ["/api/v1/registrations"] * n),
            "/registration/{id}/organisation": ("cookie", [f"/registration/{i}/organisation"
                                                           for i in ids]),
            "GET /api/v1/registrations/{id}": ("bearer", [f"/api/v1/registrations/{i}"
                                                          for i in ids]),
            "/partnerships": ("cookie", ["/partnerships"] * n),
            "GET /api/v1/partnerships": ("bearer", ["/api/v1/partnerships"] * n),
        }
        seconds = self.args.seconds
        self.args.seconds = 2
        for kind, paths in plan.values():  # warm-up
            self.run_pairs("warm", kind, paths)
        self.args.seconds = seconds
        return {name: self.run_pairs(f"run{index}", kind, paths)
                for index, (name, (kind, paths)) in enumerate(plan.items())}

    def first_load(self) -> dict[str, int]:
        """Bytes on the wire for `/` and the CSS and JS it links, gzip accepted."""
        base = f"http://127.0.0.1:{self.gateway_port}"
        sizes: dict[str, int] = {}
        home = requests.get(f"{base}/", headers={"Accept-Encoding": "gzip"}, stream=True,
                            timeout=10)
        raw = home.raw.read()
        sizes["/"] = len(raw)
        html = gzip.decompress(raw).decode() if home.headers.get(
            "Content-Encoding") == "gzip" else raw.decode()
        for link in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
            asset = requests.get(base + link, headers={"Accept-Encoding": "gzip"}, stream=True,
                                 timeout=10)
            sizes[link.split("?")[0]] = len(asset.raw.read())
        return sizes


def report(results: dict[str, dict[str, Any]], sizes: dict[str, int], args: Any) -> bool:
    load = os.getloadavg()
    print(f"\nweb benchmark: wrk -t1 -c{args.users} ({args.users} signed-in users), "
          f"-d{args.seconds}s, {os.cpu_count()} cores, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'request':<36}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'target':>10}")
    ok = True
    for name, row in results.items():
        verdict = ""
        if name.startswith("/"):
            passed = row["p95_ms"] <= PAGE_P95_MS and row["errors"] == 0
            ok = ok and passed
            verdict = f"{'<=' if passed else '>'}{PAGE_P95_MS} ms"
        print(f"{name:<36}{row['rps']:>8.0f}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}"
              f"{row['p99_ms']:>9.1f}{row['errors']:>8}{verdict:>10}")
    total = sum(sizes.values())
    print("first page load (/ with its CSS and JS, gzip): " + ", ".join(
        f"{name} {size / 1024:.1f} KB" for name, size in sizes.items())
          + f"; total {total / 1024:.1f} KB (target <= {FIRST_LOAD_BYTES // 1024} KB)")
    return ok and total <= FIRST_LOAD_BYTES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    args.post_accounts = args.users
    args.connections = args.users
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    bench = WebBench(args)
    try:
        bench.setup()
        bench.start()
        results = bench.measure()
        sizes = bench.first_load()
    finally:
        bench.teardown()
    ok = report(results, sizes, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "web.json").write_text(json.dumps({"args": vars(args), "results": results,
                                              "first_load_bytes": sizes}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
