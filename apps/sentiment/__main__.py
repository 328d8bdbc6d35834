"""`python -m apps.sentiment train|evaluate|predict ...`, the same as `rnn-suite sentiment ...`."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["sentiment", *sys.argv[1:]]))
