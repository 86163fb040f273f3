"""``python -m sreworkbook.schedule ...``: the ``schedule`` commands on their own.

The same commands as ``sreworkbook schedule ...`` (and the same exit codes), usable before and
apart from the main command's wiring: ``python -m sreworkbook.schedule --root R run-due``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from sreworkbook.config import workbook_root
from sreworkbook.exceptions import ParameterError, WorkbookError
from sreworkbook.schedule.cli import register

EXIT_BAD_INPUT = 64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m sreworkbook.schedule")
    parser.add_argument("--root", type=Path)
    parser.add_argument("--outputs", type=Path)
    register(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    rest = list(argv if argv is not None else sys.argv[1:])
    head: list[str] = []
    while rest[:1] and rest[0] in ("--root", "--outputs"):
        head, rest = [*head, *rest[:2]], rest[2:]
    args = parser.parse_args([*head, "schedule", *rest])
    try:
        root = (args.root or workbook_root()).resolve()
        outputs = (args.outputs or root / "outputs").resolve()
        code: int = args.handler(args, root, outputs)
        return code
    except ParameterError as exc:
        print(f"sreworkbook: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WorkbookError as exc:
        print(f"sreworkbook: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
