"""Execute a notebook with papermill; parameters are checked against what it declares."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import IO, Any

import nbformat
import papermill
import yaml
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError
from traitlets import Type, default

from sreworkbook.exceptions import (
    MissingFileError,
    NotebookError,
    NotebookTimeout,
    ParameterError,
)

__all__ = [
    "CellStart",
    "DeclaredParameter",
    "Limits",
    "coerce_parameters",
    "declared_parameters",
    "execute",
]


@dataclass(frozen=True)
class DeclaredParameter:
    """A parameter a notebook declares in its cell tagged ``parameters``."""

    name: str
    type_name: str
    default: str
    help: str


def declared_parameters(notebook: Path) -> dict[str, DeclaredParameter]:
    """The parameters ``notebook`` declares, read by papermill (``name: type = default  # help``)."""
    if not notebook.is_file():
        raise MissingFileError(str(notebook), what="notebook")
    try:
        found = papermill.inspect_notebook(str(notebook))
    except (ValueError, OSError, nbformat.ValidationError) as exc:
        raise ParameterError(f"cannot read the notebook: {exc}", source=str(notebook)) from exc
    return {
        name: DeclaredParameter(
            name=name,
            type_name=str(info.get("inferred_type_name") or "None"),
            default=str(info.get("default")),
            help=str(info.get("help") or ""),
        )
        for name, info in found.items()
    }


_CASTS: dict[str, Any] = {"int": int, "float": float, "str": str}


@dataclass(frozen=True)
class CellStart:
    """A code cell about to run: its place among the notebook's code cells, its first line."""

    position: int
    total: int
    first_line: str


class _CellTracker:
    """nbclient's ``on_notebook_start``/``on_cell_start`` hooks: which code cell is running
    (for a run stopped by its deadline), passed on to ``on_cell`` (the progress line)."""

    def __init__(self, on_cell: Callable[[CellStart], None] | None) -> None:
        self.on_cell = on_cell
        self.code: list[int] = []
        self.running: int | None = None  # index in the notebook's cells
        self.started: CellStart | None = None

    def notebook_start(self, notebook: Any, **_: Any) -> None:
        self.code[:] = [
            i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()
        ]

    def cell_start(self, cell: Any, cell_index: int, **_: Any) -> None:
        if cell_index in self.code:
            lines = [x.strip() for x in cell.source.splitlines() if x.strip()]
            self.running = cell_index
            self.started = CellStart(
                self.code.index(cell_index) + 1, len(self.code), lines[0] if lines else ""
            )
            if self.on_cell is not None:
                self.on_cell(self.started)

    def hooks(self) -> dict[str, Any]:
        return {"on_notebook_start": self.notebook_start, "on_cell_start": self.cell_start}


def coerce_parameters(
    declared: Mapping[str, DeclaredParameter], raw: Mapping[str, str], *, notebook: str
) -> dict[str, Any]:
    """``raw`` (from ``-p NAME VALUE``) typed as the notebook declares; unknown names raise."""
    typed: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in declared:
            valid = ", ".join(sorted(declared)) or "none"
            raise ParameterError(
                f"unknown parameter (this notebook takes: {valid})", source=notebook, key=name
            )
        type_name = declared[name].type_name
        try:
            if type_name == "bool":
                value = yaml.safe_load(text)
                if not isinstance(value, bool):
                    raise ValueError(f"expected true or false, got {text!r}")
                typed[name] = value
            elif type_name in _CASTS:
                typed[name] = _CASTS[type_name](text)
            elif type_name.startswith(("list", "dict")):
                typed[name] = yaml.safe_load(text)
            else:
                typed[name] = text
        except (ValueError, yaml.YAMLError) as exc:
            raise ParameterError(
                f"expected {type_name}: {exc}", source=notebook, key=name
            ) from None
    return typed


@dataclass(frozen=True)
class Limits:
    """How long cells may run: each at most ``cell_timeout_s``, all done by ``deadline``
    (``time.monotonic``); ``kernel_env`` is added to the kernel's environment."""

    cell_timeout_s: float | None = None
    deadline: float | None = None
    kernel_env: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def cell_timeout(self, _cell: Any = None) -> float | None:
        """The timeout of the cell starting now: its own, or what is left of the run."""
        if self.deadline is None:
            return self.cell_timeout_s
        left = max(self.deadline - self.clock(), _LAST_GASP_S)  # nbclient reads 0 as no limit
        return left if self.cell_timeout_s is None else min(self.cell_timeout_s, left)

    def passed(self) -> bool:
        return self.deadline is not None and self.clock() >= self.deadline - _LAST_GASP_S


#: The least timeout a cell is given: a cell started at the deadline is stopped at once.
_LAST_GASP_S = 0.05


def execute(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: Path,
    limits: Limits | None = None,
    kernel_name: str = "python3",
    on_cell: Callable[[CellStart], None] | None = None,
) -> Any:
    """Run ``notebook`` into ``output`` and return the executed notebook node.

    On failure papermill has already written ``output`` with the error marked (and every cell
    run so far); this raises :class:`NotebookError` saying which cell failed and why, or
    :class:`~sreworkbook.exceptions.NotebookTimeout` for a cell stopped by ``limits``. ``on_cell`` is called as each code
    cell starts (the command's progress line).
    """
    # papermill logs a stopped cell as an ERROR of its own; the run's summary says it better.
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    tracker = _CellTracker(on_cell)
    limits = limits or Limits()
    with tempfile.TemporaryFile() as kernel_stderr:
        try:
            return _execute(notebook, output, parameters, cwd, limits, kernel_name,
                            tracker, kernel_stderr)  # fmt: skip
        except CellTimeoutError as exc:
            stopped_by_deadline = limits.passed()
            limit = "the run's deadline" if stopped_by_deadline else (
                f"its {limits.cell_timeout_s:g} s timeout")  # fmt: skip
            started = tracker.started
            raise NotebookTimeout(
                f"a cell was still running at {limit} and was stopped",
                notebook=str(notebook),
                cell=started.position if started else None,
                index=tracker.running,
                first_line=started.first_line if started else "",
                deadline=stopped_by_deadline,
            ) from exc
        except DeadKernelError as exc:
            raise NotebookError(
                "the kernel died while running the notebook",
                notebook=str(notebook),
                ename="DeadKernelError",
                evalue=_tail(kernel_stderr) or str(exc),
            ) from exc


def _quiet_kernel(stderr: IO[bytes], env: Mapping[str, str]) -> type[AsyncKernelManager]:
    """A kernel manager whose kernel writes its own stderr to ``stderr``, not the terminal.

    A kernel logs to its process's stderr outside any cell: a ZMQ traceback while it shuts
    down after a notebook raised, start-up warnings. None of that is the user's business; the
    notebook's own output still reaches the executed copy through the kernel's messages.
    """

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["stderr"] = stderr
            kw["env"] = {**(kw.get("env") or os.environ), **env}
            await super()._async_launch_kernel(kernel_cmd, **kw)

        @default("client_factory")
        def _polling_client(self) -> type[AsyncKernelClient]:
            return _PollingKernelClient

    return QuietKernelManager


_REPOLL_S = 0.5


class _PollingChannel(AsyncZMQSocketChannel):
    """A kernel channel whose waits look at the socket again every 0.5 s.

    nbclient waits for a cell's ``execute_reply`` with no timeout. pyzmq's asyncio poll
    learns of a new message from an edge-triggered file descriptor, and now and then (about
    one run in ten of a notebook with widgets, seen here under load) the wake-up is missed:
    the reply sits in the socket while the run waits for ever with the kernel idle. A fresh
    poll reads the socket's events first, so asking again every half second finds it. A wait
    with a timeout (a cell under the run's budget) is cut into the same half seconds.
    """

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:  # type: ignore[override]
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _REPOLL_S if until is None else min(_REPOLL_S, until - time.monotonic())
            if left < 0.001:  # a poll's resolution is a millisecond: the wait is over
                raise Empty
            try:
                return await super().get_msg(left)
            except Empty:
                continue


class _PollingKernelClient(AsyncKernelClient):
    shell_channel_class = Type(_PollingChannel)
    iopub_channel_class = Type(_PollingChannel)
    control_channel_class = Type(_PollingChannel)


def _tail(stream: IO[bytes], lines: int = 5) -> str:
    """The last ``lines`` of what the kernel wrote to its stderr, for a kernel that died."""
    stream.seek(0)
    text = stream.read()[-4096:].decode("utf-8", "replace")
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _execute(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    cwd: Path,
    limits: Limits,
    kernel_name: str,
    tracker: _CellTracker,
    kernel_stderr: IO[bytes],
) -> Any:
    try:
        return papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            cwd=str(cwd),
            kernel_name=kernel_name,
            execution_timeout=limits.cell_timeout_s,
            timeout_func=limits.cell_timeout,
            progress_bar=False,
            log_output=False,
            # The kernel's own start-up chatter is not the user's business.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            kernel_manager_class=_quiet_kernel(kernel_stderr, limits.kernel_env),
            **tracker.hooks(),
        )
    except PapermillExecutionError as exc:
        raise NotebookError(
            f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}",
            notebook=str(notebook),
            cell=exc.exec_count,
            ename=exc.ename,
            evalue=exc.evalue,
        ) from exc
