"""`python -m apps.captioning train|evaluate|predict ...`, the same as `rnn-suite captioning ...`."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["captioning", *sys.argv[1:]]))
