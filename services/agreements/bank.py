"""The visiting organisation's bank account: validated with schwifty, the IBAN encrypted at
rest (it is personal data) and shown masked to everyone but the payment run.

Keys come from configuration (AGREEMENTS_IBAN_KEYS, comma-separated Fernet keys, the first
encrypts); older keys keep decrypting, so a key can be rotated without rewriting every row.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from common.errors import ValidationFailed


@dataclass(frozen=True)
class BankAccount:
    holder: str
    iban: str
    bic: str | None

    @property
    def masked_iban(self) -> str:
        return mask_iban(self.iban)


def mask_iban(iban: str) -> str:
    return f"{iban[:2]}•• •••• {iban[-4:]}"


def validate_account(holder: str | None, iban: str | None, bic: str | None) -> BankAccount:
    """A normalised account, or a 422 naming each field that is wrong."""
    errors: dict[str, list[str]] = {}
    holder = (holder or "").strip()
    if not holder:
        errors["account_holder"] = ["Name the account holder."]
    parsed_iban = parsed_bic = None
    try:
        parsed_iban = IBAN(iban or "")
    except SchwiftyException as exc:
        errors["iban"] = [f"Not a valid IBAN: {exc}."]
    if bic:
        try:
            parsed_bic = BIC(bic)
        except SchwiftyException as exc:
            errors["bic"] = [f"Not a valid BIC: {exc}."]
    elif parsed_iban is not None and parsed_iban.bic is not None:
        parsed_bic = parsed_iban.bic
    if parsed_iban is not None and parsed_bic is not None and not errors.get("bic") and (
            parsed_iban.country_code != parsed_bic.country_code):
        errors["bic"] = [f"The BIC is of a bank in {parsed_bic.country_code}, the IBAN of an "
                         f"account in {parsed_iban.country_code}."]
    if errors:
        raise ValidationFailed("The bank account is not valid.", errors)
    assert parsed_iban is not None
    return BankAccount(holder, parsed_iban.compact, parsed_bic.compact if parsed_bic else None)


class IbanVault:
    def __init__(self, keys: str) -> None:
        secrets = [k.strip() for k in keys.split(",") if k.strip()]
        if not secrets:
            raise RuntimeError("AGREEMENTS_IBAN_KEYS is empty: no key to encrypt IBANs with")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in secrets])

    def encrypt(self, iban: str) -> str:
        return self._fernet.encrypt(iban.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError("an IBAN cannot be decrypted with the configured keys") from exc

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()
