"""Execute a notebook with papermill; parameters are checked against what it declares."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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

from sreworkbook.exceptions import MissingFileError, NotebookError, ParameterError

__all__ = ["CellStart", "DeclaredParameter", "coerce_parameters", "declared_parameters", "execute"]


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


def _cell_hooks(on_cell: Callable[[CellStart], None]) -> dict[str, Any]:
    """nbclient's ``on_notebook_start``/``on_cell_start`` hooks calling ``on_cell``."""
    code: list[int] = []

    def notebook_start(notebook: Any, **_: Any) -> None:
        code[:] = [
            i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()
        ]

    def cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        if cell_index in code:
            lines = [x.strip() for x in cell.source.splitlines() if x.strip()]
            on_cell(CellStart(code.index(cell_index) + 1, len(code), lines[0] if lines else ""))

    return {"on_notebook_start": notebook_start, "on_cell_start": cell_start}


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


def execute(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: Path,
    cell_timeout_s: float | None = None,
    kernel_name: str = "python3",
    on_cell: Callable[[CellStart], None] | None = None,
) -> Any:
    """Run ``notebook`` into ``output`` and return the executed notebook node.

    On failure papermill has already written ``output`` with the error marked; this raises
    :class:`NotebookError` saying which cell failed and why. ``on_cell`` is called as each
    code cell starts (the command's progress line).
    """
    logging.getLogger("papermill").setLevel(logging.WARNING)
    with tempfile.TemporaryFile() as kernel_stderr:
        try:
            return _execute(notebook, output, parameters, cwd, cell_timeout_s, kernel_name,
                            on_cell, kernel_stderr)  # fmt: skip
        except DeadKernelError as exc:
            raise NotebookError(
                "the kernel died while running the notebook",
                notebook=str(notebook),
                ename="DeadKernelError",
                evalue=_tail(kernel_stderr) or str(exc),
            ) from exc


def _quiet_kernel(stderr: IO[bytes]) -> type[AsyncKernelManager]:
    """A kernel manager whose kernel writes its own stderr to ``stderr``, not the terminal.

    A kernel logs to its process's stderr outside any cell: a ZMQ traceback while it shuts
    down after a notebook raised, start-up warnings. None of that is the user's business; the
    notebook's own output still reaches the executed copy through the kernel's messages.
    """

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["stderr"] = stderr
            await super()._async_launch_kernel(kernel_cmd, **kw)

        @default("client_factory")
        def _polling_client(self) -> type[AsyncKernelClient]:
            return _PollingKernelClient

    return QuietKernelManager


_REPOLL_S = 0.5


class _PollingChannel(AsyncZMQSocketChannel):
    """A kernel channel whose wait without a timeout looks at the socket again every 0.5 s.

    nbclient waits for a cell's ``execute_reply`` with no timeout. pyzmq's asyncio poll
    learns of a new message from an edge-triggered file descriptor, and now and then (about
    one run in ten of a notebook with widgets, seen here under load) the wake-up is missed:
    the reply sits in the socket while the run waits for ever with the kernel idle. A fresh
    poll reads the socket's events first, so asking again every half second finds it.
    """

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:  # type: ignore[override]
        if timeout is not None:
            return await super().get_msg(timeout)
        while True:
            try:
                return await super().get_msg(_REPOLL_S)
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
    cell_timeout_s: float | None,
    kernel_name: str,
    on_cell: Callable[[CellStart], None] | None,
    kernel_stderr: IO[bytes],
) -> Any:
    try:
        return papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            cwd=str(cwd),
            kernel_name=kernel_name,
            execution_timeout=cell_timeout_s,
            progress_bar=False,
            log_output=False,
            # The kernel's own start-up chatter is not the user's business.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            kernel_manager_class=_quiet_kernel(kernel_stderr),
            **(_cell_hooks(on_cell) if on_cell is not None else {}),
        )
    except PapermillExecutionError as exc:
        raise NotebookError(
            f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}",
            notebook=str(notebook),
            cell=exc.exec_count,
            ename=exc.ename,
            evalue=exc.evalue,
        ) from exc
    except CellTimeoutError as exc:
        raise NotebookError(
            f"a cell ran longer than {cell_timeout_s} s and was stopped",
            notebook=str(notebook),
            ename="CellTimeoutError",
            evalue=str(exc).splitlines()[0] if str(exc) else "",
        ) from exc
