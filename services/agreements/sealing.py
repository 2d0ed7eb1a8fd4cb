"""Signatures sealed into the PDF (PAdES, pyHanko), so a signed commitment can be verified
outside the platform with any PDF reader.

Each seal is an incremental update: the rendered document's bytes stay the file's first
revision, so the SHA-256 that every signature records still identifies what was signed.
The platform seals with its document-signing certificate (generated on first run, like the
token keys; a real certificate is configuration) and names the party who signed.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

KEY_FILE = "document-signing.key.pem"
CERT_FILE = "document-signing.cert.pem"


@dataclass(frozen=True)
class SealingIdentity:
    key_pem: bytes
    cert_pem: bytes


def ensure_identity(directory: str | Path, common_name: str = "ClusterXchange document sealing",
                    years: int = 10) -> SealingIdentity:
    """The platform's document-signing key and certificate, made once when there are none.

    Several processes may start at once: the one that creates the key file (exclusively)
    writes the pair, the others wait for its certificate to appear."""
    path = Path(directory)
    key_path, cert_path = path / KEY_FILE, path / CERT_FILE
    if not cert_path.exists():
        path.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            _wait_for(cert_path)
        else:
            key_bytes, cert_bytes = _new_pair(common_name, years)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key_bytes)
            partial = cert_path.with_suffix(".part")
            partial.write_bytes(cert_bytes)
            os.replace(partial, cert_path)
    return SealingIdentity(key_path.read_bytes(), cert_path.read_bytes())


def _wait_for(path: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear: a half-made sealing key? Remove the "
                               "key file and start again.")
        time.sleep(0.05)


def _new_pair(common_name: str, years: int) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ClusterXchange")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    return key_bytes, cert.public_bytes(serialization.Encoding.PEM)


@lru_cache(maxsize=4)
def _signer(identity: SealingIdentity) -> Any:
    """One signer per identity, its key parsed once: pyHanko's own signer parses (and
    RSA-checks) the key on every signature, ~40 ms holding the GIL, which stalled the whole
    service's event loop even from a native thread."""
    from asn1crypto import keys, pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign import signers

    class PlatformSigner(signers.SimpleSigner):
        def __init__(self, private_key: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._private_key = private_key

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
            from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
            from pyhanko.sign.general import get_pyca_cryptography_hash

            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if (mechanism.signature_algo == "rsassa_pkcs1v15"
                    and isinstance(self._private_key, RSAPrivateKey)):
                return self._private_key.sign(data, PKCS1v15(),
                                              get_pyca_cryptography_hash(digest_algorithm))
            return super().sign_raw(data, digest_algorithm)

    _, _, cert_der = pem.unarmor(identity.cert_pem)
    _, _, key_der = pem.unarmor(identity.key_pem)
    return PlatformSigner(
        serialization.load_pem_private_key(identity.key_pem, password=None),
        signing_cert=asn1_x509.Certificate.load(cert_der),
        signing_key=keys.PrivateKeyInfo.load(key_der),
        cert_registry=None,
    )


def seal(pdf: bytes, identity: SealingIdentity, field_name: str, signer_name: str,
         reason: str) -> bytes:
    """`pdf` with one more signature appended as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, name=signer_name, reason=reason,
        location="ClusterXchange platform", subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256")
    output = io.BytesIO()
    signers.sign_pdf(writer, meta, signer=_signer(identity), output=output)
    return output.getvalue()


@dataclass(frozen=True)
class SealCheck:
    field_name: str
    signer_name: str | None
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modifications: str
    certificate_subject: str
    # pyHanko's overall verdict: intact, valid, trusted and nothing but allowed changes after it.
    sound: bool


def check_seals(pdf: bytes, trusted_cert_pem: bytes | None = None) -> list[SealCheck]:
    """Every signature in `pdf`, checked: the bytes it covers are intact, the cryptography
    holds and (when a certificate is given) it was made with that certificate."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    # Trust only what the caller names (never the operating system's list): without a
    # certificate, `trusted` is False and `intact`/`valid` still say whether the bytes hold.
    roots = []
    if trusted_cert_pem is not None:
        _, _, der = pem.unarmor(trusted_cert_pem)
        roots.append(asn1_x509.Certificate.load(der))
    context = ValidationContext(trust_roots=roots)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    checks = []
    for embedded in reader.embedded_signatures:
        status = validate_pdf_signature(embedded, context)
        checks.append(SealCheck(
            field_name=embedded.field_name,
            signer_name=str(embedded.sig_object.get("/Name")) if "/Name" in embedded.sig_object else None,
            intact=bool(status.intact),
            valid=bool(status.valid),
            trusted=bool(status.trusted),
            coverage=getattr(status.coverage, "name", str(status.coverage)),
            certificate_subject=embedded.signer_cert.subject.human_friendly,
            modifications=getattr(status.modification_level, "name", str(status.modification_level)),
            sound=bool(status.bottom_line),
        ))
    return checks
