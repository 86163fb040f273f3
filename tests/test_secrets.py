"""Secret references, URI masking and scrubbing."""

from __future__ import annotations

import pytest

from sreworkbook.exceptions import SecretError
from sreworkbook.secrets import Scrubber, mask_text, mask_uri, references, resolve


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        (
            "mongodb://app:s3cret@db:27017/tradeai?authSource=admin",
            "mongodb://app:***@db:27017/tradeai?authSource=admin",
        ),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("http://host:9090/api?token=abc&x=1", "http://host:9090/api?token=***&x=1"),
        ("mongodb://db:27017/", "mongodb://db:27017/"),
        ("${TRADEAI_MONGO_URI}", "${TRADEAI_MONGO_URI}"),
    ],
)
def test_mask_uri(uri: str, shown: str) -> None:
    assert mask_uri(uri) == shown


def test_references_and_resolve() -> None:
    assert references("Bearer ${A} and ${B_2}") == ["A", "B_2"]
    assert resolve("Bearer ${A}", {"A": "tok"}) == "Bearer tok"
    with pytest.raises(SecretError) as info:
        resolve("${MISSING}", {}, key="service.headers.Authorization")
    assert info.value.name == "MISSING"
    assert isinstance(info.value, KeyError)


def test_mask_text_finds_uris_in_messages() -> None:
    text = "failed to connect to mongodb://root:pa55@10.0.0.1:27017 (timeout)"
    assert mask_text(text) == "failed to connect to mongodb://root:***@10.0.0.1:27017 (timeout)"
    assert mask_text("redis://:pa55@cache:6379/0 refused") == "redis://:***@cache:6379/0 refused"


def test_scrubber_removes_values_and_uri_passwords() -> None:
    scrubber = Scrubber.from_references(
        ["URI", "TOKEN", "UNSET"],
        {"URI": "mongodb://u:topsecretpw@h:1/", "TOKEN": "tok-123456"},
    )
    text = "uri mongodb://u:topsecretpw@h:1/ pw topsecretpw token tok-123456"
    out = scrubber.scrub(text)
    assert "topsecretpw" not in out and "tok-123456" not in out
    assert not Scrubber([])
    assert Scrubber(["ab"]).scrub("ab") == "ab"  # too short to be a secret worth scrubbing
