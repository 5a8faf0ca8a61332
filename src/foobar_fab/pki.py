"""The lab's own certificate authority and the certificates it issues, kept in the lab's state folder.

The CA is made once per lab (trustme, on the cryptography library) and kept: clients that trust it
(`curl --cacert .lab/<lab>/tls/ca.pem`) keep working across rebuilds. A CA whose key is missing or
unreadable stops the build; it is never replaced behind the user's back. Each certificate is kept
too, and issued again only when its names change or it is within RENEW_DAYS of its end.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509

from . import statefolder
from .errors import LabError
from .statefolder import PRIVATE, PUBLIC, LabFolder

LEAF_DAYS = 365
RENEW_DAYS = 30


class PkiError(LabError):
    """The lab's CA cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class Certificate:
    """A certificate issued by the lab's CA: its PEM (with the CA after it), its key, its end."""

    name: str
    cert_pem: str
    key_pem: str
    not_after: datetime.datetime

    @property
    def bundle(self) -> str:
        """Key first, then the certificate chain: the single file HAProxy's `crt` takes (and Nginx reads both from)."""
        return self.key_pem + self.cert_pem


@dataclass(frozen=True)
class Pki:
    """What the roles get: the CA's certificate (to trust) and the issued certificates by name."""

    ca_pem: str
    certificates: dict[str, Certificate]


class LabCA:
    """The CA in <state>/tls/: ca.pem (public) and ca.key (0600)."""

    def __init__(self, lab_folder: LabFolder, ca: trustme.CA) -> None:
        self.lab_folder = lab_folder
        self.ca = ca

    @property
    def cert_file(self) -> Path:
        return self.lab_folder.ca_cert

    @classmethod
    def open(cls, lab_folder: LabFolder) -> tuple[LabCA, bool]:
        """The lab's CA, made if the lab has none yet; True when it was just made."""
        folder, cert, key = lab_folder.tls, lab_folder.ca_cert, lab_folder.ca_key
        if not cert.exists() and not key.exists():
            statefolder.make_folder(folder)
            ca = trustme.CA(organization_name="foobar_fab lab CA", organization_unit_name=lab_folder.path.name)
            statefolder.write(cert, ca.cert_pem.bytes().decode(), PUBLIC)
            statefolder.write(key, ca.private_key_pem.bytes().decode(), PRIVATE)
            return cls(lab_folder, ca), True
        for path, what in ((cert, "the CA's certificate"), (key, "the CA's private key")):
            if not path.exists():
                raise PkiError(f"{path}: {what} is missing: restore it, or remove {folder} to make a new CA (clients must then trust the new one)")
        try:
            ca = trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
        except (OSError, ValueError) as err:
            raise PkiError(f"{key}: the CA cannot be read ({type(err).__name__}): restore it, or remove {folder} to make a new CA") from None
        return cls(lab_folder, ca), False

    def certificate(self, name: str, identities: list[str], now: datetime.datetime) -> tuple[Certificate, str | None]:
        """The named certificate, kept if it still fits; the second value says why one was issued (None: kept)."""
        cert_file, key_file = self.lab_folder.certificate(name)
        why = "new"
        if cert_file.exists() and key_file.exists():
            kept = x509.load_pem_x509_certificate(cert_file.read_bytes())
            names = sorted(str(n.value) for n in kept.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
            ends = kept.not_valid_after_utc
            if names != sorted(identities):
                why = f"its names changed (was {', '.join(names)})"
            elif ends - now <= datetime.timedelta(days=RENEW_DAYS):
                why = f"it {'ended' if ends <= now else 'ends'} {ends:%Y-%m-%d}, within {RENEW_DAYS} days"
            else:
                return Certificate(name, cert_file.read_text(), key_file.read_text(), ends), None
        leaf = self.ca.issue_cert(*identities, not_before=now - datetime.timedelta(hours=1), not_after=now + datetime.timedelta(days=LEAF_DAYS))
        cert_pem = "".join(blob.bytes().decode() for blob in leaf.cert_chain_pems)
        key_pem = leaf.private_key_pem.bytes().decode()
        statefolder.write(key_file, key_pem, PRIVATE)
        statefolder.write(cert_file, cert_pem, PUBLIC)
        ends = x509.load_pem_x509_certificate(cert_pem.encode()).not_valid_after_utc
        return Certificate(name, cert_pem, key_pem, ends), why


def web_certificate(node: str) -> str:
    """The name of a web server's own certificate (the load balancer checks it when it re-encrypts)."""
    return f"nginx-{node}"


def site_identities(domain: str, site: str) -> list[str]:
    return [domain, site]


def issue_for(
    lab_domain: str,
    lab_site: str,
    db_nodes: list[tuple[str, str]],
    ca: LabCA,
    made: bool,
    report: Callable[[str, str, str], None],
    web_nodes: Sequence[tuple[str, str]] = (),
) -> Pki:
    """Every certificate the design needs from the lab's CA (`made`: just now): the site's, each database
    server's (name and address), and each web server's where the load balancer re-encrypts to them.

    `report(what, status, reason)` tells the learner what was kept and what was issued.
    """
    report("CA", "changed" if made else "ok", f"{'made' if made else 'kept'}: {ca.cert_file}")
    now = datetime.datetime.now(datetime.UTC)
    wanted = {"site": site_identities(lab_domain, lab_site)}
    wanted.update({f"db-{name}": [name, address] for name, address in db_nodes})
    wanted.update({web_certificate(name): [name, address] for name, address in web_nodes})
    issued = {}
    for name, identities in wanted.items():
        certificate, why = ca.certificate(name, identities, now)
        status, reason = ("ok", "kept") if why is None else ("changed", f"issued ({why})")
        report(f"certificate {name}", status, f"{reason}: {', '.join(identities)}, until {certificate.not_after:%Y-%m-%d}")
        issued[name] = certificate
    return Pki(ca.cert_file.read_text(), issued)
