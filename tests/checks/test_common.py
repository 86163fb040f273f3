"""Threshold grading and safe error text shared by the checks."""

from __future__ import annotations

import pytest

from sreworkbook.checks._common import budget, error_text, grade_above, grade_below
from sreworkbook.results import Status
from sreworkbook.secrets import Scrubber


@pytest.mark.parametrize(
    ("value", "status"),
    [(79.99, Status.OK), (80.0, Status.OK), (80.01, Status.WARN), (90.0, Status.WARN),
     (90.01, Status.CRIT)],
)  # fmt: skip
def test_grade_above_exactly_at_a_threshold_does_not_cross(value: float, status: Status) -> None:
    assert grade_above(value, warn=80.0, crit=90.0) is status


@pytest.mark.parametrize(
    ("value", "status"),
    [(30.0, Status.OK), (21.0, Status.OK), (20.99, Status.WARN), (7.0, Status.WARN),
     (6.99, Status.CRIT), (-1.0, Status.CRIT)],
)  # fmt: skip
def test_grade_below(value: float, status: Status) -> None:
    assert grade_below(value, warn=21.0, crit=7.0) is status


def test_budget_leaves_room_before_the_deadline() -> None:
    assert budget(5.0) == 4.0
    assert budget(0.01) == 0.05


def test_error_text_masks_uri_passwords_and_known_values() -> None:
    exc = ConnectionError("auth to redis://:pw-one@host:6379 failed; token tok-secret-99")
    assert error_text(exc) == (
        "ConnectionError: auth to redis://:***@host:6379 failed; token tok-secret-99"
    )
    scrubbed = error_text(exc, Scrubber(["tok-secret-99"]))
    assert "tok-secret-99" not in scrubbed and "pw-one" not in scrubbed


def test_error_text_is_one_short_line_and_truncated_after_scrubbing() -> None:
    secret = "s" * 40
    exc = ValueError(("x" * 280) + secret + "\nsecond line")
    text = error_text(exc, Scrubber([secret]))
    assert len(text) <= 300 and "\n" not in text and "sss" not in text
    assert error_text(KeyError()) == "KeyError"
