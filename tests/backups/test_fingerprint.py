"""Order-free content fingerprints: pure properties, and an archive against its database."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import bson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sreworkbook.backups.fingerprint import (
    Fingerprint,
    differences,
    document_digest,
    fingerprint_archive,
    fingerprint_database,
    fingerprint_documents,
)
from sreworkbook.backups.writer import CollectionDump, write_archive
from sreworkbook.exceptions import ArchiveError

DOCS = [bson.encode({"_id": i, "v": "x" * (i % 13)}) for i in range(200)]


@given(st.randoms(use_true_random=False))
def test_order_does_not_matter(rng: random.Random) -> None:
    shuffled = list(DOCS)
    rng.shuffle(shuffled)
    assert fingerprint_documents(shuffled) == fingerprint_documents(DOCS)


@given(st.integers(0, len(DOCS) - 1), st.integers(0, 200))
def test_any_lost_changed_or_duplicated_document_shows(index: int, byte: int) -> None:
    whole = fingerprint_documents(DOCS)
    lost = DOCS[:index] + DOCS[index + 1 :]
    assert fingerprint_documents(lost) != whole
    assert fingerprint_documents([*DOCS, DOCS[index]]).digest != whole.digest
    changed = bytearray(DOCS[index])
    changed[min(byte, len(changed) - 2)] ^= 0x01
    assert fingerprint_documents([*lost, bytes(changed)]).digest != whole.digest


def test_fingerprints_add_up_and_compare() -> None:
    half = len(DOCS) // 2
    assert fingerprint_documents(DOCS[:half]) + fingerprint_documents(DOCS[half:]) == (
        fingerprint_documents(DOCS)
    )
    assert Fingerprint().hex == "0" * 32
    assert document_digest(DOCS[0]) < 1 << 128
    a = {"x": fingerprint_documents(DOCS), "y": Fingerprint()}
    assert differences(a, a) == {}
    assert set(differences(a, {"x": Fingerprint()})) == {"x", "y"}


def test_archive_fingerprints_cover_every_listed_collection(tmp_path: Path) -> None:
    path = tmp_path / "a.archive.gz"
    write_archive(
        [
            CollectionDump("shop", "orders", [bson.decode(d) for d in DOCS]),
            CollectionDump("shop", "empty", []),
            CollectionDump("other", "orders", [{"_id": 1}]),
        ],
        path,
    )
    prints = fingerprint_archive(path, database="shop")
    assert prints == {"orders": fingerprint_documents(DOCS), "empty": Fingerprint()}
    cut = tmp_path / "cut.archive.gz"
    cut.write_bytes(path.read_bytes()[:-60])
    with pytest.raises(ArchiveError):
        fingerprint_archive(cut)


@pytest.mark.integration
def test_a_database_and_its_archive_agree(mongo_client: Any, tmp_path: Path) -> None:
    db = mongo_client["fp_test"]
    try:
        db.orders.insert_many([bson.decode(d) for d in DOCS])
        db.create_collection("empty")
        prints = fingerprint_database(mongo_client, "fp_test", workers=2)
        assert prints == {"empty": Fingerprint(), "orders": fingerprint_documents(DOCS)}
        assert fingerprint_database(mongo_client, "fp_test", collections=["orders"]) == {
            "orders": fingerprint_documents(DOCS)
        }
    finally:
        mongo_client.drop_database("fp_test")
