"""Certificates for Temporal's mTLS: a private CA, the frontend's certificate and one client certificate per service.

`python -m devstack.certs deploy/certs` writes the set docker-compose.yml mounts as secrets (`COMPOSE_SET`): fine
for a single host; with a real PKI, put its files under the same names instead. Re-running it replaces every file
(a new CA): restart the whole stack afterwards. The tests build their certificates with the same `Authority`.
"""

import argparse
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAME = "temporal"
"""The frontend's name in its certificate: its compose service name, which clients check
(TRADELANE_TEMPORAL_TLS_SERVER_NAME)."""
CLIENTS = ("tradelane-worker", "tradelane-api", "temporal-ui", "temporal-admin")
"""One client certificate per service that talks to Temporal, so each can be replaced on its own."""
VALID_FOR = timedelta(days=365)


@dataclass
class Authority:
    """A CA and the certificates it signs, written as PEM files into `directory`."""

    name: str
    directory: Path
    valid_for: timedelta = VALID_FOR
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        self.cert = (self._builder(subject, subject, self.key.public_key())
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.pem = self._write(f"{self.name}-ca.pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, *, server: bool) -> tuple[Path, Path]:
        """A leaf certificate and its key (`<name>.pem`, `<name>.key`). A server's names itself (DNS) and may also
        act as a client (Temporal's services call each other and its frontend with it)."""
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if server \
            else [ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = (self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
                                 self.cert.subject, key.public_key())
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return (self._write(f"{common_name}.pem", cert.public_bytes(serialization.Encoding.PEM)),
                self._write(f"{common_name}.key", key_pem))

    def _builder(self, subject: x509.Name, issuer: x509.Name,
                 public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        now = datetime.now(UTC)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + self.valid_for))

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path


def write_compose_set(directory: Path) -> list[Path]:
    """The CA (`tradelane-temporal-ca.pem`; its key is not kept), the frontend's `temporal.pem`/`.key` and a
    client certificate and key per service in `CLIENTS`; returns the files written.

    The directory is made private to its owner; the files in it are readable by all (0644), because each container
    reads its secrets as its own user (Temporal's images do not run as the host's user): a file's mode protects
    nothing the directory does not.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca = Authority("tradelane-temporal", directory)
    written = [ca.pem, *ca.issue(SERVER_NAME, server=True)]
    for client in CLIENTS:
        written.extend(ca.issue(client, server=False))
    for path in written:
        os.chmod(path, 0o644)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="where to write the files, e.g. deploy/certs")
    args = parser.parse_args()
    for path in write_compose_set(args.directory):
        print(path)


if __name__ == "__main__":
    main()
