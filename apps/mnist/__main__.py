"""`python -m apps.mnist train|evaluate|predict ...`, the same as `rnn-suite mnist ...`."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["mnist", *sys.argv[1:]]))
