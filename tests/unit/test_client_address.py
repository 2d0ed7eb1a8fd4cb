"""Who the client is behind reverse proxies: only what trusted proxies appended counts."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.ratelimit import client_address, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7")


def request(peer: str, *forwarded: str) -> Request:
    headers = [("X-Forwarded-For", value) for value in forwarded]
    return Request(EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": peer}).get_environ())


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_claims():
    assert client_address(request("198.51.100.9", "203.0.113.5"), ()) == "198.51.100.9"


def test_an_untrusted_peer_cannot_name_another_client():
    assert client_address(request("198.51.100.9", "203.0.113.5"), PROXIES) == "198.51.100.9"


def test_behind_a_trusted_proxy_the_forwarded_client_counts():
    assert client_address(request("10.1.2.3", "203.0.113.5"), PROXIES) == "203.0.113.5"


def test_a_forged_hop_before_the_proxies_is_skipped_from_the_right():
    # The client sent "1.2.3.4" itself; its own address is what the first proxy appended.
    forged = request("10.1.2.3", "1.2.3.4, 203.0.113.5, 192.168.1.7")
    assert client_address(forged, PROXIES) == "203.0.113.5"


def test_several_headers_are_one_chain():
    assert client_address(request("10.1.2.3", "1.2.3.4", "203.0.113.5"), PROXIES) == "203.0.113.5"


def test_a_chain_of_only_proxies_names_its_first_hop():
    assert client_address(request("10.1.2.3", "10.9.9.9, 10.8.8.8"), PROXIES) == "10.9.9.9"


def test_a_malformed_chain_is_not_believed():
    assert client_address(request("10.1.2.3", "203.0.113.5, not-an-ip"), PROXIES) == "10.1.2.3"


def test_no_header_from_a_proxy_means_the_proxy_itself():
    assert client_address(request("10.1.2.3"), PROXIES) == "10.1.2.3"


def test_ipv6_networks():
    assert client_address(request("fd00::1", "2001:db8::7"), parse_networks("fd00::/8")) == "2001:db8::7"


def test_a_bad_proxy_entry_is_a_configuration_error():
    with pytest.raises(ValueError):
        parse_networks("10.0.0.0/8, proxy.example")
