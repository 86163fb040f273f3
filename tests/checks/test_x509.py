"""The certificate reader (``cryptography.x509``) and hostname coverage by the SANs."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from sreworkbook.checks._x509 import covers, read_certificate


def make(
    *,
    not_after: dt.datetime,
    subject: list[x509.NameAttribute],
    issuer: list[x509.NameAttribute] | None = None,
    rsa_key: bool = False,
    sans: list[x509.GeneralName] | None = None,
) -> bytes:
    key = (
        rsa.generate_private_key(65537, 2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(x509.Name(issuer or subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=400))
        .not_valid_after(not_after)
    )
    names = [x509.DNSName("example.com")] if sans is None else sans
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


CN = NameOID.COMMON_NAME


@pytest.mark.parametrize(
    "not_after",
    [
        dt.datetime(2027, 3, 4, 5, 6, 7, tzinfo=dt.UTC),  # UTCTime
        dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC),  # last UTCTime year
        dt.datetime(2050, 1, 1, 0, 0, 0, tzinfo=dt.UTC),  # GeneralizedTime from 2050
        dt.datetime(2120, 6, 1, 12, 0, 0, tzinfo=dt.UTC),
    ],
)
def test_reads_not_after_in_both_time_encodings(not_after: dt.datetime) -> None:
    der = make(not_after=not_after, subject=[x509.NameAttribute(CN, "api.example.com")])
    assert read_certificate(der).not_after == not_after
    assert (
        read_certificate(der).not_after == x509.load_der_x509_certificate(der).not_valid_after_utc
    )


def test_reads_common_names_with_long_form_lengths() -> None:
    der = make(
        not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        subject=[
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TradeAI"),
            x509.NameAttribute(CN, "app.tradeai.example.com"),
        ],
        issuer=[
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ex"),
            x509.NameAttribute(CN, "Ex CA R3"),
        ],
        rsa_key=True,
    )
    assert len(der) > 700  # lengths in two bytes
    fields = read_certificate(der)
    assert (fields.subject, fields.issuer) == ("app.tradeai.example.com", "Ex CA R3")


def test_a_san_only_certificate_shows_its_name_and_sans() -> None:
    """No CN at all (as many ACME certificates): the whole name and the SANs, never "?"."""
    der = make(
        not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        subject=[x509.NameAttribute(NameOID.ORGANIZATION_NAME, "No CN Inc")],
        sans=[x509.DNSName("api.tradeai.example"), x509.DNSName("*.tradeai.example")],
    )
    fields = read_certificate(der)
    assert fields.subject == "O=No CN Inc"
    assert fields.sans == ("api.tradeai.example", "*.tradeai.example")
    empty = make(not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), subject=[], sans=[
        x509.DNSName("only.example")])  # fmt: skip
    assert read_certificate(empty).subject == "(empty)"
    assert read_certificate(empty).sans == ("only.example",)


def test_a_bmpstring_common_name_is_decoded() -> None:
    """UTF-16 (BMPString) names, as some enterprise CAs write them: not mangled."""
    name = "Ünïcødé 証明書 CA"
    der = make(
        not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        subject=[x509.NameAttribute(CN, name, _type=_ASN1Type.BMPString)],
    )
    assert name.encode("utf-16-be") in der  # really a BMPString on the wire
    assert read_certificate(der).subject == name


def test_ip_sans_are_listed_as_text() -> None:
    der = make(
        not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        subject=[x509.NameAttribute(CN, "x")],
        sans=[
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ],
    )
    assert read_certificate(der).sans == ("localhost", "127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("sans", "host", "covered"),
    [
        (("api.example.com",), "api.example.com", True),
        (("API.Example.com",), "api.example.COM.", True),  # case and a trailing dot
        (("*.example.com",), "api.example.com", True),
        (("*.example.com",), "example.com", False),  # a wildcard needs a label
        (("*.example.com",), "a.b.example.com", False),  # exactly one label
        (("api.example.com",), "www.example.com", False),
        ((), "api.example.com", False),  # no SANs: not covered (the CN is not consulted)
        (("127.0.0.1",), "127.0.0.1", True),
        (("127.0.0.1",), "127.0.0.2", False),
        (("::1",), "::1", True),
        (("localhost",), "127.0.0.1", False),  # an IP matches IP SANs only
        (("*.0.0.1",), "127.0.0.1", False),
    ],
)
def test_covers(sans: tuple[str, ...], host: str, covered: bool) -> None:
    assert covers(sans, host) is covered


@pytest.mark.parametrize(
    "der", [b"", b"\x30", b"\x02\x01\x00", b"\x30\x82\xff\xff\x00", b"garbage!"]
)
def test_not_a_certificate_is_a_value_error(der: bytes) -> None:
    with pytest.raises(ValueError):
        read_certificate(der)


def test_a_truncated_certificate_is_a_value_error() -> None:
    der = make(
        not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), subject=[x509.NameAttribute(CN, "x")]
    )
    with pytest.raises(ValueError):
        read_certificate(der[: len(der) // 3])
