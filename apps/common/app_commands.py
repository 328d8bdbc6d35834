"""The sub-commands every app offers, `train`, `evaluate`, `predict` and `export`, declared once.

An app's `add_commands(parser)` calls these with its own words and handlers
and adds only the flags that are its own, so a flag that means the same in
every app (`--run`, `--data-dir`, `--limit`, `--batch-size`, `--output`, and
every training setting) is written in one place. Every `evaluate` also ends
the same way: `write_evaluation` records the model and the data in
`evaluation.json` and prints the summary line.
"""

import json
import sys
from pathlib import Path

from apps.common import config as config_module
from apps.common import run_dir as run_dir_module

RESUME_NOTE = " Interrupted? Rerun the same command: it resumes."
EVALUATION_FILE = "evaluation.json"


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


def add_column_flags(command, columns):
    """`evaluate`'s column flags of `--csv` (`--text-col`, ...), named as `train`'s.

    Each defaults to None: the command then takes the run's own setting.

    Args:
        command: The `evaluate` sub-parser.
        columns: (flag, what the column holds, the setting's default) triples.
    """
    for flag, holding, fallback in columns:
        command.add_argument(flag, default=None,
                             help=f"the --csv column holding {holding} (default: the run's "
                                  f"{flag}, else {fallback!r})")


def add_predict(commands, app, handler, help, description):
    """`predict --run DIR ...`; the app adds what it reads (texts, images, a file).

    Returns:
        The sub-parser, for the app's own flags.
    """
    command = commands.add_parser("predict", help=help, description=description)
    run_dir_module.add_run_flag(command, app)
    command.set_defaults(handler=handler)
    return command


def add_export(commands, app, handler, signature):
    """`export --run DIR [--output DIR]`: the run's model as a SavedModel for TensorFlow Serving.

    Args:
        commands: The group `add_train` returned.
        app: The app's name.
        handler: `handler(args)`, the export (see `apps.common.serving.export_run`).
        signature: What the `serving_default` signature takes and gives, for `--help`.

    Returns:
        The sub-parser.
    """
    command = commands.add_parser(
        "export", help="write the run's model as a TensorFlow SavedModel (for TensorFlow "
                       "Serving), raw input in",
        description="Write the run's model as a TensorFlow SavedModel whose serving_default "
                    f"signature takes what a user has: {signature}. Serve it with "
                    "TensorFlow Serving (mount the folder as version 1: /models/"
                    f"{app}/1) or load it with tf.saved_model.load; no rnn-suite code is "
                    "needed. An existing file or non-empty folder is never overwritten.")
    run_dir_module.add_run_flag(command, app)
    command.add_argument("--output", default=None, metavar="DIR",
                         help="a new (or empty) folder for the SavedModel (default: "
                              "<run>/export/)")
    command.set_defaults(handler=handler)
    return command


def evaluation_folder(args, model_path):
    """Where `evaluate` writes: `--output`, else the run folder (the model's)."""
    return Path(args.output) if args.output else Path(model_path).parent


def split_test_data(description):
    """`test_data` of `evaluation.json` for the test split of the run's own dataset."""
    return {"split": "test", "description": description}


def file_test_data(description, files, settings=None):
    """`test_data` of `evaluation.json` for the user's own files, by their absolute paths.

    Args:
        description: What was read (the `data:` line).
        files: Flag name -> a path or a list of paths (None: left out).
        settings: Other choices that say how the files were read (column names).
    """
    def absolute(value):
        if isinstance(value, (list, tuple)):
            return [absolute(v) for v in value]
        return str(Path(value).expanduser().resolve())

    data = {"files": {name: absolute(value) for name, value in files.items()
                      if value is not None},
            "description": description}
    if settings:
        data["settings"] = dict(settings)
    return data


def write_evaluation(out, report, model_path, dataset, test_data, summary, written):
    """The end of every `evaluate`: `evaluation.json` written into `out`, one summary line printed.

    Args:
        out: The output folder (the app's evaluation has made it).
        report: The app's metrics; `model`, `dataset` and `test_data` are added.
        model_path: The model evaluated.
        dataset: The name of the data ("mnist", "csv", "files", ...).
        test_data: Which data it was: `split_test_data(...)` or `file_test_data(...)`.
        summary: The line's headline, e.g. "mnist: test accuracy 0.9871 on 10,000 ...".
        written: The other files written, for the line: ["pictures"], or
            ["test_translations.tsv", "attention maps"].

    Returns:
        `report`.
    """
    out = Path(out)
    report.update(model=str(model_path), dataset=dataset, test_data=test_data)
    (out / EVALUATION_FILE).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    files = [EVALUATION_FILE, *written]
    listed = files[0] if len(files) == 1 else f"{', '.join(files[:-1])} and {files[-1]}"
    print(f"{summary}; {listed} in {out}", flush=True)
    return report


def add_demo(commands, app, config_class, beam_size=False):
    """`demo --run DIR [--host] [--port]`: the run's page in a browser, served by Gradio.

    Args:
        commands: The group `add_train` returned.
        app: The app's name (its `apps.<app>.demo` lays out the page).
        config_class: The app's config class (to read the run's config.json).
        beam_size: Whether the page searches (translation, captioning): `--beam-size`.

    Returns:
        The sub-parser.
    """
    from apps.common import demo

    command = commands.add_parser(
        "demo", help="serve a local page to try the run's model in a browser (Gradio)",
        description="Serve a page on this machine where you try the run's model by hand: the "
                    "same answers as predict, with the pictures that explain them. Needs "
                    "the demo extra (pip install -e '.[demo]'). It binds 127.0.0.1 unless "
                    "--host says otherwise; the page has no authentication.")
    run_dir_module.add_run_flag(command, app)
    demo.add_demo_flags(command, beam_size=beam_size)
    command.set_defaults(handler=lambda args: demo.demo_command(app, config_class, args))
    return command


def warn(message):
    """A warning on stderr, one line: for input a command accepts but the user should know about."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
