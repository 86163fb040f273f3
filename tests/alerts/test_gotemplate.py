"""Prometheus's template functions, as Go prints their results."""

from __future__ import annotations

import math

import pytest

from sreworkbook.alerts.gotemplate import TemplateUnsupported, expand, go_float

LABELS = {"job": "api", "instance": "10.0.0.1:8080"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0523, "0.0523"),
        (5.0, "5"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (math.inf, "+Inf"),
        (math.nan, "NaN"),
    ],
)
def test_value_prints_like_go_strconv_g(value: float, text: str) -> None:
    assert go_float(value) == text
    assert expand("{{ $value }}", {}, value) == text


@pytest.mark.parametrize(
    ("template", "value", "text"),
    [
        ("{{ $value | humanizePercentage }}", 0.061234, "6.123%"),
        ("{{ humanizePercentage $value }}", 0.5, "50%"),
        ("{{ $value | humanize }}", 1234567.0, "1.235M"),
        ("{{ $value | humanize }}", 0.00123, "1.23m"),
        ("{{ $value | humanize1024 }}", 2048.0, "2ki"),
        ("{{ $value | humanizeDuration }}", 3.52, "3.52s"),
        ("{{ $value | humanizeDuration }}", 3725.0, "1h 2m 5s"),
        ("{{ $value | humanizeDuration }}", 90061.0, "1d 1h 1m 1s"),
        ("{{ $value | humanizeDuration }}", 0.25, "250ms"),
        ("{{ $value | humanizeDuration }}", 0.0, "0s"),
        ('{{ $value | printf "%.1f" }} %', 93.45, "93.5 %"),
        ('{{ printf "%.0f" $value }}', 12.5, "12"),
        ('{{ printf "%s is %.2f" $labels.job $value }}', 1.0, "api is 1.00"),
        (
            '{{ $labels.instance }} / {{ .Labels.job }} / {{ index $labels "job" }}',
            0.0,
            "10.0.0.1:8080 / api / api",
        ),
        ("{{ $labels.missing }}|", 0.0, "|"),
        ("a  {{- $labels.job -}}  b", 0.0, "aapib"),
        ("{{/* a comment */}}x", 0.0, "x"),
        ("{{ $labels.job | toUpper }}", 0.0, "API"),
    ],
)
def test_functions(template: str, value: float, text: str) -> None:
    assert expand(template, LABELS, value) == text


@pytest.mark.parametrize(
    "template",
    [
        "{{ if gt $value 1.0 }}high{{ end }}",
        '{{ with query "up" }}{{ . }}{{ end }}',
        "{{ $x := 1 }}",
        "{{ $value | reReplaceAll }}",
        '{{ printf "%d" $value }}',
    ],
)
def test_what_cannot_be_reproduced_says_so(template: str) -> None:
    with pytest.raises(TemplateUnsupported):
        expand(template, LABELS, 1.5)
