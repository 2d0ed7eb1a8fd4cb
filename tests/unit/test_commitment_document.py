"""The commitment to quality: a deterministic PDF with the plan on it, sealed four times."""

from __future__ import annotations

import hashlib
import subprocess

from services.agreements.commitment_pdf import render_commitment
from services.agreements.sealing import check_seals, ensure_identity, seal

DOCUMENT = {
    "reference": "CXC-2026-000123", "version": 2, "working_days": 5,
    "parties": {"vo": {"name": "Cluster Têxtil Norte", "country": "PT"},
                "ho": {"name": "Textilcluster Süd", "country": "DE"},
                "vop": {"name": "Green Mobility Partnership"}, "hop": {"name": "Textile Futures"}},
    "plan": {"mode": "physical", "start_date": "2027-03-08", "end_date": "2027-03-13",
             "travel_days_before": 1, "travel_days_after": 0, "objectives": ["learn"],
             "activity_types": ["knowledge_sharing", "networking"], "languages": ["en", "de"],
             "action_plan": [{"date": "2027-03-09", "title": "Recycling plant visit",
                              "description": "Sorting lines & <fibre> recovery"},
                             {"date": "2027-03-10", "title": "Workshop with members"}],
             "expected_outcomes": "A joint Interreg proposal on textile recycling.",
             "responsibilities": {"visitor": "Present the cluster's circular programme.",
                                  "host": "Organise visits and the workshop."}},
}


def test_the_same_content_renders_the_same_bytes():
    assert render_commitment(DOCUMENT) == render_commitment(DOCUMENT)
    changed = {**DOCUMENT, "version": 3}
    assert render_commitment(changed) != render_commitment(DOCUMENT)


def test_the_pdf_shows_every_agreed_item(tmp_path):
    path = tmp_path / "commitment.pdf"
    path.write_bytes(render_commitment(DOCUMENT))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    for expected in ("CXC-2026-000123", "version 2", "Cluster Têxtil Norte", "Textilcluster Süd",
                     "Recycling plant visit", "Sorting lines & <fibre> recovery",
                     "Workshop with members", "Knowledge sharing", "Networking",
                     "Learn from another cluster or country", "A joint Interreg proposal"):
        assert expected in text


def test_four_seals_keep_the_rendered_bytes_as_the_first_revision(tmp_path):
    identity = ensure_identity(tmp_path / "keys")
    original = render_commitment(DOCUMENT)
    signed = original
    for field, who in (("Sig_VO", "VO"), ("Sig_HO", "HO"), ("Sig_VOP", "VOP"), ("Sig_HOP", "HOP")):
        signed = seal(signed, identity, field, f"Signer for the {who}", f"Signed by the {who}")
    assert signed.startswith(original)
    assert hashlib.sha256(signed[:len(original)]).hexdigest() == hashlib.sha256(original).hexdigest()
    checks = check_seals(signed, identity.cert_pem)
    assert [c.field_name for c in checks] == ["Sig_VO", "Sig_HO", "Sig_VOP", "Sig_HOP"]
    assert all(c.sound and c.intact and c.valid and c.trusted for c in checks)
    assert checks[0].signer_name == "Signer for the VO"


def test_a_changed_byte_in_the_signed_content_breaks_the_seal(tmp_path):
    identity = ensure_identity(tmp_path / "keys")
    original = render_commitment(DOCUMENT)
    signed = seal(original, identity, "Sig_VO", "VO", "Signed by the VO")
    position = original.index(b"/Title")
    tampered = signed[:position] + b"/Titlf" + signed[position + 6:]
    assert not check_seals(tampered, identity.cert_pem)[0].intact


def test_a_seal_by_another_certificate_is_not_trusted(tmp_path):
    ours = ensure_identity(tmp_path / "ours")
    theirs = ensure_identity(tmp_path / "theirs")
    signed = seal(render_commitment(DOCUMENT), theirs, "Sig_VO", "VO", "Signed by the VO")
    check = check_seals(signed, ours.cert_pem)[0]
    assert check.intact and not check.trusted


def test_the_identity_is_made_once_and_kept(tmp_path):
    first = ensure_identity(tmp_path)
    assert ensure_identity(tmp_path) == first
    assert oct((tmp_path / "document-signing.key.pem").stat().st_mode & 0o777) == "0o600"
