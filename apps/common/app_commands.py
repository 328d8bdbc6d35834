"""The sub-commands every app offers, `train`, `evaluate` and `predict`, declared once.

An app's `add_commands(parser)` calls these with its own words and handlers
and adds only the flags that are its own, so a flag that means the same in
every app (`--run`, `--data-dir`, `--limit`, `--batch-size`, `--output`, and
every training setting) is written in one place.
"""

from apps.common import config as config_module
from apps.common import run_dir as run_dir_module

RESUME_NOTE = " Interrupted? Rerun the same command: it resumes."


def add_train(parser, app, config_class, train, description):
    """Start the app's sub-commands with `train`: every setting of `config_class` as a flag.

    Args:
        parser: The app's parser (`rnn-suite <app>`).
        app: The app's name, for the run folder in the help.
        config_class: The app's config dataclass.
        train: The app's `train(config)`; the handler builds the config
            (defaults < `--config` file < flags) and calls it.
        description: What training does and writes, for `--help`.

    Returns:
        The sub-command group, for `add_evaluate` and `add_predict`.
    """
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command = commands.add_parser(
        "train", help=f"train a model; writes a run folder (runs/{app}/<timestamp>/)",
        description=description + RESUME_NOTE)
    config_module.add_flags(command, config_class)
    command.set_defaults(
        handler=lambda args: train(config_module.config_from_args(config_class, args)))
    return commands


def add_evaluate(commands, app, handler, help, description, *, data_help, items,
                 batch_size):
    """`evaluate --run DIR` with the flags every app's evaluation shares.

    Args:
        commands: The group `add_train` returned.
        app: The app's name (the `--run` default looks in runs/<app>/).
        handler: `handler(args)`, the evaluation.
        help, description: For `--help`.
        data_help: What `--data-dir` names, and its default.
        items: What the test split holds ("test images"), for `--limit`.
        batch_size: The default prediction batch.

    Returns:
        The sub-parser, for the app's own flags.
    """
    command = commands.add_parser("evaluate", help=help, description=description)
    run_dir_module.add_run_flag(command, app)
    command.add_argument("--data-dir", default=None, help=data_help)
    command.add_argument("--limit", type=config_module.non_negative_int, default=0,
                         help=f"evaluate on at most this many {items} (default: 0, all)")
    command.add_argument("--batch-size", type=config_module.positive_int, default=batch_size,
                         help=f"examples per prediction batch (default: {batch_size})")
    command.add_argument("--output", default=None,
                         help="folder for evaluation.json and the pictures (default: the run "
                              "folder)")
    command.set_defaults(handler=handler)
    return command


def add_predict(commands, app, handler, help, description):
    """`predict --run DIR ...`; the app adds what it reads (texts, images, a file).

    Returns:
        The sub-parser, for the app's own flags.
    """
    command = commands.add_parser("predict", help=help, description=description)
    run_dir_module.add_run_flag(command, app)
    command.set_defaults(handler=handler)
    return command
