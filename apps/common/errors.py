"""The one error type the `rnn-suite` command reports without a traceback."""

import sys


class UsageError(Exception):
    """Bad input from the user: a flag, a file, a run directory, missing data.

    The CLI prints its message as one line and exits with status 2, so the
    message must say what was expected (and where), not just what went wrong.
    """

    exit_status = 2


def exit_on_usage_error(main):
    """Run a benchmark script's `main()`, ending the process with its return value.

    Bad input (a `UsageError`: a flag, `--config`, `--data-dir`, `--pair`) ends it as
    `rnn-suite` and argparse end theirs: one line on stderr, `error: <message>`, and
    exit status 2, instead of a traceback.
    """
    try:
        sys.exit(main())
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_status)
