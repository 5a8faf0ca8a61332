"""A TLS handshake with the site, as a client makes it: which version and protocol were agreed, whose
certificate came back and until when it is valid."""

from __future__ import annotations

import datetime
import socket
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from ..constants import HTTPS_PORT


@dataclass(frozen=True)
class Handshake:
    """What one handshake agreed on."""

    version: str  # TLSv1.3...
    alpn: str | None  # h2 or http/1.1
    not_after: datetime.datetime


def handshake(address: str, server_name: str, ca_file: Path, timeout: float = 3.0) -> Handshake:
    """Connect, verify the certificate against the lab's CA for the name, offer h2 and http/1.1."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((address, HTTPS_PORT), timeout=timeout) as raw, context.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
        if der is None:
            raise ssl.SSLError("the server sent no certificate")
        ends = x509.load_der_x509_certificate(der).not_valid_after_utc
        return Handshake(tls.version() or "?", tls.selected_alpn_protocol(), ends)


def refuses_old_tls(address: str, server_name: str, timeout: float = 3.0) -> str | None:
    """None when a TLS 1.1 handshake is refused; else the version the server accepted."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # old versions on purpose: the server must refuse them
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        with socket.create_connection((address, HTTPS_PORT), timeout=timeout) as raw, context.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.version()
    except (ssl.SSLError, ConnectionError):
        return None
