"""`python -m apps.lm train|evaluate|generate ...`, the same as `rnn-suite lm ...`."""

import sys

from apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["lm", *sys.argv[1:]]))
