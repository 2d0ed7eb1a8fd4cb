"""An exchange over HTTP: from an accepted contact to a commitment signed by four parties, and
the rules that refuse what the scheme does not allow."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.agreements.sealing import CERT_FILE, check_seals
from tests.e2e.test_matching_journey import _accepted, _eventually
from tests.helpers import login, make_account, partnership_id, unique_email

pytestmark = pytest.mark.e2e


def _contact_point(api: Any, db_engines: Any, code: str) -> dict[str, str]:
    email = unique_email(f"cp-{code.lower()}")
    make_account(db_engines["registration"], email, ["partnership_contact"], code)
    return login(api, email)


def _next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _plan(start: date, days: int = 5) -> dict[str, Any]:
    end = start + timedelta(days=days - 1)
    return {
        "mode": "physical", "start_date": start.isoformat(), "end_date": end.isoformat(),
        "travel_days_before": 0, "travel_days_after": 0, "objectives": ["learn"],
        "activity_types": ["knowledge_sharing", "networking"], "languages": ["en"],
        "action_plan": [{"date": start.isoformat(), "title": "Visit of the recycling plants",
                         "description": "Sorting lines and fibre recovery"},
                        {"date": (start + timedelta(days=1)).isoformat(),
                         "title": "Workshop with the cluster's members"}],
        "expected_outcomes": "A joint project on textile recycling.",
        "responsibilities": {"visitor": "Present our circular programme.",
                             "host": "Organise the visits and the workshop."},
    }


@pytest.fixture
def pair(api, db_engines):
    """An accepted visitor in PT (GREENMOB) and host in DE (TEXCIRC) with an accepted contact."""
    vop = _contact_point(api, db_engines, "GREENMOB")
    hop = _contact_point(api, db_engines, "TEXCIRC")
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    texcirc = partnership_id(db_engines["registration"], "TEXCIRC")
    visitor, visitor_reg = _accepted(api, vop, greenmob, "PT", ["visitor"], "Circular textiles.")
    host, host_reg = _accepted(api, hop, texcirc, "DE", ["host"], "Textile recycling plants.")
    assert _eventually(lambda: api.get(f"/api/v1/catalogue/{host_reg}",
                                       headers=visitor).status_code == 200)
    asked = api.post("/api/v1/contacts", json={"registration_id": host_reg, "message": "March?"},
                     headers=visitor)
    assert asked.status_code == 201, asked.text
    contact_id = asked.json()["id"]
    assert api.post(f"/api/v1/contacts/{contact_id}/accept", headers=host).status_code == 200
    return {"visitor": visitor, "host": host, "vop": vop, "hop": hop, "contact_id": contact_id,
            "visitor_reg": visitor_reg, "host_reg": host_reg}


def _midweek_holiday(country: str) -> date:
    """The next public holiday of `country` on a Tuesday, Wednesday or Thursday, a month away."""
    import holidays

    soon = date.today() + timedelta(days=30)
    calendar = holidays.country_holidays(country, years=range(soon.year, soon.year + 3))
    return min(day for day in calendar if day >= soon and day.weekday() in (1, 2, 3))


def _visitors_matching(api: Any, pair: dict[str, Any]) -> list[str]:
    found = api.get(f"/api/v1/matches?registration_id={pair['host_reg']}", headers=pair["host"])
    assert found.status_code == 200, found.text
    return [m["registration_id"] for m in found.json()]


def _propose(api: Any, pair: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    proposed = api.post("/api/v1/exchanges", json={"contact_id": pair["contact_id"], "plan": plan},
                        headers={**pair["visitor"], "Idempotency-Key": "propose-1"})
    assert proposed.status_code == 201, proposed.text
    return proposed.json()


def test_an_exchange_goes_from_an_accepted_contact_to_four_signatures(api, pair, tmp_path, config):
    start = _next_weekday(date.today() + timedelta(days=60), 0)  # a Monday
    exchange = _propose(api, pair, _plan(start))
    assert exchange["status"] == "proposed" and exchange["reference"].startswith("CXC-")
    assert exchange["visitor"]["country"] == "PT" and exchange["host"]["country"] == "DE"
    again = api.post("/api/v1/exchanges", json={"contact_id": pair["contact_id"], "plan": _plan(start)},
                     headers={**pair["visitor"], "Idempotency-Key": "propose-1"})
    assert again.status_code == 201 and again.json()["id"] == exchange["id"]
    path = f"/api/v1/exchanges/{exchange['id']}"

    assert api.post(f"{path}/confirm", headers=pair["visitor"]).status_code == 403
    confirmed = api.post(f"{path}/confirm", headers=pair["host"])
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "draft"
    # The visitor has its one visit: nobody is offered it as a visitor any more.
    assert _eventually(lambda: pair["visitor_reg"] not in _visitors_matching(api, pair), 5)

    days = api.get(f"{path}/working-days?start_date={start.isoformat()}"
                   f"&end_date={(start + timedelta(days=6)).isoformat()}", headers=pair["host"])
    assert days.status_code == 200 and days.json()["working_days"] == 5
    assert {d["reason"] for d in days.json()["excluded"]} == {"weekend"}

    submitted = api.post(f"{path}/submit", headers=pair["visitor"])
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"

    first = api.post(f"{path}/validation", json={"decision": "approve"}, headers=pair["vop"])
    assert first.status_code == 200 and first.json()["status"] == "submitted"
    assert api.post(f"{path}/validation", json={"decision": "approve"},
                    headers=pair["visitor"]).status_code == 403
    validated = api.post(f"{path}/validation", json={"decision": "approve"}, headers=pair["hop"])
    assert validated.json()["status"] == "validated"

    pdf = api.get(f"{path}/commitment.pdf", headers=pair["visitor"])
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    sha = hashlib.sha256(pdf.content).hexdigest()
    assert pdf.headers["X-Content-SHA256"] == sha == validated.json()["document"]["sha256"]
    (tmp_path / "c.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert exchange["reference"] in text and "Visit of the recycling plants" in text
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(tmp_path / "c.pdf"), str(tmp_path / "page")],
                   check=True)
    assert list(tmp_path.glob("page*.png"))

    refused = api.post(f"{path}/signatures", json={"party": "vo", "document_sha256": sha},
                       headers=pair["host"])
    assert refused.status_code == 403
    stale = api.post(f"{path}/signatures", json={"document_sha256": "0" * 64}, headers=pair["host"])
    assert stale.status_code == 409
    for who in ("visitor", "host", "vop", "hop"):
        signed = api.post(f"{path}/signatures", json={"document_sha256": sha},
                          headers={**pair[who], "User-Agent": f"test-{who}"})
        assert signed.status_code == 200, signed.text
    final = signed.json()
    assert final["status"] == "signed"
    assert all(s["signed"] and s["document_sha256"] == sha for s in final["signatures"])

    sealed = api.get(f"{path}/commitment.pdf?signed=true", headers=pair["hop"]).content
    assert sealed.startswith(pdf.content)
    platform_cert = (Path(config["AGREEMENTS"]["sealing_dir"]) / CERT_FILE).read_bytes()
    checks = check_seals(sealed, platform_cert)
    assert [c.field_name for c in checks] == ["Sig_VO", "Sig_HO", "Sig_VOP", "Sig_HOP"]
    assert all(c.sound and c.intact and c.valid and c.trusted for c in checks)

    timeline = api.get(f"{path}/timeline", headers=pair["vop"]).json()
    assert [t["action"] for t in timeline][:3] == ["propose", "confirm", "submit"]

    _email, stranger = _stranger(api)
    assert api.get(path, headers=stranger).status_code == 404
    assert api.get(f"{path}/commitment.pdf", headers=stranger).status_code == 404


def _stranger(api: Any) -> tuple[str, dict[str, str]]:
    from tests.helpers import sign_up

    return sign_up(api)


def test_an_edit_after_validation_voids_the_signatures(api, pair):
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    exchange = _propose(api, pair, _plan(start))
    path = f"/api/v1/exchanges/{exchange['id']}"
    api.post(f"{path}/confirm", headers=pair["host"])
    api.post(f"{path}/submit", headers=pair["visitor"])
    api.post(f"{path}/validation", json={"decision": "approve"}, headers=pair["vop"])
    validated = api.post(f"{path}/validation", json={"decision": "approve"}, headers=pair["hop"]).json()
    sha = validated["document"]["sha256"]
    assert api.post(f"{path}/signatures", json={"document_sha256": sha},
                    headers=pair["visitor"]).status_code == 200
    current = api.get(path, headers=pair["host"])
    assert api.patch(path, json={"plan": {"expected_outcomes": "Two joint projects."}},
                     headers=pair["host"]).status_code == 428
    edited = api.patch(path, json={"plan": {"expected_outcomes": "Two joint projects."}},
                       headers={**pair["host"], "If-Match": current.headers["ETag"]})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["status"] == "submitted"
    assert body["content_version"] == validated["content_version"] + 1
    assert not any(s["signed"] for s in body["signatures"])
    assert api.patch(path, json={"plan": {"expected_outcomes": "Stale."}},
                     headers={**pair["host"], "If-Match": current.headers["ETag"]}).status_code == 409


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"days": 2}, "end_date", "needs at least 3"),
    # The day before to the day after a German public holiday (the host's country).
    ({"around_holiday": "DE", "days": 3}, "end_date", "2 working days in DE"),
    ({"days": 35}, "end_date", "at most one month"),
    ({"outcomes": "An internship for our junior designer."}, "expected_outcomes", "internship"),
])
def test_a_plan_that_breaks_a_rule_is_refused_naming_it(api, pair, change, field, words):
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    if "around_holiday" in change:
        start = _midweek_holiday(change["around_holiday"]) - timedelta(days=1)
    plan = _plan(start, change.get("days", 5))
    if "outcomes" in change:
        plan["expected_outcomes"] = change["outcomes"]
    exchange = _propose(api, pair, plan)
    path = f"/api/v1/exchanges/{exchange['id']}"
    api.post(f"{path}/confirm", headers=pair["host"])
    refused = api.post(f"{path}/submit", headers=pair["visitor"])
    assert refused.status_code == 422
    assert any(words in message for message in refused.json()["errors"][field])


def test_an_organisation_visits_at_most_once(api, pair):
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    _propose(api, pair, _plan(start))
    second = api.post("/api/v1/exchanges", json={"contact_id": pair["contact_id"]},
                      headers=pair["visitor"])
    assert second.status_code == 409 and "at most once" in second.json()["detail"]


def test_a_same_country_pair_is_refused(api, db_engines):
    cp = _contact_point(api, db_engines, "GREENMOB")
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    visitor, _ = _accepted(api, cp, greenmob, "PT", ["visitor"], "Circular textiles.")
    _host, host_reg = _accepted(api, cp, greenmob, "PT", ["host"], "Recycling plants.")
    _eventually(lambda: api.get(f"/api/v1/catalogue/{host_reg}", headers=visitor).status_code == 200)
    refused = api.post("/api/v1/exchanges", json={"counterpart_registration_id": host_reg},
                       headers=visitor)
    assert refused.status_code == 422
    assert "another country" in refused.json()["errors"]["host_registration_id"][0]


def test_a_declined_proposal_gives_the_visitor_its_visit_back(api, pair):
    assert _eventually(lambda: pair["visitor_reg"] in _visitors_matching(api, pair))
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    exchange = _propose(api, pair, _plan(start))
    assert _eventually(lambda: pair["visitor_reg"] not in _visitors_matching(api, pair), 5)
    declined = api.post(f"/api/v1/exchanges/{exchange['id']}/decline",
                        json={"comment": "Not this spring."}, headers=pair["host"])
    assert declined.status_code == 200 and declined.json()["status"] == "cancelled"
    assert _eventually(lambda: pair["visitor_reg"] in _visitors_matching(api, pair), 5)
    again = api.post("/api/v1/exchanges", json={"contact_id": pair["contact_id"]},
                     headers=pair["visitor"])
    assert again.status_code == 201, again.text


def _validated(api: Any, pair: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    exchange = _propose(api, pair, _plan(start))
    path = f"/api/v1/exchanges/{exchange['id']}"
    api.post(f"{path}/confirm", headers=pair["host"])
    api.post(f"{path}/submit", headers=pair["visitor"])
    api.post(f"{path}/validation", json={"decision": "approve"}, headers=pair["vop"])
    validated = api.post(f"{path}/validation", json={"decision": "approve"}, headers=pair["hop"])
    assert validated.json()["status"] == "validated", validated.text
    return path, validated.json()


def test_signed_copies_can_be_uploaded_instead_of_signing_in_the_platform(api, pair, tmp_path,
                                                                          config):
    from services.agreements.sealing import ensure_identity, seal
    from tests.helpers import MINIMAL_PDF, exe_bytes

    path, _ = _validated(api, pair)
    original = api.get(f"{path}/commitment.pdf", headers=pair["hop"]).content
    elsewhere = ensure_identity(tmp_path / "qualified", common_name="Hanna Host, qualified")
    signed_elsewhere = seal(original, elsewhere, "Sig_Q", "Hanna Host", "Signed with my card")

    upload = f"{path}/signatures/hop/document"
    assert api.put(f"{path}/signatures/vo/document", data=signed_elsewhere,
                   headers={**pair["hop"], "Content-Type": "application/pdf"}).status_code == 403
    assert api.put(upload, data=exe_bytes(),
                   headers={**pair["hop"], "Content-Type": "application/pdf"}).status_code == 415
    done = api.put(upload, data=signed_elsewhere,
                   headers={**pair["hop"], "Content-Type": "application/pdf"})
    assert done.status_code == 200, done.text
    hop = next(s for s in done.json()["signatures"] if s["party"] == "hop")
    assert hop["method"] == "signed_pdf" and "Hanna Host, qualified" in hop["external_signer"]

    scan = api.put(f"{path}/signatures/vop/document", data=MINIMAL_PDF,
                   headers={**pair["vop"], "Content-Type": "application/pdf"})
    assert scan.status_code == 200, scan.text
    vop = next(s for s in scan.json()["signatures"] if s["party"] == "vop")
    assert vop["method"] == "paper_scan" and vop["external_signer"] is None
    again = api.put(f"{path}/signatures/vop/document", data=MINIMAL_PDF,
                    headers={**pair["vop"], "Content-Type": "application/pdf"})
    assert again.status_code == 409

    sealed = api.get(f"{path}/commitment.pdf?signed=true", headers=pair["visitor"]).content
    platform_cert = (Path(config["AGREEMENTS"]["sealing_dir"]) / CERT_FILE).read_bytes()
    assert sealed.startswith(original)
    assert [c.field_name for c in check_seals(sealed, platform_cert)] == ["Sig_HOP", "Sig_VOP"]


def _accepted_at(api: Any, contact: dict[str, str], partnership: str, country: str,
                 roles: list[str], city: str, latitude: float, longitude: float
                 ) -> tuple[dict[str, str], str]:
    from tests.e2e.test_registration_journey import _draft_with_cv
    from tests.helpers import registration_payload, sign_up

    _email, headers = sign_up(api)
    payload = registration_payload(partnership, country=country, roles=roles)
    payload["organisation"].update(city=city, latitude=latitude, longitude=longitude)
    payload["preferences"]["target_countries"] = ["PT", "DE"]
    created = api.post("/api/v1/registrations", json=payload, headers=headers)
    assert created.status_code == 201, created.text
    reg = _draft_with_cv(api, headers, partnership, existing=created.json())
    assert api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers).status_code == 200
    assert api.post(f"/api/v1/registrations/{reg['id']}/assessment", json={"decision": "accept"},
                    headers=contact).status_code == 200
    return headers, reg["id"]


def _signed_pt_exchange(api: Any, db_engines: Any, plan: dict[str, Any]
                        ) -> tuple[str, str, dict[str, dict[str, str]], str]:
    """A German visitor (TEXCIRC) and a Portuguese host (GREENMOB), their commitment signed."""
    vop, hop = _contact_point(api, db_engines, "TEXCIRC"), _contact_point(api, db_engines, "GREENMOB")
    texcirc = partnership_id(db_engines["registration"], "TEXCIRC")
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    visitor, visitor_reg = _accepted_at(api, vop, texcirc, "DE", ["visitor"], "Munich", 48.14, 11.58)
    host, host_reg = _accepted_at(api, hop, greenmob, "PT", ["host"], "Porto", 41.15, -8.61)
    assert _eventually(lambda: api.get(f"/api/v1/catalogue/{host_reg}",
                                       headers=visitor).status_code == 200)
    parties = {"visitor": visitor, "host": host, "vop": vop, "hop": hop}

    proposed = api.post("/api/v1/exchanges", json={"counterpart_registration_id": host_reg,
                                                   "plan": plan}, headers=visitor)
    assert proposed.status_code == 201, proposed.text
    path = f"/api/v1/exchanges/{proposed.json()['id']}"
    api.post(f"{path}/confirm", headers=host)
    assert api.post(f"{path}/submit", headers=visitor).status_code == 200
    for who in ("vop", "hop"):
        validated = api.post(f"{path}/validation", json={"decision": "approve"}, headers=parties[who])
    sha = validated.json()["document"]["sha256"]
    for who in ("visitor", "host", "vop", "hop"):
        signed = api.post(f"{path}/signatures", json={"document_sha256": sha}, headers=parties[who])
    assert signed.json()["status"] == "signed", signed.text
    return proposed.json()["id"], path, parties, texcirc


def _live_the_stay(db_engines: Any, agreements_container: Any, exchange_id: str) -> None:
    """The stay happened: its dates move into the past and the timer runs."""
    from nameko.testing.services import entrypoint_hook
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from services.agreements.models import Exchange

    with Session(db_engines["agreements"]) as session:
        session.execute(update(Exchange).where(Exchange.id == exchange_id).values(
            start_date=(date.today() - timedelta(days=6)).isoformat(),
            end_date=(date.today() - timedelta(days=2)).isoformat()))
        session.commit()
    with entrypoint_hook(agreements_container, "move_stays") as move:
        assert move() == {"started": 1, "completed": 1}


def test_the_financial_agreement_makes_the_exchange_ready_and_the_stay_runs_to_reported(
        api, db_engines, config, tokens, agreements_container, lump_sum_table):
    from nameko.standalone.rpc import ClusterRpcProxy

    start = _next_weekday(date.today() + timedelta(days=60), 0)
    exchange_id, path, parties, texcirc = _signed_pt_exchange(api, db_engines, _plan(start))
    visitor, host, vop = parties["visitor"], parties["host"], parties["vop"]
    admin_token, _ = tokens.issue(str(uuid.uuid4()), ["admin"], None, None)
    with ClusterRpcProxy(config, context_data={"auth_token": admin_token}) as rpc:
        rpc.payments.set_budget(texcirc, {"budget_cents": 100_000})

    assert api.get(f"{path}/financial-agreement", headers=host).status_code == 404
    agreement = api.get(f"{path}/financial-agreement", headers=visitor)
    assert agreement.status_code == 200, agreement.text
    assert agreement.json()["amount_cents"] == 78_000  # five working days in Portugal, far apart
    fa_path = f"{path}/financial-agreement"
    assert api.post(f"{fa_path}/signatures", headers=visitor).status_code == 409  # no account yet
    assert api.put(f"{fa_path}/bank-account", json={"account_holder": "Textil Cluster Süd",
                                                    "iban": "DE89 3704 0044 0532 0130 00"},
                   headers=host).status_code in (403, 404)
    account = api.put(f"{fa_path}/bank-account", json={"account_holder": "Textil Cluster Süd",
                                                       "iban": "DE89 3704 0044 0532 0130 00"},
                      headers=visitor)
    assert account.status_code == 200, account.text
    assert account.json()["iban_masked"].endswith("3000") and "0532" not in account.json()["iban_masked"]
    assert api.post(f"{fa_path}/signatures", headers=visitor).json()["status"] == "signed"
    ready = api.post(f"{fa_path}/signatures", headers=vop)
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text

    with ClusterRpcProxy(config, context_data={"auth_token": admin_token}) as rpc:
        assert _eventually(lambda: rpc.payments.get_budget(texcirc)["reserved_cents"] == 78_000, 5)

    _live_the_stay(db_engines, agreements_container, exchange_id)
    assert api.get(path, headers=visitor).json()["status"] == "completed"

    report = {"outcomes": [{"objective": "learn", "achieved": "yes"}], "satisfaction": 5,
              "follow_up": "A joint proposal in spring."}
    assert api.post(f"{path}/closing-report", json=report, headers=host).json()["status"] == "completed"
    reported = api.post(f"{path}/closing-report", json=report, headers=visitor)
    assert reported.status_code == 200 and reported.json()["status"] == "reported", reported.text
    assert {r["party"] for r in api.get(f"{path}/closing-report", headers=vop).json()} == {"vo", "ho"}
    with ClusterRpcProxy(config, context_data={"auth_token": admin_token}) as rpc:
        claim = _eventually(lambda: _claim(rpc, exchange_id), 5)
    assert claim["exchange_id"] == exchange_id


def _claim(rpc: Any, exchange_id: str) -> dict[str, Any] | None:
    from common.errors import NotFound

    try:
        return rpc.payments.get_claim(exchange_id)
    except NotFound:
        return None


def test_a_virtual_exchange_needs_no_bank_account_and_closes_with_its_report(
        api, db_engines, agreements_container, lump_sum_table):
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    plan = {**_plan(start), "mode": "virtual"}
    exchange_id, path, parties, _ = _signed_pt_exchange(api, db_engines, plan)
    agreement = api.get(f"{path}/financial-agreement", headers=parties["visitor"]).json()
    assert agreement["amount_cents"] == 0
    assert any("Virtual" in str(rule) for rule in agreement["quote"]["rules"])
    for who in ("visitor", "vop"):
        signed = api.post(f"{path}/financial-agreement/signatures", headers=parties[who])
    assert signed.status_code == 200 and signed.json()["status"] == "ready", signed.text
    _live_the_stay(db_engines, agreements_container, exchange_id)
    report = {"outcomes": [{"objective": "learn", "achieved": "partly"}], "satisfaction": 4}
    closed = api.post(f"{path}/closing-report", json=report, headers=parties["visitor"])
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    steps = [t["action"] for t in api.get(f"{path}/timeline", headers=parties["hop"]).json()]
    assert steps[-3:] == ["approve_payout", "pay", "close"]


def test_two_agreements_racing_for_the_last_of_a_budget_sign_exactly_one(
        api, db_engines, config, tokens, lump_sum_table):
    from concurrent.futures import ThreadPoolExecutor

    from nameko.standalone.rpc import ClusterRpcProxy

    start = _next_weekday(date.today() + timedelta(days=60), 0)
    signed = [_signed_pt_exchange(api, db_engines, _plan(start)) for _ in range(2)]
    texcirc = signed[0][3]
    admin_token, _ = tokens.issue(str(uuid.uuid4()), ["admin"], None, None)
    with ClusterRpcProxy(config, context_data={"auth_token": admin_token}) as rpc:
        rpc.payments.set_budget(texcirc, {"budget_cents": 100_000})  # one lump sum of 78,000
    for _id, path, parties, _ in signed:
        assert api.put(f"{path}/financial-agreement/bank-account", json={
            "account_holder": "Textil Cluster Süd", "iban": "DE89370400440532013000"},
            headers=parties["visitor"]).status_code == 200
        assert api.post(f"{path}/financial-agreement/signatures",
                        headers=parties["visitor"]).status_code == 200

    def last_signature(entry: tuple) -> int:
        _id, path, parties, _ = entry
        return api.post(f"{path}/financial-agreement/signatures", headers=parties["vop"]).status_code

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(last_signature, signed))
    assert outcomes == [200, 409]
    states = sorted(api.get(path, headers=parties["visitor"]).json()["status"]
                    for _id, path, parties, _ in signed)
    assert states == ["ready", "signed"]
    with ClusterRpcProxy(config, context_data={"auth_token": admin_token}) as rpc:
        assert rpc.payments.get_budget(texcirc)["reserved_cents"] == 78_000
