"""The SMTP transport builds its TLS context once (loading the CA certificates is costly) and
that context still verifies the server's certificate and name."""

from __future__ import annotations

import ssl

import pytest

from services.notifications.mailer import SmtpTransport


def transport(security: str) -> SmtpTransport:
    return SmtpTransport({"host": "127.0.0.1", "port": 1, "security": security}, "CXC <no-reply@example.org>")


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_one_context_per_transport_that_still_verifies_the_server(security):
    sender = transport(security)
    context = sender.tls_context()
    assert sender.tls_context() is context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert transport(security).tls_context() is not context


def test_a_plain_connection_builds_no_context():
    sender = transport("none")
    with pytest.raises(OSError):  # nothing listens on port 1
        sender._connect()
    assert sender._context is None
