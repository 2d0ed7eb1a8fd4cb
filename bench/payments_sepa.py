"""SEPA file benchmark: a pain.001 batch of N payouts built with sepaxml, next to a plain loop
that only formats the same data as XML text, so the library's overhead is visible.

`python -m bench.payments_sepa [--payouts 10000] [--repeat 3]`

Prints, for each way: best wall time of `repeat` runs and peak Python memory (tracemalloc, one
separate run) — and for sepaxml also the share spent checking IBANs (schwifty) and validating
against the XSD (lxml). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape

from schwifty import IBAN

from services.payments.money import decimal_text
from services.payments.sepa import (
    CreditTransfer,
    DebtorAccount,
    build_credit_transfer_file,
    validate_pain001,
)

DEBTOR = DebtorAccount("Agri-Food Excellence Partnership", "PT50000201231234567890154", "BPIAPTPL")
EXECUTION = date(2026, 12, 1)


def synthetic_transfers(count: int, seed: int = 7) -> list[CreditTransfer]:
    rng = random.Random(seed)
    banks = [("DE", "37040044", "COBADEFFXXX"), ("DE", "50010517", None), ("NL", "ABNA", "ABNANL2A"),
             ("NL", "INGB", None)]
    transfers = []
    for i in range(count):
        country, bank, bic = rng.choice(banks)
        iban = IBAN.generate(country, bank_code=bank, account_code=f"{rng.randrange(10**9):010d}")
        amount = rng.choice([78_000, 39_000, 55_000, 27_500])
        reference = f"CXC-2026-{i:06d}"
        transfers.append(CreditTransfer(f"payout-{i}", reference, f"Visiting organisation {i}",
                                        iban.compact, amount, f"ClusterXchange lump sum {reference}", bic))
    return transfers


def plain_loop(transfers: list[CreditTransfer]) -> bytes:
    """The same transactions formatted by hand: no checks, no tree, no validation."""
    total = sum(t.amount_cents for t in transfers)
    parts = ['<?xml version="1.0" encoding="UTF-8"?><Document><CstmrCdtTrfInitn><GrpHdr><MsgId>M</MsgId>',
             f"<NbOfTxs>{len(transfers)}</NbOfTxs><CtrlSum>{decimal_text(total)}</CtrlSum></GrpHdr><PmtInf>"]
    for t in transfers:
        parts.append(
            f"<CdtTrfTxInf><PmtId><EndToEndId>{t.end_to_end_id}</EndToEndId></PmtId>"
            f'<Amt><InstdAmt Ccy="EUR">{decimal_text(t.amount_cents)}</InstdAmt></Amt>'
            f"<Cdtr><Nm>{escape(t.creditor_name)}</Nm></Cdtr><CdtrAcct><Id><IBAN>{t.iban}</IBAN></Id></CdtrAcct>"
            f"<RmtInf><Ustrd>{escape(t.remittance)}</Ustrd></RmtInf></CdtTrfTxInf>")
    parts.append("</PmtInf></CstmrCdtTrfInitn></Document>")
    return "".join(parts).encode()


def with_sepaxml(transfers: list[CreditTransfer]) -> bytes:
    return build_credit_transfer_file(DEBTOR, transfers, EXECUTION, "CXCBENCH-1").xml


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payouts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    transfers = synthetic_transfers(args.payouts)
    xml = with_sepaxml(transfers)  # warm-up: XSD compiled, modules imported
    rows = [
        ("sepaxml + schwifty + XSD", timed(lambda: with_sepaxml(transfers), args.repeat),
         peak_mb(lambda: with_sepaxml(transfers)), len(xml)),
        ("plain loop (format only)", timed(lambda: plain_loop(transfers), args.repeat),
         peak_mb(lambda: plain_loop(transfers)), len(plain_loop(transfers))),
    ]
    iban_s = timed(lambda: [IBAN(t.iban) for t in transfers], args.repeat)
    xsd_s = timed(lambda: validate_pain001(xml), args.repeat)
    print(f"SEPA pain.001 for {args.payouts} payouts (best of {args.repeat})")
    print(f"{'way':28} {'seconds':>9} {'peak MB':>9} {'file KB':>9}")
    for name, seconds, peak, size in rows:
        print(f"{name:28} {seconds:9.3f} {peak:9.1f} {size / 1024:9.0f}")
    print(f"  of which IBAN checks {iban_s:.3f} s, XSD validation {xsd_s:.3f} s")
    print(f"overhead: x{rows[0][1] / rows[1][1]:.0f} time, x{rows[0][2] / rows[1][2]:.0f} peak memory")


if __name__ == "__main__":
    main()
