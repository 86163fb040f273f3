"""``python -m sreworkbook.schedule ...``: the ``schedule`` commands on their own.

The same commands as ``sreworkbook schedule ...`` (and the same exit codes), usable before and
apart from the main command's wiring: ``python -m sreworkbook.schedule --root R run-due``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sreworkbook.commands import ArgumentParser, run_command
from sreworkbook.config import workbook_root
from sreworkbook.schedule.cli import register


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m sreworkbook.schedule")
    parser.add_argument("--root", type=Path)
    parser.add_argument("--outputs", type=Path)
    register(parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser))
    rest = list(argv if argv is not None else sys.argv[1:])
    head: list[str] = []
    while rest[:1] and rest[0] in ("--root", "--outputs"):
        head, rest = [*head, *rest[:2]], rest[2:]
    args = parser.parse_args([*head, "schedule", *rest])

    def run() -> int:
        root = (args.root or workbook_root(environ=os.environ)).resolve()
        outputs = (args.outputs or root / "outputs").resolve()
        code: int = args.handler(args, root, outputs)
        return code

    return run_command(run)


if __name__ == "__main__":
    sys.exit(main())
