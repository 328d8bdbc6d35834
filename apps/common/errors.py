"""The one error type the `rnn-suite` command reports without a traceback."""


class UsageError(Exception):
    """Bad input from the user: a flag, a file, a run directory, missing data.

    The CLI prints its message as one line and exits with status 2, so the
    message must say what was expected (and where), not just what went wrong.
    """

    exit_status = 2
