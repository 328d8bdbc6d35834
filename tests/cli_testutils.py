"""`run_cli`: the one way tests run the `rnn-suite` command in-process (apps and tuning alike)."""

from apps import cli


def run_cli(capsys, *args):
    """Run `rnn-suite ARGS` in-process; returns (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err
