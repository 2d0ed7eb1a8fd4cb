"""The gateway's CV upload, worker by worker: what it stores, and when it deletes it again."""

from __future__ import annotations

from typing import Any
from unittest.mock import Mock

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from common.errors import GatewayTimeout, InvalidState, NotFound, ServiceUnavailable
from common.storage import StoredObject
from gateway.service import GatewayService
from tests.helpers import MINIMAL_PDF


def _gateway(attach_outcome: Any) -> Any:
    calls: list[str] = []

    def call(service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        if method == "attach_cv" and isinstance(attach_outcome, Exception):
            raise attach_outcome
        if method == "check_cv_upload" and isinstance(attach_outcome, NotFound):
            raise attach_outcome
        return {"id": "reg-1", "version": 2}

    gateway = worker_factory(GatewayService, config={"UPLOADS": {"cv_max_bytes": 1_000_000}},
                             rpc=Mock(call=Mock(side_effect=call)))
    gateway.store.put.return_value = StoredObject("cv/reg-1/k", "0" * 64, len(MINIMAL_PDF),
                                                  "application/pdf")
    gateway.calls = calls
    return gateway


def _upload() -> Any:
    return EnvironBuilder(method="PUT", data=MINIMAL_PDF, headers={
        "Authorization": "Bearer t", "Content-Type": "application/pdf"}).get_request()


@pytest.mark.parametrize("refusal", [InvalidState("withdrawn"), NotFound("gone")])
def test_a_refused_attachment_deletes_what_was_stored(refusal):
    gateway = _gateway(refusal)
    with pytest.raises(type(refusal)):
        gateway.upload_cv(_upload(), "reg-1")
    if isinstance(refusal, NotFound):  # refused by the check: nothing was even stored
        gateway.store.put.assert_not_called()
    else:
        gateway.store.delete.assert_called_once_with("cv/reg-1/k")


@pytest.mark.parametrize("failure", [GatewayTimeout("slow"), ServiceUnavailable("down"),
                                     RuntimeError("broker gone")])
def test_a_timeout_or_outage_keeps_the_stored_cv(failure):
    # Registration may have committed the key before the answer was lost.
    gateway = _gateway(failure)
    with pytest.raises(type(failure)):
        gateway.upload_cv(_upload(), "reg-1")
    gateway.store.delete.assert_not_called()


def test_the_caller_is_checked_before_anything_is_stored():
    gateway = _gateway({"ok": True})
    gateway.upload_cv(_upload(), "reg-1")
    assert gateway.calls == ["check_cv_upload", "attach_cv"]
