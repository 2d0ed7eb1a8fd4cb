"""The visitors' bank accounts for a payment run.

Agreements keeps each IBAN encrypted at rest (Fernet keys AGREEMENTS_IBAN_KEYS, or the local
key file next to the sealing identity) and hands it over still encrypted; payments decrypts
it here, only while it builds a SEPA file, and never stores, logs or emits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nameko.extensions import DependencyProvider

from common.errors import ServiceUnavailable

LOCAL_KEYS_FILE = "iban-keys.txt"  # what agreements makes for the embedded local setup


@dataclass(frozen=True)
class PayoutAccount:
    exchange_id: str
    holder: str
    iban: str
    bic: str | None


class AccountKeys:
    def __init__(self, keys: str) -> None:
        secrets = [key.strip() for key in keys.split(",") if key.strip()]
        self._fernet = MultiFernet([Fernet(key.encode()) for key in secrets]) if secrets else None

    def account(self, record: dict[str, Any]) -> PayoutAccount:
        if self._fernet is None:
            raise ServiceUnavailable("Payments has no key to read bank accounts with "
                                     "(AGREEMENTS_IBAN_KEYS).")
        try:
            iban = self._fernet.decrypt(record["iban_encrypted"].encode()).decode()
        except InvalidToken as exc:
            raise ServiceUnavailable("A bank account cannot be read with the configured keys "
                                     "(AGREEMENTS_IBAN_KEYS).") from exc
        return PayoutAccount(record["exchange_id"], record["account_holder"] or "", iban, record.get("bic"))


def mask_iban(iban: str) -> str:
    """What people see of an account: country and the last four characters."""
    return f"{iban[:2]}•• •••• {iban[-4:]}"


def configured_keys(config: dict[str, Any]) -> str:
    agreements = config.get("AGREEMENTS") or {}
    if agreements.get("iban_keys"):
        return agreements["iban_keys"]
    path = Path(agreements.get("sealing_dir") or ".") / LOCAL_KEYS_FILE
    return path.read_text().strip() if path.exists() else ""


class AccountKeysProvider(DependencyProvider):
    def setup(self) -> None:
        self.keys: AccountKeys | None = None

    def get_dependency(self, worker_ctx: Any) -> AccountKeys:
        # Read on first need: locally, agreements makes the key file when it first starts.
        if self.keys is None or self.keys._fernet is None:
            self.keys = AccountKeys(configured_keys(self.container.config))
        return self.keys
