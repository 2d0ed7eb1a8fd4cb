"""The money of an exchange over HTTP: the budget, the claim and its evidence, the approved
payout, the payment run and its SEPA file, and the exchange closed once paid."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from services.payments.sepa import validate_pain001
from tests.e2e.test_exchange_journey import (
    _live_the_stay,
    _next_weekday,
    _plan,
    _signed_pt_exchange,
    _stranger,
)
from tests.e2e.test_matching_journey import _eventually
from tests.helpers import MINIMAL_PDF

pytestmark = pytest.mark.e2e


def _reported_exchange(api: Any, db_engines: Any, agreements_container: Any, admin: dict[str, str]
                       ) -> tuple[str, str, dict[str, dict[str, str]], str]:
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    exchange_id, path, parties, texcirc = _signed_pt_exchange(api, db_engines, _plan(start))
    budget = api.put(f"/api/v1/budgets/{texcirc}", json={"budget_cents": 100_000}, headers=admin)
    assert budget.status_code == 200 and budget.json()["available_cents"] == 100_000, budget.text
    fa_path = f"{path}/financial-agreement"
    account = api.put(f"{fa_path}/bank-account", json={"account_holder": "Textil Cluster Süd",
                                                       "iban": "DE89 3704 0044 0532 0130 00"},
                      headers=parties["visitor"])
    assert account.status_code == 200, account.text
    api.post(f"{fa_path}/signatures", headers=parties["visitor"])
    ready = api.post(f"{fa_path}/signatures", headers=parties["vop"])
    assert ready.json()["status"] == "ready", ready.text
    assert _eventually(lambda: api.get(f"/api/v1/budgets/{texcirc}", headers=parties["vop"]
                                       ).json()["reserved_cents"] == 78_000, 5)
    _live_the_stay(db_engines, agreements_container, exchange_id)
    report = {"outcomes": [{"objective": "learn", "achieved": "yes"}], "satisfaction": 5}
    reported = api.post(f"{path}/closing-report", json=report, headers=parties["visitor"])
    assert reported.json()["status"] == "reported", reported.text
    return exchange_id, path, parties, texcirc


def test_a_reported_exchange_is_claimed_approved_batched_paid_and_closed(
        api, db_engines, tokens, agreements_container, lump_sum_table):
    admin = {"Authorization": f"Bearer {tokens.issue(str(uuid.uuid4()), ['admin'], None, None)[0]}"}
    exchange_id, path, parties, texcirc = _reported_exchange(api, db_engines, agreements_container,
                                                             admin)
    visitor, host, vop = parties["visitor"], parties["host"], parties["vop"]
    _, stranger = _stranger(api)
    claim_path = f"/api/v1/payments/{exchange_id}"
    assert _eventually(lambda: api.get(claim_path, headers=visitor).status_code == 200, 5)
    assert api.get(claim_path, headers=stranger).status_code == 404
    assert api.get(claim_path, headers=host).status_code == 404

    refused = api.post(f"{claim_path}/evidence", data=MINIMAL_PDF, headers={
        **stranger, "Content-Type": "application/pdf"})
    assert refused.status_code == 404
    uploaded = api.post(f"{claim_path}/evidence", data=MINIMAL_PDF, headers={
        **visitor, "Content-Type": "application/pdf", "X-Filename": "boarding pass.pdf"})
    assert uploaded.status_code == 201, uploaded.text
    evidence = uploaded.json()["evidence"][0]
    download = api.get(f"{claim_path}/evidence/{evidence['id']}", headers=vop)
    assert download.status_code == 200 and download.content == MINIMAL_PDF
    assert "boarding pass.pdf" in download.headers["Content-Disposition"]
    assert api.get(f"{claim_path}/evidence/{evidence['id']}", headers=stranger).status_code == 404

    submitted = api.post(f"{claim_path}/submit", headers={**visitor,
                                                         "If-Match": uploaded.headers["ETag"]})
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted", submitted.text
    key = {"Idempotency-Key": str(uuid.uuid4())}
    approvals = [api.post(f"{claim_path}/approve", json={"comment": "All there."},
                          headers={**vop, **key}) for _ in range(2)]
    assert [a.status_code for a in approvals] == [200, 200], approvals[-1].text
    assert approvals[1].headers.get("Idempotent-Replayed") == "true"
    payout = approvals[0].json()["payout"]
    assert payout["amount_cents"] == 78_000 and payout["state"] == "approved"
    payouts = api.get("/api/v1/payouts", headers=vop)
    assert [p["id"] for p in payouts.json()] == [payout["id"]]
    assert api.get(f"/api/v1/payouts/{payout['id']}", headers=visitor).status_code == 200
    assert api.get("/api/v1/payouts?overdue=true", headers=vop).json() == []

    debtor = api.put(f"/api/v1/partnerships/{texcirc}/debtor-account", json={
        "name": "TEXCIRC Cluster", "iban": "FR14 2004 1010 0505 0001 3M02 606"}, headers=admin)
    assert debtor.status_code == 200, debtor.text
    batch_key = {"Idempotency-Key": str(uuid.uuid4())}
    batches = [api.post("/api/v1/payment-batches", json={}, headers={**vop, **batch_key})
               for _ in range(2)]
    assert [b.status_code for b in batches] == [201, 201], batches[0].text
    batch = batches[0].json()
    assert batches[1].json()["id"] == batch["id"] and batch["total_cents"] == 78_000
    batch_path = batches[0].headers["Location"]
    assert api.get(batch_path, headers=stranger).status_code == 404
    assert [b["id"] for b in api.get("/api/v1/payment-batches", headers=vop).json()] == [batch["id"]]

    sepa = api.get(f"{batch_path}/sepa.xml", headers=vop)
    assert sepa.status_code == 200, sepa.text
    assert sepa.headers["Content-Type"].startswith("application/xml")
    assert sepa.headers["Content-Disposition"].startswith("attachment")
    validate_pain001(sepa.content)
    root = etree.fromstring(sepa.content)
    assert root.findtext(".//{*}GrpHdr/{*}CtrlSum") == "780.00"
    amounts = [Decimal(a) for a in root.xpath("//*[local-name()='InstdAmt']/text()")]
    assert amounts == [Decimal("780.00")]

    paid_key = {"Idempotency-Key": str(uuid.uuid4())}
    paid = api.post(f"{batch_path}/mark-paid", headers={**vop, **paid_key})
    assert paid.status_code == 200 and paid.json()["state"] == "settled", paid.text
    assert api.get(f"/api/v1/payouts/{payout['id']}", headers=vop).json()["state"] == "paid"
    assert _eventually(lambda: api.get(path, headers=visitor).json()["status"] == "closed", 10)
    budget = api.get(f"/api/v1/budgets/{texcirc}", headers=vop).json()
    assert (budget["paid_cents"], budget["reserved_cents"]) == (78_000, 0)


def test_the_lump_sum_table_and_quote_are_public_and_only_admins_change_them(
        api, tokens, lump_sum_table):
    table = api.get("/api/v1/lump-sums")
    assert table.status_code == 200 and any(r["country"] == "PT" for r in table.json()["rates"])
    quote = api.get("/api/v1/lump-sums/quote?host_country=PT&working_days=5&distance_km=1500")
    assert quote.status_code == 200 and quote.json()["amount_cents"] == 78_000, quote.text
    assert api.get("/api/v1/lump-sums/quote?host_country=PT").status_code == 422
    admin = {"Authorization": f"Bearer {tokens.issue(str(uuid.uuid4()), ['admin'], None, None)[0]}"}
    _, participant = _stranger(api)
    change = {"country": "PT", "amount_cents": 80_000, "reason": "New call."}
    assert api.post("/api/v1/lump-sums", json=change, headers=participant).status_code == 403
    key = {"Idempotency-Key": str(uuid.uuid4())}
    changes = [api.post("/api/v1/lump-sums", json=change, headers={**admin, **key})
               for _ in range(2)]
    assert [c.status_code for c in changes] == [200, 200], changes[0].text
    assert changes[1].json() == changes[0].json()
    assert changes[0].json()["change"]["new_amount_cents"] == 80_000
    assert changes[0].json()["rate"]["valid_from"] == date.today().isoformat()
    trail = api.get("/api/v1/lump-sums/changes?country=PT", headers=admin)
    assert [c["new_amount_cents"] for c in trail.json()].count(80_000) == 1
    assert api.get("/api/v1/lump-sums/changes", headers=participant).status_code == 403
