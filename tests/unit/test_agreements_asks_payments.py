"""Agreements asks payments for an exchange's lump sum with the registrations (payments reads
the organisations' places from registration), and payments' errors reach it as themselves."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest
from nameko.exceptions import deserialize, serialize
from nameko.testing.services import worker_factory

from services.agreements.service import AgreementsService


def test_the_quote_request_names_both_registrations():
    rpc = MagicMock()
    rpc.call.return_value = {"amount_cents": 78_000}
    service = worker_factory(AgreementsService, rpc_client=rpc,
                             auth=SimpleNamespace(caller=SimpleNamespace(token="token")))
    exchange = SimpleNamespace(
        host_country="PT", plan={"mode": "physical", "start_date": "2026-11-16",
                                 "end_date": "2026-11-20"},
        start_date="2026-11-16", visitor_registration_id="reg-v", host_registration_id="reg-h",
        visitor_organisation_id="org-v", host_organisation_id="org-h")
    assert service._quote(exchange) == {"amount_cents": 78_000}
    (service_name, method, request), kwargs = rpc.call.call_args
    assert (service_name, method) == ("payments", "quote_for_exchange")
    assert request == {"host_country": "PT", "working_days": 5, "mode": "physical",
                       "visitor_registration_id": "reg-v", "host_registration_id": "reg-h",
                       "on_date": "2026-11-16"}
    assert kwargs["auth_token"] == "token"


def test_payments_errors_are_registered_wherever_agreements_contract_is_imported():
    """A fresh interpreter, as the agreements process or the gateway: importing agreements'
    schemas alone must register payments' errors, or a NoLumpSumRate arrives as RemoteError."""
    check = ("import services.agreements.schemas\n"
             "from nameko.exceptions import registry\n"
             "print(sorted(k.rsplit('.', 1)[1] for k in registry if '.payments.' in k))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         check=True).stdout
    assert "NoLumpSumRate" in out and "InsufficientBudget" in out


@pytest.mark.parametrize("name", ["NoLumpSumRate", "InsufficientBudget"])
def test_payments_errors_keep_their_fields_across_rpc(name):
    from services.payments import exceptions

    error = getattr(exceptions, name)("detail", {"field": ["message"]})
    back = deserialize(serialize(error))
    assert type(back) is type(error) and back.errors == {"field": ["message"]}
