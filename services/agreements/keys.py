"""The agreements service's secrets: the document-sealing identity and the IBAN keys.

Both come from configuration in production. For the embedded local setup they are made on
first use under the keys directory (like the token keys), so `make run` needs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider

from services.agreements.bank import IbanVault
from services.agreements.sealing import SealingIdentity, ensure_identity

IBAN_KEYS_FILE = "iban-keys.txt"


def local_iban_keys(directory: str | Path) -> str:
    path = Path(directory) / IBAN_KEYS_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{IBAN_KEYS_FILE}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(IbanVault.new_key())
        try:
            os.link(partial, path)  # the first process to link wins; the others read its key
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip()


def ensure_local_keys(cfg: dict[str, Any]) -> None:
    """What `cxc migrate` makes before any agreements process starts."""
    ensure_identity(cfg["sealing_dir"])
    if not cfg.get("iban_keys"):
        local_iban_keys(cfg["sealing_dir"])


class AgreementKeys(DependencyProvider):
    def setup(self) -> None:
        cfg = self.container.config["AGREEMENTS"]
        self.sealing: SealingIdentity = ensure_identity(cfg["sealing_dir"])
        self.vault = IbanVault(cfg.get("iban_keys") or local_iban_keys(cfg["sealing_dir"]))

    def get_dependency(self, worker_ctx: Any) -> AgreementKeys:
        return self
