"""The object store against a real S3 endpoint (moto's server over HTTP) and the local directory."""

from __future__ import annotations

import secrets

import pytest
import requests

from common.errors import NotFound
from common.storage import LocalBackend, ObjectStore
from tests.helpers import MINIMAL_PDF


@pytest.fixture(params=["s3", "local"])
def store(request, s3_endpoint, tmp_path) -> ObjectStore:
    cfg = {"bucket": f"test-{secrets.token_hex(4)}", "local_dir": str(tmp_path), "presign_seconds": 120}
    if request.param == "s3":
        cfg.update(endpoint=s3_endpoint, access_key="testing", secret_key="testing", region="eu-west-1")
    store = ObjectStore(cfg)
    store.ensure_ready()
    return store


def test_objects_keep_their_bytes_hash_and_type(store):
    stored = store.put("cv/r1", MINIMAL_PDF, "application/pdf")
    assert stored.key.startswith("cv/r1/") and len(stored.key) > 20
    assert stored.size == len(MINIMAL_PDF) and len(stored.sha256) == 64
    assert store.get(stored.key) == MINIMAL_PDF
    assert store.backend.meta(stored.key)["sha256"] == stored.sha256
    store.delete(stored.key)
    with pytest.raises(NotFound):
        store.get(stored.key)


def test_keys_are_random(store):
    first = store.put("cv/r1", MINIMAL_PDF, "application/pdf")
    second = store.put("cv/r1", MINIMAL_PDF, "application/pdf")
    assert first.key != second.key and first.sha256 == second.sha256


def test_presigned_urls_are_short_lived(store):
    stored = store.put("cv/r1", MINIMAL_PDF, "application/pdf")
    url = store.presigned_url(stored.key)
    if isinstance(store.backend, LocalBackend):
        assert url is None  # the gateway streams local documents after its check
        return
    assert "X-Amz-Expires=120" in url
    assert requests.get(url, timeout=10).content == MINIMAL_PDF


def test_local_keys_cannot_escape_the_directory(tmp_path):
    store = ObjectStore({"local_dir": str(tmp_path / "docs")})
    (tmp_path / "secret.txt").write_text("no")
    with pytest.raises(NotFound):
        store.get("../secret.txt")


def test_the_head_and_the_recorded_facts_are_read_without_the_whole_object(store):
    data = MINIMAL_PDF + b"0" * 20_000
    stored = store.put("cv/r1", data, "application/pdf")
    assert store.head(stored.key, 16) == data[:16]
    assert store.head(stored.key) == data[:8192]
    assert store.stat(stored.key) == stored
    with pytest.raises(NotFound):
        store.head("cv/r1/missing", 16)
    with pytest.raises(NotFound):
        store.stat("cv/r1/missing")
