"""Splitting ``<signal> <op> <number>`` at the top level of a PromQL expression."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sreworkbook.alerts.expr import Comparison, compare, split_threshold


@pytest.mark.parametrize(
    ("expr", "signal", "op", "threshold"),
    [
        ("up == 0", "up", "==", 0.0),
        ("max(mem) > 90", "max(mem)", ">", 90.0),
        ("a / b > 0.05", "a / b", ">", 0.05),
        ('rate(x{code=~"5..",a=">"}[5m]) >= 1e-3', 'rate(x{code=~"5..",a=">"}[5m])', ">=", 1e-3),
        ("x < -5", "x", "<", -5.0),
        ("x != (2)", "x", "!=", 2.0),
        ("x <= 0x10", "x", "<=", 16.0),
        ("x > +Inf", "x", ">", math.inf),
        ("(a > 1) > 2", "(a > 1)", ">", 2.0),
        ("a > 1 > 2", "a > 1", ">", 2.0),
        ("x # the signal\n  > 5 # the limit", "x", ">", 5.0),
        (
            "histogram_quantile(0.95, sum by (le) (rate(h[5m]))) > 2",
            "histogram_quantile(0.95, sum by (le) (rate(h[5m])))",
            ">",
            2.0,
        ),
    ],
)
def test_splits_threshold_rules(expr: str, signal: str, op: str, threshold: float) -> None:
    assert split_threshold(expr) == Comparison(signal, op, threshold)


@pytest.mark.parametrize(
    "expr",
    [
        "up",
        "a > bool 5",
        "a > 1 and b",
        "a > 1 or b > 2",
        "a unless b > 1",
        "a > b",
        "5 < a",
        "(a > 5)",
        "a > 5 offset 1m",
        "sum(rate(x[5m])) by (job) > on(job) b",
        "a > 1 * 2",
        '"unterminated > 5',
        "a > ",
    ],
)
def test_keeps_other_expressions_whole(expr: str) -> None:
    assert split_threshold(expr) is None


def test_expr_puts_a_new_threshold_in() -> None:
    split = split_threshold("x # comment\n > 5")
    assert split is not None
    assert split.expr(7.5) == "x > 7.5"
    assert split.expr() == "x > 5"


def test_compare_follows_promql_nan_rules() -> None:
    values = np.array([1.0, 5.0, np.nan, 9.0])
    assert compare(values, ">", 4).tolist() == [False, True, False, True]
    assert compare(values, "==", 5).tolist() == [False, True, False, False]
    assert compare(values, "!=", 5).tolist() == [True, False, True, True]
