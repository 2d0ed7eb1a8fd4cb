"""SEPA credit-transfer files (pain.001) for a payout batch, built with `sepaxml`.

Schema: pain.001.001.09 by default, the ISO 20022 2019 message the EPC's SEPA Credit
Transfer implementation guidelines have required since November 2023; pain.001.001.03 is
still available for banks that take only the older one. Every IBAN (and BIC) is checked
with schwifty before anything is built, and the finished file is validated against the
schema sepaxml ships, with lxml (compiled once per process).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from lxml import etree
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from common.errors import ValidationFailed
from services.payments.exceptions import InvalidIban
from services.payments.money import ensure_cents

PAIN_001_001_09 = "pain.001.001.09"
PAIN_001_001_03 = "pain.001.001.03"
SCHEMAS = (PAIN_001_001_09, PAIN_001_001_03)
DEFAULT_SCHEMA = PAIN_001_001_09

MAX_ID_LENGTH = 35
# The SEPA basic Latin character set for identifiers (no leading or trailing slash, no "//").
_SEPA_ID = re.compile(r"^(?!/)(?!.*//)[A-Za-z0-9/?:().,'+ -]{1,35}(?<!/)$")


@dataclass(frozen=True)
class DebtorAccount:
    """The partnership's account the transfers are paid from."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True)
class CreditTransfer:
    """One payout to one visitor."""

    payout_id: str
    end_to_end_id: str  # the exchange's reference, quoted back by the bank
    creditor_name: str
    iban: str
    amount_cents: int
    remittance: str
    bic: str | None = None


@dataclass(frozen=True)
class SepaFile:
    xml: bytes
    schema: str
    message_id: str
    transaction_count: int
    control_sum_cents: int


def remittance_for(exchange_reference: str) -> str:
    """What the visitor reads on the bank statement (the reference the support office knows)."""
    return f"ClusterXchange lump sum {exchange_reference}"


def _iban(value: str, owner: str) -> str:
    try:
        return IBAN(value).compact
    except SchwiftyException as exc:
        raise InvalidIban.for_payout(owner, "IBAN", str(exc)) from exc


def _bic(value: str | None, owner: str) -> str | None:
    if not value:
        return None
    try:
        return str(BIC(value))
    except SchwiftyException as exc:
        raise InvalidIban.for_payout(owner, "BIC", str(exc)) from exc


def validated_debtor(name: str, iban: str, bic: str | None) -> DebtorAccount:
    """The partnership's account as SEPA files need it: IBAN (and BIC) checked, compact."""
    return DebtorAccount(name.strip(), _iban(iban, "debtor account"), _bic(bic, "debtor account"))


def _sepa_id(value: str, field: str) -> str:
    if not _SEPA_ID.match(value):
        raise ValidationFailed(f"{field} {value!r} is not a SEPA identifier (1-35 Latin characters).",
                               {field: ["1 to 35 letters, digits or / - ? : ( ) . , ' + and space."]})
    return value


def _transfer_class():
    from sepaxml import SepaTransfer

    class FixedIdTransfer(SepaTransfer):
        """sepaxml draws a random MsgId; a batch keeps its own, so a re-download is the same
        payment order to the bank (which rejects a MsgId it has seen)."""

        def __init__(self, config: dict, schema: str, message_id: str) -> None:
            self._message_id = message_id
            super().__init__(config, schema=schema, clean=True)

        def _create_header(self) -> None:
            self.msg_id = self._message_id
            super()._create_header()

    return FixedIdTransfer


def build_credit_transfer_file(debtor: DebtorAccount, transfers: list[CreditTransfer], execution_date: date,
                               message_id: str, schema: str = DEFAULT_SCHEMA) -> SepaFile:
    """The pain.001 file paying every transfer from the debtor's account on `execution_date`.

    Refused (nothing built) when an IBAN, a BIC, an amount or an identifier is not valid: the
    error names the payout."""
    if schema not in SCHEMAS:
        raise ValidationFailed(f"Unknown SEPA schema {schema!r}.",
                               {"schema": [f"One of {', '.join(SCHEMAS)}."]})
    if not transfers:
        raise ValidationFailed("A SEPA file needs at least one payout.", {"payouts": ["Empty batch."]})
    _sepa_id(message_id, "message_id")
    config = {"name": debtor.name, "IBAN": _iban(debtor.iban, "debtor account"), "batch": True,
              "currency": "EUR"}
    debtor_bic = _bic(debtor.bic, "debtor account")
    if debtor_bic:
        config["BIC"] = debtor_bic
    payments = []
    total = 0
    for transfer in transfers:
        ensure_cents(transfer.amount_cents, f"{transfer.payout_id}.amount_cents", positive=True)
        payment = {
            "name": transfer.creditor_name,
            "IBAN": _iban(transfer.iban, transfer.payout_id),
            "amount": transfer.amount_cents,
            "execution_date": execution_date,
            "description": transfer.remittance,
            "endtoend_id": _sepa_id(transfer.end_to_end_id, f"{transfer.payout_id}.end_to_end_id"),
        }
        bic = _bic(transfer.bic, transfer.payout_id)
        if bic:
            payment["BIC"] = bic
        payments.append(payment)
        total += transfer.amount_cents
    document = _transfer_class()(config, schema, message_id)
    for payment in payments:
        document.add_payment(payment)
    xml = document.export(validate=False)
    validate_pain001(xml, schema)
    return SepaFile(xml, schema, message_id, len(payments), total)


@cache
def _xml_schema(schema: str) -> etree.XMLSchema:
    import sepaxml

    path = Path(sepaxml.__file__).parent / "schemas" / f"{schema}.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def validate_pain001(xml: bytes, schema: str = DEFAULT_SCHEMA) -> None:
    """Raises ValueError with the schema's complaint when the file is not valid pain.001."""
    xsd = _xml_schema(schema)
    document = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    if not xsd.validate(document):
        raise ValueError(f"Not a valid {schema} file: {xsd.error_log.last_error}")
