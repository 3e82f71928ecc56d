"""``python -m jaxarc.train [overrides...]`` is ``jaxarc train [overrides...]``."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
