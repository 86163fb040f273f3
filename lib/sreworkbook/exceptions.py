"""The workbook's one error tree.

    WorkbookError
    ├── ParameterError(ValueError)      bad parameter file, key, value or CLI argument  → exit 64
    │   └── MissingFileError(FileNotFoundError)   a named file that does not exist      → exit 64
    ├── SecretError(KeyError)           a ``${ENV}`` reference that is not set
    ├── ArchiveError(ValueError)        a backup archive cannot be read as asked (its ``verdict``)
    ├── SourceError(ConnectionError)    a data source failed (HTTP, Prometheus, MongoDB, Redis, S3)
    │   └── SourceTimeout(TimeoutError) it did not answer in time
    ├── SandboxError(RuntimeError)      a sandbox component could not start or stop
    ├── JobLocked(RuntimeError)         a scheduled job is already running (no overlap)
    ├── NotebookError(RuntimeError)     a notebook raised while executing                → exit 2
    │   └── NotebookTimeout             a cell ran past its timeout or the run's deadline → exit 124
    └── OutputError(OSError)            a run's outputs could not be written

Each subclass also inherits the builtin it resembles, so callers that only know the builtin
still catch it, and carries its context as attributes rather than only in the message.
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "JobLocked",
    "MissingFileError",
    "NotebookError",
    "NotebookTimeout",
    "OutputError",
    "ParameterError",
    "SandboxError",
    "SecretError",
    "SourceError",
    "SourceTimeout",
    "WorkbookError",
]


class WorkbookError(Exception):
    """Root of every error the workbook raises on purpose."""


class ParameterError(WorkbookError, ValueError):
    """A parameter file, key or value is wrong. ``source`` is the file, ``key`` the dotted key."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        where = ": ".join(part for part in (source, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class MissingFileError(ParameterError, FileNotFoundError):
    """A file named by the user does not exist."""

    def __init__(self, path: str, *, what: str = "file") -> None:
        self.path = path
        super().__init__(f"{what} not found", source=path)


class SecretError(WorkbookError, KeyError):
    """A secret reference names an environment variable that is not set."""

    def __init__(self, name: str, *, key: str | None = None) -> None:
        self.name = name
        self.key = key
        where = f" (used by {key})" if key else ""
        super().__init__(f"environment variable {name} is not set{where}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ArchiveError(WorkbookError, ValueError):
    """A backup archive cannot be read as asked; ``verdict`` says why (corrupt, incomplete...)."""

    def __init__(self, message: str, *, source: str, verdict: str) -> None:
        self.source = source
        self.verdict = verdict
        super().__init__(f"{source}: {message}")


class SourceError(WorkbookError, ConnectionError):
    """A data source or service failed. ``source`` names it, ``query`` what was asked,
    ``status`` the answer's code; ``attempts`` and ``waited_s`` what retrying it took."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        query: str | None = None,
        status: int | None = None,
        attempts: int | None = None,
        waited_s: float = 0.0,
    ) -> None:
        self.source = source
        self.query = query
        self.status = status
        self.attempts = attempts
        self.waited_s = waited_s
        self.detail = message
        super().__init__(f"{source}: {message}")


class SourceTimeout(SourceError, TimeoutError):
    """A data source did not answer within its timeout."""


class SandboxError(WorkbookError, RuntimeError):
    """A sandbox component could not be started, checked or stopped."""

    def __init__(self, message: str, *, component: str) -> None:
        self.component = component
        super().__init__(f"{component}: {message}")


class JobLocked(WorkbookError, RuntimeError):
    """The job is already running; ``pid`` and ``since`` say who holds its lock."""

    def __init__(self, job: str, *, pid: int | None, since: str | None) -> None:
        self.job = job
        self.pid = pid
        self.since = since
        holder = f" by pid {pid}" if pid else ""
        started = f", started {since}" if since else ""
        super().__init__(f"job {job} is already running{holder}{started}; not starting it again")


class NotebookError(WorkbookError, RuntimeError):
    """A notebook raised while executing; the executed copy was kept."""

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        cell: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
    ) -> None:
        self.notebook = notebook
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        super().__init__(message)


class NotebookTimeout(NotebookError):
    """A cell was stopped: it ran past its own timeout, or past the run's deadline.

    ``cell`` is the running cell's place among the code cells (1, 2, ...), ``index`` its
    place among all cells, ``first_line`` its first line, ``deadline`` whether the run's
    deadline (not the cell's own timeout) stopped it.
    """

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        cell: int | None,
        index: int | None,
        first_line: str = "",
        deadline: bool = False,
    ) -> None:
        super().__init__(message, notebook=notebook, cell=cell, ename="CellTimeoutError")
        self.index = index
        self.first_line = first_line
        self.deadline = deadline


class OutputError(WorkbookError, OSError):
    """A run's outputs could not be written."""
