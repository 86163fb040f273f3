"""The demo API's fault switch: what it injects, parsed strictly, and the client that sets it."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sreworkbook.config import Environment
from sreworkbook.exceptions import ParameterError, SandboxError
from sreworkbook.results import record
from sreworkbook.sandbox.model import COMPONENTS

__all__ = ["FAULT_PATH", "FaultState", "set_fault"]

FAULT_PATH = "/__fault"
_ALIASES = {"aiService": "ai", "ai_service": "ai", "mongo": "mongodb"}
_KEYS = ("latency_ms", "error_ratio", "down", "memory_pct")


@dataclass(frozen=True)
class FaultState:
    """What the demo API injects: extra latency on every response, a share of API requests
    answered 500, components reported down, and an override of the memory gauge."""

    latency_ms: float = 0.0
    error_ratio: float = 0.0
    down: tuple[str, ...] = ()
    memory_pct: float | None = None

    @property
    def active(self) -> bool:
        return self != FaultState()

    def is_down(self, component: str) -> bool:
        return component in self.down

    def to_dict(self) -> dict[str, Any]:
        return record(self)

    @classmethod
    def parse(cls, data: Any) -> FaultState:
        """A fault state from a JSON object; a bad key or value raises :class:`ParameterError`.

        Missing keys take their "no fault" value, so ``{}`` switches every fault off.
        """
        if not isinstance(data, Mapping):
            raise ParameterError("must be a JSON object", source=FAULT_PATH)
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ParameterError(
                f"unknown key, expected one of: {', '.join(_KEYS)}",
                source=FAULT_PATH,
                key=unknown[0],
            )
        latency = _number(data.get("latency_ms", 0), "latency_ms", 0, 600_000)
        ratio = _number(data.get("error_ratio", 0), "error_ratio", 0, 1)
        memory = data.get("memory_pct")
        memory_pct = None if memory is None else _number(memory, "memory_pct", 0, 100)
        down = data.get("down", [])
        if isinstance(down, str) or not isinstance(down, Sequence):
            raise ParameterError("must be a list of component names", source=FAULT_PATH, key="down")
        names = []
        for raw in down:
            name = _ALIASES.get(str(raw), str(raw))
            if name not in COMPONENTS:
                valid = ", ".join(COMPONENTS)
                raise ParameterError(
                    f"unknown component {raw!r}, did you mean one of: {valid}",
                    source=FAULT_PATH,
                    key="down",
                )
            if name not in names:
                names.append(name)
        return cls(latency, ratio, tuple(sorted(names)), memory_pct)


def _number(value: Any, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ParameterError(f"must be a number, got {value!r}", source=FAULT_PATH, key=key)
    if not low <= value <= high:
        raise ParameterError(
            f"must be between {low:g} and {high:g}, got {value:g}", source=FAULT_PATH, key=key
        )
    return float(value)


def set_fault(
    env: Environment,
    *,
    latency_ms: float = 0,
    error_ratio: float = 0.0,
    down: Sequence[str] = (),
    memory_pct: float | None = None,
    timeout_s: float = 5,
) -> None:
    """Switch the running demo API's faults; call with no fault arguments to switch all off.

    Raises :class:`ParameterError` for a bad value and :class:`SandboxError` when the demo
    API (``env.service.base_url``) does not accept the change.
    """
    if env.service is None:
        raise SandboxError("the environment has no service section", component="api")
    state = FaultState.parse(
        {
            "latency_ms": latency_ms,
            "error_ratio": error_ratio,
            "down": list(down),
            "memory_pct": memory_pct,
        }
    )
    url = env.service.base_url + FAULT_PATH
    body = json.dumps(state.to_dict()).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise SandboxError(f"{url} answered {exc.code}: {detail}", component="api") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SandboxError(f"cannot reach {url}: {exc}", component="api") from exc
