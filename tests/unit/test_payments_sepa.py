"""pain.001 credit-transfer files for payout batches."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sepaxml
from lxml import etree

from common.errors import ValidationFailed
from services.payments.exceptions import InvalidIban
from services.payments.sepa import (
    PAIN_001_001_03,
    PAIN_001_001_09,
    CreditTransfer,
    DebtorAccount,
    build_credit_transfer_file,
)

DEBTOR = DebtorAccount("Agri-Food Excellence Partnership", "PT50 0002 0123 1234 5678 9015 4", "BPIAPTPL")
EXECUTION = date(2026, 12, 1)


def transfer(i: int, amount: int = 78_000, **changes) -> CreditTransfer:
    fields = {"payout_id": f"payout-{i}", "end_to_end_id": f"CXC-2026-{i:06d}",
              "creditor_name": "Cluster Noord Ålesund Müller", "iban": "DE89370400440532013000",
              "amount_cents": amount, "remittance": f"ClusterXchange lump sum CXC-2026-{i:06d}",
              "bic": "COBADEFFXXX" if i % 2 else None}
    fields.update(changes)
    return CreditTransfer(**fields)


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def xsd(schema: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(Path(sepaxml.__file__).parent / "schemas" / f"{schema}.xsd")))


@pytest.mark.parametrize("schema", [PAIN_001_001_09, PAIN_001_001_03])
def test_batch_file_validates_against_the_pain001_schema_and_sums_to_the_batch_total(schema):
    transfers = [transfer(1, 78_000), transfer(2, 39_000), transfer(3, 39_001)]
    sepa = build_credit_transfer_file(DEBTOR, transfers, EXECUTION, "CXCBATCH-0001", schema)
    document = parse(sepa.xml)
    assert xsd(schema).validate(document), xsd(schema).error_log
    ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:{schema}"}
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=ns) == "1560.01"
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=ns) == "3"
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=ns) == "CXCBATCH-0001"
    assert sepa.control_sum_cents == 156_001 and sepa.transaction_count == 3
    amounts = document.findall(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", namespaces=ns)
    assert [a.text for a in amounts] == ["780.00", "390.00", "390.01"]
    assert {a.get("Ccy") for a in amounts} == {"EUR"}
    ids = [e.text for e in document.findall(".//p:PmtId/p:EndToEndId", namespaces=ns)]
    assert ids == ["CXC-2026-000001", "CXC-2026-000002", "CXC-2026-000003"]
    assert document.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=ns) == "PT50000201231234567890154"


def test_names_are_transliterated_to_the_sepa_character_set():
    sepa = build_credit_transfer_file(DEBTOR, [transfer(1)], EXECUTION, "CXCBATCH-0002")
    assert b"Cluster Noord Alesund Muller" in sepa.xml


def test_a_bad_creditor_iban_is_refused_naming_the_payout():
    with pytest.raises(InvalidIban) as raised:
        build_credit_transfer_file(DEBTOR, [transfer(1), transfer(2, iban="DE89370400440532013001")],
                                   EXECUTION, "CXCBATCH-0003")
    assert "payout-2" in raised.value.detail and "payout-2" in raised.value.errors
    assert raised.value.status == 422


def test_a_bad_debtor_iban_or_bic_is_refused():
    with pytest.raises(InvalidIban, match="debtor account"):
        build_credit_transfer_file(DebtorAccount("P", "PT00 1234"), [transfer(1)], EXECUTION, "CXC-1")
    with pytest.raises(InvalidIban, match="payout-1: BIC"):
        build_credit_transfer_file(DEBTOR, [transfer(1, bic="CO1")], EXECUTION, "CXC-1")


@pytest.mark.parametrize("bad", [{"amount_cents": 0}, {"amount_cents": 780.0},
                                 {"end_to_end_id": "CXC/2026//1"}, {"end_to_end_id": "X" * 36}])
def test_bad_amounts_and_identifiers_are_refused(bad):
    with pytest.raises(ValidationFailed):
        build_credit_transfer_file(DEBTOR, [transfer(1, **bad)], EXECUTION, "CXCBATCH-0004")


def test_an_empty_batch_is_refused():
    with pytest.raises(ValidationFailed):
        build_credit_transfer_file(DEBTOR, [], EXECUTION, "CXCBATCH-0005")


@pytest.mark.parametrize("schema", [PAIN_001_001_09, PAIN_001_001_03])
def test_a_debtor_without_bic_still_gives_a_valid_file(schema):
    debtor = DebtorAccount("Agri-Food Excellence Partnership", "PT50000201231234567890154")
    sepa = build_credit_transfer_file(debtor, [transfer(2)], EXECUTION, "CXCBATCH-0006", schema)
    assert xsd(schema).validate(parse(sepa.xml))
