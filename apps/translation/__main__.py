"""`python -m apps.translation train|evaluate|predict ...`, the same as `rnn-suite translation ...`."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["translation", *sys.argv[1:]]))
