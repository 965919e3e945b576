"""Entry point of `python -m llm_universe`."""

import sys

from llm_universe.cli import main

if __name__ == "__main__":
    sys.exit(main())
