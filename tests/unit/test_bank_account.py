"""Bank accounts: validated field by field, IBANs encrypted at rest and masked."""

from __future__ import annotations

import pytest

from common.errors import ValidationFailed
from services.agreements.bank import IbanVault, mask_iban, validate_account


def test_a_valid_account_is_normalised():
    account = validate_account(" Cluster Têxtil Norte ", "pt50 0002 0123 1234 5678 9015 4", "CGDIPTPL")
    assert account.iban == "PT50000201231234567890154"
    assert account.holder == "Cluster Têxtil Norte"
    assert account.bic == "CGDIPTPL"
    assert account.masked_iban.endswith("0154") and "1234" not in account.masked_iban


def test_a_wrong_checksum_and_a_missing_holder_are_named():
    with pytest.raises(ValidationFailed) as refused:
        validate_account("", "PT50 0002 0123 1234 5678 9015 5", None)
    assert set(refused.value.errors) == {"account_holder", "iban"}


def test_a_bic_from_another_country_than_the_iban_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        validate_account("Org", "PT50000201231234567890154", "DEUTDEFF")
    assert "bic" in refused.value.errors


def test_the_iban_is_encrypted_and_old_keys_still_decrypt():
    old, new = IbanVault.new_key(), IbanVault.new_key()
    stored = IbanVault(old).encrypt("PT50000201231234567890154")
    assert "PT50" not in stored
    rotated = IbanVault(f"{new},{old}")
    assert rotated.decrypt(stored) == "PT50000201231234567890154"
    with pytest.raises(RuntimeError):
        IbanVault(new).decrypt(stored)


def test_the_mask_keeps_only_the_country_and_last_four():
    assert mask_iban("DE89370400440532013000") == "DE•• •••• 3000"
