"""The header's unread count never makes a page wait on an absent notifications service."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from common.errors import GatewayTimeout
from gateway.web import unread


class Routes:
    def __init__(self, answer):
        self.answer = answer
        self.calls = []
        self.rpc = SimpleNamespace(provider=Gateway())

    def _call(self, request, service, method, **options):
        self.calls.append((service, method, options))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Gateway:
    """Stands for a gateway's RPC dependency (what the quiet period is kept against)."""


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(unread, "UNREAD", unread.TtlCache(15))


def _web(token):
    return SimpleNamespace(token=token, request=object())


def test_the_count_is_asked_briefly_and_kept_per_session():
    routes = Routes({"unread": 3})
    assert unread.unread_count(routes, _web("a")) == 3
    assert unread.unread_count(routes, _web("a")) == 3
    assert routes.calls == [("notifications", "unread_count", {"timeout": unread.ASK_SECONDS})]
    assert unread.ASK_SECONDS <= 1.0


def test_a_service_that_did_not_answer_is_not_asked_again_by_any_session_for_a_while():
    routes = Routes(GatewayTimeout("The notifications service did not answer in time."))
    assert unread.unread_count(routes, _web("a")) is None
    assert unread.unread_count(routes, _web("b")) is None
    assert len(routes.calls) == 1
    other_gateway = Routes({"unread": 2})  # another gateway in the same process still asks
    assert unread.unread_count(other_gateway, _web("c")) == 2
    unread._AWAY_UNTIL.clear()  # the quiet period is over
    routes.answer = {"unread": 0}
    assert unread.unread_count(routes, _web("b")) == 0


def test_no_session_no_question():
    routes = Routes({"unread": 1})
    assert unread.unread_count(routes, _web(None)) is None
    assert routes.calls == []
