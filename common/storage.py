"""Object storage for documents: any S3 endpoint through the minio SDK, or a local
directory (the embedded default).

Objects are stored under random keys; each records its SHA-256, size and the content type
sniffed from its bytes (never the client's claim). Presigned URLs live minutes, not the
SDK's 7-day default.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import unicodedata
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import filetype
from nameko.extensions import DependencyProvider

from common.errors import NotFound, PayloadTooLarge, UnsupportedMediaType

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENT_TYPES = frozenset({PDF, DOCX})
EXTENSIONS = {PDF: "pdf", DOCX: "docx"}
SNIFF_BYTES = 8192  # what content sniffing reads of a file
MAX_FILENAME = 150


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int
    content_type: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sniff(data: bytes) -> str | None:
    return filetype.guess_mime(data[:SNIFF_BYTES] if len(data) > SNIFF_BYTES else data)


def check_document(data: bytes, allowed: frozenset[str], max_bytes: int) -> str:
    """The sniffed content type, or the 413/415 the upload deserves."""
    return check_document_head(data[:SNIFF_BYTES], len(data), allowed, max_bytes)


def check_document_head(head: bytes, size: int, allowed: frozenset[str], max_bytes: int) -> str:
    """check_document from the file's first SNIFF_BYTES and its size, for a stored object
    that need not be downloaded again."""
    if size > max_bytes:
        raise PayloadTooLarge(f"The file is {size} bytes; the limit is {max_bytes} bytes.")
    if not size or not head:
        raise UnsupportedMediaType("The file is empty.")
    content_type = sniff(head)
    if content_type not in allowed:
        names = ", ".join(sorted(EXTENSIONS.get(t, t) for t in allowed))
        found = content_type or "an unknown type"
        raise UnsupportedMediaType(f"The file's content is {found}; accepted: {names}.")
    return content_type


def safe_filename(name: str | None, default: str = "file") -> str:
    """A client's file name fit to keep and to send back: the base name only (no directory
    of either convention), no control or format characters, at most MAX_FILENAME
    characters with the extension kept."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base)
                   if unicodedata.category(ch)[0] != "C")
    base = base.strip().strip(".").strip()
    if not base:
        return default
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        base = (stem if ext else base)[: MAX_FILENAME - len(ext) - 1].rstrip() + (f".{ext}" if ext else "")
    return base


def random_key(prefix: str) -> str:
    return f"{prefix}/{secrets.token_urlsafe(24)}"


class LocalBackend:
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise NotFound("No such document.")
        return path

    def put(self, key: str, data: bytes, meta: dict[str, str]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        path.with_suffix(".meta.json").write_text(json.dumps(meta))

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("No such document.") from exc

    def head(self, key: str, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as handle:
                return handle.read(length)
        except FileNotFoundError as exc:
            raise NotFound("No such document.") from exc

    def meta(self, key: str) -> dict[str, str]:
        try:
            return json.loads(self._path(key).with_suffix(".meta.json").read_text())
        except FileNotFoundError as exc:
            raise NotFound("No such document.") from exc

    def delete(self, key: str) -> None:
        for path in (self._path(key), self._path(key).with_suffix(".meta.json")):
            path.unlink(missing_ok=True)

    def presigned_url(self, key: str, seconds: int) -> str | None:
        return None


class S3Backend:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from minio import Minio

        endpoint = cfg["endpoint"].split("://", 1)[-1]
        self.client = Minio(
            endpoint,
            access_key=cfg["access_key"],
            secret_key=cfg["secret_key"],
            secure=bool(cfg.get("secure")),
            region=cfg.get("region") or None,
        )
        self.bucket = cfg["bucket"]

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket)

    def put(self, key: str, data: bytes, meta: dict[str, str]) -> None:
        self.client.put_object(
            self.bucket, key, io.BytesIO(data), len(data),
            content_type=meta["content_type"], metadata={"sha256": meta["sha256"]},
        )

    def get(self, key: str) -> bytes:
        from minio.error import S3Error

        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            raise NotFound("No such document.") from exc
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def head(self, key: str, length: int) -> bytes:
        from minio.error import S3Error

        try:
            response = self.client.get_object(self.bucket, key, offset=0, length=length)
        except S3Error as exc:
            raise NotFound("No such document.") from exc
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def meta(self, key: str) -> dict[str, str]:
        from minio.error import S3Error

        try:
            stat = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            raise NotFound("No such document.") from exc
        sha = (stat.metadata or {}).get("x-amz-meta-sha256", "")
        return {"content_type": stat.content_type, "sha256": sha, "size": str(stat.size)}

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def presigned_url(self, key: str, seconds: int) -> str | None:
        return self.client.presigned_get_object(self.bucket, key, expires=timedelta(seconds=seconds))


class ObjectStore:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.presign_seconds = int(cfg.get("presign_seconds", 300))
        self.backend: LocalBackend | S3Backend
        if cfg.get("endpoint"):
            self.backend = S3Backend(cfg)
        else:
            self.backend = LocalBackend(cfg["local_dir"])

    def ensure_ready(self) -> None:
        if isinstance(self.backend, S3Backend):
            self.backend.ensure_bucket()

    def put(self, prefix: str, data: bytes, content_type: str) -> StoredObject:
        """An upload, under a random key (nobody can guess or choose where it lands)."""
        return self.put_at(random_key(prefix), data, content_type)

    def put_at(self, key: str, data: bytes, content_type: str) -> StoredObject:
        """A document the platform made, under a key the caller chose (content-addressed
        documents name their key after their SHA-256, so writing one twice is harmless)."""
        obj = StoredObject(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                           content_type=content_type)
        self.backend.put(obj.key, data, {"content_type": content_type, "sha256": obj.sha256,
                                          "size": str(obj.size)})
        return obj

    def get(self, key: str) -> bytes:
        return self.backend.get(key)

    def head(self, key: str, length: int = SNIFF_BYTES) -> bytes:
        """The object's first `length` bytes (a range read)."""
        return self.backend.head(key, length)

    def stat(self, key: str) -> StoredObject:
        """What was recorded when the object was stored: size, SHA-256, content type."""
        meta = self.backend.meta(key)
        return StoredObject(key=key, sha256=meta.get("sha256", ""), size=int(meta.get("size") or 0),
                            content_type=meta.get("content_type", ""))

    def delete(self, key: str) -> None:
        self.backend.delete(key)

    def presigned_url(self, key: str) -> str | None:
        return self.backend.presigned_url(key, self.presign_seconds)


class ObjectStoreProvider(DependencyProvider):
    def setup(self) -> None:
        self.store = ObjectStore(self.container.config["STORAGE"])

    def start(self) -> None:
        self.store.ensure_ready()

    def get_dependency(self, worker_ctx: Any) -> ObjectStore:
        return self.store
