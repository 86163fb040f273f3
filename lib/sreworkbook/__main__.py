"""``python -m sreworkbook``."""

import sys

from sreworkbook.cli import main

sys.exit(main())
