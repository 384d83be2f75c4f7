"""``python -m tools.bench``: see ``tools.bench.cli``."""

import sys

from tools.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
