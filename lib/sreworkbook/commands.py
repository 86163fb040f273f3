"""What every ``sreworkbook`` command line shares: exit 64 on bad arguments, errors in one line.

:class:`ArgumentParser` exits 64 (bad input, README "Exit codes") instead of argparse's 2,
which the workbook keeps for a notebook that failed; :func:`run_command` turns the workbook's
own errors into their exit codes and a one-line message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from sreworkbook.exceptions import ParameterError, WorkbookError
from sreworkbook.results import Status

__all__ = ["EXIT_BAD_INPUT", "ArgumentParser", "run_command"]

EXIT_BAD_INPUT = 64


class ArgumentParser(argparse.ArgumentParser):
    """argparse, exiting 64 on a bad argument."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def run_command(run: Callable[[], int]) -> int:
    """``run()``'s exit code; bad input is 64, another workbook error 2, Ctrl-C 130."""
    try:
        return run()
    except ParameterError as exc:
        print(f"sreworkbook: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WorkbookError as exc:
        print(f"sreworkbook: error: {exc}", file=sys.stderr)
        return Status.ERROR.exit_code
    except KeyboardInterrupt:
        return 130
