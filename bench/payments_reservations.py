"""Reservation benchmark: N parallel financial-agreement reservations against one budget that
fits half of them, on PostgreSQL (the repository's conditional update).

`python -m bench.payments_reservations [--attempts 200] [--connections 25] [--dsn postgresql://...]`

Creates a scratch database, runs the attempts from green threads (at most `connections`
at once: the server's max_connections is shared), and prints how many succeeded, the time
for all of them to settle, the per-reservation latency and whether anything was overspent,
next to the same reservations made one after another on one connection.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import argparse  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import psycopg2  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from services.payments import repository  # noqa: E402
from services.payments.exceptions import InsufficientBudget  # noqa: E402
from services.payments.models import Base  # noqa: E402

AMOUNT = 39_000
P = "bench-partnership"


def admin(dsn: str, sql: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def run(engine, attempts: int, parallel: bool) -> tuple[int, float, list[float]]:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(Base.metadata.tables)))
    with Session(engine) as session, session.begin():
        repository.set_budget(session, P, AMOUNT * (attempts // 2), "budget", datetime.now(UTC))
    latencies: list[float] = []
    succeeded = []

    def reserve(i: int) -> None:
        start = time.perf_counter()
        try:
            with Session(engine) as session, session.begin():
                repository.reserve(session, P, f"x{i}", AMOUNT, f"evt-{i}", datetime.now(UTC))
            succeeded.append(i)
        except InsufficientBudget:
            pass
        latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    if parallel:
        threads = [threading.Thread(target=reserve, args=(i,)) for i in range(attempts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for i in range(attempts):
            reserve(i)
    return len(succeeded), time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--connections", type=int, default=25)
    parser.add_argument("--dsn", default=os.environ.get("TEST_PG_DSN", "postgresql://postgres@localhost:5432/postgres"))
    args = parser.parse_args()
    name = f"cxc_bench_payments_{secrets.token_hex(4)}"
    admin(args.dsn, f'CREATE DATABASE "{name}"')
    base = args.dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1)
    engine = create_engine(f"{base}/{name}", pool_size=args.connections, max_overflow=0, pool_timeout=300)
    try:
        Base.metadata.create_all(engine)
        print(f"{args.attempts} reservations of {AMOUNT} cents against a budget for {args.attempts // 2}")
        print(f"{'way':34} {'ok':>5} {'settle s':>9} {'p50 ms':>8} {'p95 ms':>8} {'overspent':>10}")
        for label, parallel in ((f"parallel ({args.connections} connections)", True),
                                ("one after another (1 connection)", False)):
            ok, seconds, latencies = run(engine, args.attempts, parallel)
            with Session(engine) as session:
                totals = repository.balance(session, P)
                overspent = totals.available_cents < 0 or totals != repository.ledger_balance(session, P)
            p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
            print(f"{label:34} {ok:5d} {seconds:9.3f} {statistics.median(latencies) * 1000:8.1f} "
                  f"{p95:8.1f} {str(overspent):>10}")
    finally:
        engine.dispose()
        admin(args.dsn, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        admin(args.dsn, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
