"""The `rnn-suite` command: `rnn-suite <app> <train|evaluate|predict> [flags]`.

Each app is a module with `NAME`, `SUMMARY` and `add_commands(parser)`, which
adds its sub-commands, each with a `handler(args)`. Adding an app means adding
one line to `APPS`. `rnn-suite tune <app>` comes from the `tuning` package:
when it provides `tuning.cli.add_command(subparsers, apps)`, the command
appears here without changes to this file.

Bad input raises `UsageError`; it is printed as one line and the exit status
is 2, with no traceback (argparse's own errors get the same treatment).
"""

import argparse
import importlib
import importlib.util
import sys

from apps.common import quiet_tensorflow, tensorflow_env
from apps.common.errors import UsageError

PROG = "rnn-suite"
# app name -> module providing NAME, SUMMARY, add_commands(parser)
APPS = {
    "mnist": "apps.mnist.commands",
    "translation": "apps.translation.commands",
    "sentiment": "apps.sentiment.commands",
    "captioning": "apps.captioning.commands",
    "lm": "apps.lm.commands",
}
TUNING_MODULE = "tuning.cli"


class _ArgumentError(UsageError):
    """A flag argparse rejected; reported under the sub-command's name."""

    def __init__(self, message, prog):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become a `UsageError` (one line, exit 2)."""

    def error(self, message):
        raise _ArgumentError(f"{message} (see {self.prog} --help)", self.prog)


def app_modules():
    """The app modules, imported (they import nothing heavy at the top)."""
    return {name: importlib.import_module(module) for name, module in APPS.items()}


def build_parser():
    """The full argument parser: one sub-command per app, plus `tune` when available."""
    parser = _Parser(
        prog=PROG,
        description="Recurrent networks (our own SimpleRNN/GRU/LSTM layers) on five tasks. "
                    f"Run `{PROG} <app> <command> --help` for the flags of a command.")
    apps = parser.add_subparsers(dest="app", metavar="APP", required=True)
    modules = app_modules()
    for name, module in modules.items():
        app_parser = apps.add_parser(name, help=module.SUMMARY, description=module.SUMMARY)
        module.add_commands(app_parser)
    _add_tune_command(apps, modules)
    _add_demo_command(apps)
    return parser


def _add_tune_command(subparsers, modules):
    """The hook for `rnn-suite tune <app>`: the tuning package registers it if it offers one."""
    try:
        found = importlib.util.find_spec(TUNING_MODULE) is not None
    except ModuleNotFoundError:
        found = False
    if found:
        importlib.import_module(TUNING_MODULE).add_command(subparsers, modules)


def _add_demo_command(subparsers):
    """`rnn-suite demo --run DIR [--run DIR ...]`: several runs' pages as tabs of one page."""
    from apps.common import demo

    command = subparsers.add_parser(
        "demo", help="serve the pages of several trained runs, one tab each (Gradio)",
        description="Serve one page with a tab per run, each laid out by the run's own app "
                    "(read from its metrics.json, or from runs/<app>/ in its path): the "
                    "pages of `rnn-suite <app> demo`, side by side.")
    command.add_argument("--run", action="append", required=True, metavar="DIR",
                         help="a run folder (or its model.keras); repeat for more tabs")
    demo.add_demo_flags(command, beam_size=True)
    command.set_defaults(handler=demo.demo_many_command)


def main(argv=None):
    """Run the `rnn-suite` command; returns the exit status (0, 2 for bad input, 130 on Ctrl-C)."""
    tensorflow_env.set_defaults()  # quiet C++ logging, pooled CPU memory
    try:
        args = build_parser().parse_args(argv)
        _silence_tensorflow_python_logger()
        if getattr(args, "needs_tensorflow", True):
            quiet_tensorflow.import_tensorflow_quietly()
        args.handler(args)
    except UsageError as error:
        print(f"{getattr(error, 'prog', PROG)}: error: {error}", file=sys.stderr)
        return error.exit_status
    except SystemExit as exit_:  # --help, or argparse exiting by itself
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; rerun the same command to resume training from the "
              "last backup", file=sys.stderr)
        return 130
    return 0


def _silence_tensorflow_python_logger():
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
