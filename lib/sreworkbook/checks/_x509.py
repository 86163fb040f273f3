"""Just enough DER to read a certificate's expiry and names, without a crypto dependency.

``ssl`` returns the decoded certificate only when it verified; for one that did not, it
gives the raw DER. This reads, from that DER, the fields a TLS expiry check reports:
``notAfter`` and the subject's and issuer's common names (RFC 5280, section 4.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["CertificateFields", "read_certificate"]

_SEQUENCE, _SET, _OID, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0x31, 0x06, 0x17, 0x18
_COMMON_NAME = bytes([0x55, 0x04, 0x03])  # 2.5.4.3
_VERSION_TAG = 0xA0  # [0] EXPLICIT, present from X.509 v2 on


@dataclass(frozen=True)
class CertificateFields:
    not_after: datetime
    subject: str
    issuer: str


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """``(tag, start of value, end of value)`` of the element at ``at``."""
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or at + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    while start < end:
        item = _tlv(data, start)
        items.append(item)
        start = item[2]
    return items


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii")
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; years 50-99 are 19xx (RFC 5280, 4.1.2.5.1)
        parsed = datetime.strptime(text, "%y%m%d%H%M%SZ")
        if parsed.year >= 2050:
            parsed = parsed.replace(year=parsed.year - 100)
    elif tag == _GENERALIZED_TIME:
        parsed = datetime.strptime(text, "%Y%m%d%H%M%SZ")
    else:
        raise ValueError(f"unexpected time tag {tag:#x}")
    return parsed.replace(tzinfo=UTC)


def _common_name(data: bytes, start: int, end: int) -> str:
    """The first CN in a Name, else ``"?"``."""
    for tag, rdn_start, rdn_end in _children(data, start, end):
        if tag != _SET:
            continue
        for _, pair_start, pair_end in _children(data, rdn_start, rdn_end):
            oid, value = _children(data, pair_start, pair_end)[:2]
            if oid[0] == _OID and data[oid[1] : oid[2]] == _COMMON_NAME:
                return data[value[1] : value[2]].decode("utf-8", errors="replace")
    return "?"


def read_certificate(der: bytes) -> CertificateFields:
    """The expiry and names of a DER certificate; ``ValueError`` if it is not one."""
    try:
        tag, start, _ = _tlv(der, 0)
        tbs_tag, tbs_start, tbs_end = _tlv(der, start)
        if tag != _SEQUENCE or tbs_tag != _SEQUENCE:
            raise ValueError("not a certificate")
        tbs = _children(der, tbs_start, tbs_end)
        if tbs and tbs[0][0] == _VERSION_TAG:
            tbs = tbs[1:]
        # serialNumber, signature, issuer, validity, subject, ...
        _, _, issuer, validity, subject = tbs[:5]
        not_after = _children(der, validity[1], validity[2])[1]
        return CertificateFields(
            not_after=_time(not_after[0], der[not_after[1] : not_after[2]]),
            subject=_common_name(der, subject[1], subject[2]),
            issuer=_common_name(der, issuer[1], issuer[2]),
        )
    except (IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a readable certificate: {exc}") from exc
