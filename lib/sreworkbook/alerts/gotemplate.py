"""Expand Prometheus alert templates (Go ``text/template``) as Prometheus 2.42 would.

Only what annotations commonly use is supported, so that a ``promtool test rules`` file can
state the exact annotations an alert gets: ``$labels.NAME``, ``.Labels.NAME``, ``index $labels
"NAME"``, ``$value``, ``.Value``, string and number literals, pipelines, and the functions
``humanize``, ``humanize1024``, ``humanizePercentage``, ``humanizeDuration``, ``printf``,
``toUpper``, ``toLower``, ``title``. Anything else (``if``, ``range``, ``query``, variables)
raises :class:`TemplateUnsupported`, so a caller can leave that alert out rather than guess.

Numbers are printed as Go prints them: ``$value`` as ``strconv.FormatFloat(v, 'g', -1, 64)``
(``1e+06``), ``printf "%.1f"`` with correct rounding, ``%.4g`` as C does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal

__all__ = ["TemplateUnsupported", "expand", "go_float"]

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)
_ARG = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\S+')
_GO_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


class TemplateUnsupported(ValueError):
    """The template uses something :func:`expand` does not reproduce."""


def go_float(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(value, 'g', -1, 64)`` (what ``{{ $value }}`` prints)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # position of the decimal point
    exp = point - 1
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:  # strconv's shortest 'g' decides with precision 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{minus}{text}{'0' * (point - len(text))}"
    return f"{minus}{text[:point]}.{text[point:]}"


def _g(value: float, precision: int) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise TemplateUnsupported("a boolean is not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise TemplateUnsupported(f"{value!r} is not a number") from None
    raise TemplateUnsupported(f"{value!r} is not a number")


def _humanize(value: object) -> str:
    v = _number(value)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g(v, 4)
    if abs(v) >= 1:
        return _large(v, 1000, ("k", "M", "G", "T", "P", "E", "Z", "Y"))
    return _small(v)


def _large(v: float, base: int, prefixes: tuple[str, ...]) -> str:
    """``v`` of 1 or more divided by ``base`` under each prefix in turn until it is below."""
    prefix = ""
    for p in prefixes:
        if abs(v) < base:
            break
        prefix, v = p, v / base
    return f"{_g(v, 4)}{prefix}"


def _small(v: float, unit: str = "") -> str:
    """``v`` below 1 with an SI prefix (m, u, n, ...), as Prometheus's humanize writes it."""
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g(v, 4)}{prefix}{unit}"


def _humanize1024(value: object) -> str:
    v = _number(value)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g(v, 4)
    return _large(v, 1024, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"))


def _humanize_duration(value: object) -> str:
    v = _number(value)
    if math.isnan(v) or math.isinf(v):
        return _g(v, 4)
    if v == 0:
        return f"{_g(v, 4)}s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        total = int(v)
        seconds, minutes = total % 60, (total // 60) % 60
        hours, days = (total // 3600) % 24, total // 86_400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g(v, 4)}s"
    return _small(v, "s")


def _percentage(value: object) -> str:
    return f"{_g(_number(value) * 100, 4)}%"


def _printf(fmt: object, *args: object) -> str:
    if not isinstance(fmt, str):
        raise TemplateUnsupported("printf needs a format string")
    queue = list(args)

    def verb(match: re.Match[str]) -> str:
        flags, width, precision, kind = match.groups()
        if kind == "%":
            return "%"
        if not queue:
            raise TemplateUnsupported(f"printf {fmt!r} has too few arguments")
        arg = queue.pop(0)
        spec = f"%{flags}{width or ''}{'.' + precision if precision is not None else ''}"
        if kind in "feEgG" and isinstance(arg, int | float):
            if math.isnan(float(arg)) or math.isinf(float(arg)):
                return go_float(float(arg))
            return (spec + kind) % float(arg)
        if kind == "d" and isinstance(arg, int) and not isinstance(arg, bool):
            return (spec + kind) % arg
        if kind in "sv" and isinstance(arg, str):
            return (spec + "s") % arg
        if kind == "v" and isinstance(arg, float) and not (flags or width or precision):
            return go_float(arg)
        raise TemplateUnsupported(f"printf verb %{kind} with {type(arg).__name__}")

    out = _GO_VERB.sub(verb, fmt)
    if queue:
        raise TemplateUnsupported(f"printf {fmt!r} has too many arguments")
    return out


_FUNCTIONS: dict[str, Callable[..., str]] = {
    "humanize": _humanize,
    "humanize1024": _humanize1024,
    "humanizePercentage": _percentage,
    "humanizeDuration": _humanize_duration,
    "printf": _printf,
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
}


def _literal(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    body = token[1:-1]
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), body)


def _operand(token: str, labels: Mapping[str, str], value: float) -> object:
    if token in ("$value", ".Value"):
        return value
    for prefix in ("$labels.", ".Labels."):
        if token.startswith(prefix):
            return labels.get(token[len(prefix) :], "")
    if token[0] in '"`':
        return _literal(token)
    try:
        return int(token) if re.fullmatch(r"-?\d+", token) else float(token)
    except ValueError:
        raise TemplateUnsupported(f"{token!r} is not supported in templates here") from None


def _command(text: str, piped: object | None, labels: Mapping[str, str], value: float) -> object:
    tokens = _ARG.findall(text.strip())
    if not tokens:
        raise TemplateUnsupported("empty command")
    head, rest = tokens[0], tokens[1:]
    if head == "index":
        if len(rest) != 2 or rest[0] != "$labels" or rest[1][0] not in '"`':
            raise TemplateUnsupported('only index $labels "NAME" is supported')
        return labels.get(_literal(rest[1]), "")
    if head in _FUNCTIONS:
        args = [_operand(t, labels, value) for t in rest]
        if piped is not None:
            args.append(piped)
        return _FUNCTIONS[head](*args)
    if rest or piped is not None:
        raise TemplateUnsupported(f"{head!r} is not a supported function")
    return _operand(head, labels, value)


def _text(result: object) -> str:
    if isinstance(result, float):
        return go_float(result)
    return str(result)


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """``template`` expanded for an alert with ``labels`` and sample ``value``."""
    pieces: list[str] = []
    position = 0
    trim_next = False
    for action in _ACTION.finditer(template):
        before = template[position : action.start()]
        if trim_next:
            before = before.lstrip()
        if action.group(1):
            before = before.rstrip()
        pieces.append(before)
        body = action.group(2).strip()
        trim_next = bool(action.group(3))
        position = action.end()
        if body.startswith("/*") and body.endswith("*/"):
            continue
        if re.match(
            r"^(if|else|end|range|with|define|template|block)\b|:=|^\$[a-zA-Z_]+\s*=", body
        ):
            raise TemplateUnsupported(f"{{{{ {body} }}}} is not supported")
        result: object | None = None
        for command in body.split("|"):
            result = _command(command, result, labels, value)
        pieces.append(_text(result))
    tail = template[position:]
    pieces.append(tail.lstrip() if trim_next else tail)
    return "".join(pieces)
