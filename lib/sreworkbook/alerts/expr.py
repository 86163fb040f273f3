"""Split an alert expression ``<signal> <op> <scalar>`` into signal, comparison and threshold.

A small PromQL tokenizer finds the comparison at the top level of the expression: outside
parentheses, brackets, braces, strings and comments, and not inside an ``and``/``or``/
``unless`` (which bind looser than comparisons, so ``a > 1 and b`` is not a threshold rule).
The right-hand side must be a number literal (``5``, ``-0.05``, ``1e3``, ``0x1F``, ``Inf``,
possibly in parentheses) and the operator must not carry ``bool`` (which turns the filter
into a 0/1 value for every series). Anything else is kept whole and backtested as it is.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["COMPARISONS", "Comparison", "compare", "split_threshold"]

COMPARISONS = (">", ">=", "<", "<=", "==", "!=")

_NUMPY_OPS: dict[str, Callable[[npt.NDArray[np.float64], float], npt.NDArray[np.bool_]]] = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_PY_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){}\[\],:@])
  | (?P<word>[A-Za-z_:][A-Za-z0-9_:]*)
    """,
    re.VERBOSE,
)
_OPEN, _CLOSE = "([{", ")]}"
_SET_OPS = {"and", "or", "unless"}


@dataclass(frozen=True)
class Comparison:
    """``signal op threshold``: the parts of a threshold rule's expression."""

    signal: str
    op: str
    threshold: float

    def expr(self, threshold: float | None = None) -> str:
        """The expression again, with ``threshold`` in place of the original one if given."""
        return f"{self.signal} {self.op} {format_number(self.threshold if threshold is None else threshold)}"


def compare(values: npt.NDArray[np.float64], op: str, threshold: float) -> npt.NDArray[np.bool_]:
    """Where ``values op threshold`` holds, as PromQL's filter does (NaN only passes ``!=``)."""
    return np.asarray(_NUMPY_OPS[op](values, threshold), dtype=np.bool_)


def compare_one(value: float, op: str, threshold: float) -> bool:
    """``value op threshold`` for one value, with PromQL's (IEEE) NaN rules."""
    return _PY_OPS[op](value, threshold)


def format_number(value: float) -> str:
    """``value`` as a PromQL number literal (``Inf``, ``-Inf``, ``NaN``, shortest repr)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _tokens(expr: str) -> list[tuple[str, str, int]] | None:
    """(kind, text, offset) for each token but spaces; ``None`` if the text does not lex."""
    found: list[tuple[str, str, int]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            return None
        kind = match.lastgroup or ""
        if kind != "space":
            found.append((kind, match.group(), position))
        position = match.end()
    return found


def _number(tokens: list[tuple[str, str, int]]) -> float | None:
    """The value of a number literal spread over ``tokens`` (sign, parentheses), else None."""
    while len(tokens) >= 2 and tokens[0][1] == "(" and tokens[-1][1] == ")":
        tokens = tokens[1:-1]
    sign = 1.0
    while tokens and tokens[0][1] in ("+", "-"):
        sign = -sign if tokens[0][1] == "-" else sign
        tokens = tokens[1:]
        while len(tokens) >= 2 and tokens[0][1] == "(" and tokens[-1][1] == ")":
            tokens = tokens[1:-1]
    if len(tokens) != 1:
        return None
    kind, text, _ = tokens[0]
    if kind == "number":
        value = float(int(text, 16)) if text[:2].lower() == "0x" else float(text)
        return sign * value
    if kind == "word" and text.lower() in ("inf", "nan"):
        return sign * float(text.lower())
    return None


def split_threshold(expr: str) -> Comparison | None:
    """``expr`` as signal, operator and threshold when it has that shape; else ``None``.

    >>> split_threshold('max(system_memory_usage_percent) > 90')
    Comparison(signal='max(system_memory_usage_percent)', op='>', threshold=90.0)
    """
    lexed = _tokens(expr)
    if not lexed:
        return None
    tokens = [t for t in lexed if t[0] != "comment"]
    depth = 0
    top_ops: list[int] = []
    for index, (kind, text, _) in enumerate(tokens):
        if kind == "op" and text in _OPEN:
            depth += 1
        elif kind == "op" and text in _CLOSE:
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0:
            if kind == "word" and text.lower() in _SET_OPS:
                return None
            if kind == "op" and text in COMPARISONS:
                top_ops.append(index)
    if depth != 0 or not top_ops:
        return None
    at = top_ops[-1]  # comparisons are left-associative: the last one applies last
    rhs = tokens[at + 1 :]
    if rhs and rhs[0][0] == "word" and rhs[0][1].lower() == "bool":
        return None
    threshold = _number(rhs)
    if threshold is None or at == 0:
        return None
    cut = tokens[at][2]
    # The signal is the text before the operator, without comments (they run to line end).
    pieces, position = [], 0
    for kind, text, offset in lexed:
        if offset >= cut:
            break
        if kind == "comment":
            pieces.append(expr[position:offset])
            position = offset + len(text)
    pieces.append(expr[position:cut])
    signal = "".join(pieces).strip()
    return Comparison(signal=signal, op=tokens[at][1], threshold=threshold)
