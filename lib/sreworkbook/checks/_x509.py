"""What a TLS check reports of a certificate, read with ``cryptography.x509``.

``ssl`` decodes a certificate only when it verified; for one that did not it gives the raw
DER. This reads from the DER the fields the check reports: ``notAfter``, the subject's and
issuer's names (every string type, BMPString included), the subject alternative names, and
whether a hostname is covered by them (RFC 6125: the SANs only, as browsers and Python's
``ssl`` match; a wildcard stands for exactly one whole left-most label).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["CertificateFields", "covers", "read_certificate"]


@dataclass(frozen=True)
class CertificateFields:
    """A certificate's expiry and names. ``subject``/``issuer``: the CN, else the whole name."""

    not_after: datetime
    subject: str
    issuer: str
    #: Subject alternative names: DNS names as written (``*.example.com``), IPs as text.
    sans: tuple[str, ...] = ()


def _name(name: x509.Name) -> str:
    """The first common name, else the RFC 4514 string, else ``(empty)``."""
    for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        return value if isinstance(value, str) else value.decode("utf-8", errors="replace")
    return name.rfc4514_string() or "(empty)"


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names = extension.value
    dns = names.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


def read_certificate(der: bytes) -> CertificateFields:
    """The expiry and names of a DER certificate; ``ValueError`` if it is not one."""
    try:
        cert = x509.load_der_x509_certificate(der)
        return CertificateFields(
            not_after=cert.not_valid_after_utc,
            subject=_name(cert.subject),
            issuer=_name(cert.issuer),
            sans=_sans(cert),
        )
    except ValueError as exc:
        raise ValueError(f"not a readable certificate: {exc}") from exc


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _dns_match(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if not pattern.startswith("*."):
        return pattern == host
    head, _, rest = host.partition(".")
    return bool(head) and bool(rest) and rest == pattern[2:] and "*" not in pattern[2:]


def covers(sans: tuple[str, ...], host: str) -> bool:
    """Whether ``host`` (a DNS name or an IP address) is one of ``sans`` (wildcards allowed)."""
    address = _ip(host)
    if address is not None:
        return any(_ip(name) == address for name in sans)
    return any(_dns_match(name, host) for name in sans if _ip(name) is None)
