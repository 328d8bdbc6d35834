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

    Bad input (a `UsageError`: a flag, `--config`, `--data-dir`, `--pair`) ends it with
    one line, `error: <message>`, as from `rnn-suite`, instead of a traceback.
    """
    try:
        sys.exit(main())
    except UsageError as error:
        sys.exit(f"error: {error}")
