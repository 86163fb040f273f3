"""What a PromQL expression reads: its vector selectors, and how far back it looks.

A small scan over :mod:`sreworkbook.alerts.expr`'s tokens: function names, aggregation
operators, grouping label lists, label matchers, ranges, offsets and keywords are skipped, and
what is left are selectors (``name``, ``name{...}`` or ``{...}``) written as in the expression.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sreworkbook.alerts.durations import parse_duration_ms
from sreworkbook.alerts.expr import _tokens

__all__ = ["LOOKBACK_MS", "PromQLUnsupported", "lead_ms", "selectors"]

#: Prometheus's lookback for instant selectors.
LOOKBACK_MS = 5 * 60_000
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = _GROUPING | {"bool", "and", "or", "unless", "offset", "inf", "nan", "atan2"}


class PromQLUnsupported(ValueError):
    """The expression cannot be scanned (unbalanced, or uses ``@`` or a negative offset)."""


def _matching(tokens: Sequence[tuple[str, str, int]], at: int) -> int:
    """Index of the bracket closing the one opened at ``at``."""
    opener = tokens[at][1]
    closer = {"(": ")", "[": "]", "{": "}"}[opener]
    depth = 0
    for index in range(at, len(tokens)):
        text = tokens[index][1] if tokens[index][0] == "op" else ""
        depth += text == opener
        depth -= text == closer
        if depth == 0:
            return index
    raise PromQLUnsupported("unbalanced brackets in the expression")


def selectors(expr: str) -> list[str]:
    """The vector selectors of ``expr`` as written (``name{matchers}``), in order, unique."""
    lexed = _tokens(expr)
    if lexed is None:
        raise PromQLUnsupported("the expression does not lex")
    tokens = [t for t in lexed if t[0] != "comment"]
    found: list[str] = []
    i = 0
    while i < len(tokens):
        kind, text, offset = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "", -1)
        if kind == "op" and text == "[":
            i = _matching(tokens, i) + 1
            continue
        if kind == "word" and text.lower() in _GROUPING:
            i = _matching(tokens, i + 1) + 1 if nxt[1] == "(" else i + 1
            continue
        if kind == "word" and text.lower() == "offset":
            i += 1
            while i < len(tokens) and (tokens[i][0] == "number" or tokens[i][1] == "-"):
                i += 2 if i + 1 < len(tokens) and tokens[i + 1][0] == "word" else 1
            continue
        if kind == "word" and (text.lower() in _KEYWORDS or nxt[1] == "("):
            i += 1
            continue
        if kind == "word" and nxt[0] == "word" and nxt[1].lower() in ("by", "without"):
            i += 1
            continue
        if kind == "word" or (kind == "op" and text == "{"):
            end = i
            if kind == "word" and nxt[1] == "{":
                end = _matching(tokens, i + 1)
            elif kind == "op":
                end = _matching(tokens, i)
            last = tokens[end]
            selector = expr[offset : last[2] + len(last[1])]
            if selector not in found:
                found.append(selector)
            i = end + 1
            continue
        i += 1
    return found


def lead_ms(expr: str) -> int:
    """How far back from an evaluation ``expr`` can look: its longest range (all ranges summed
    when it has a subquery, an upper bound), its offsets, plus the lookback."""
    lexed = _tokens(expr)
    if lexed is None:
        raise PromQLUnsupported("the expression does not lex")
    if any(kind == "op" and text == "@" for kind, text, _ in lexed):
        raise PromQLUnsupported("the expression uses the @ modifier")
    # Strings and comments out, so that a label value like "[45].." is not read as a range.
    clean = "".join(
        '""' if kind == "string" else text + " " for kind, text, _ in lexed if kind != "comment"
    )
    try:
        spans = [r.replace(" ", "") for r in re.findall(r"\[([^\]]+)\]", clean)]
        ranges = [parse_duration_ms(r.split(":")[0]) for r in spans]
        total = LOOKBACK_MS + (
            sum(ranges) if any(":" in r for r in spans) else max(ranges, default=0)
        )
        for sign, shift in re.findall(r"\boffset\s+(-?)\s*((?:\d+\s*[a-z]+\s*)+)", clean):
            if sign:
                raise PromQLUnsupported("the expression uses a negative offset")
            total += parse_duration_ms(shift.replace(" ", ""))
    except ValueError as exc:
        raise PromQLUnsupported(f"cannot read a duration: {exc}") from None
    return total
