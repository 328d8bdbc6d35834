"""`rnn-suite tune <app>`: search an app's hyperparameters with keras-tuner, on one machine or many.

    rnn-suite tune mnist --mode row --tuner random --max-trials 8 --max-epochs 4
    rnn-suite tune sentiment --tuner hyperband --max-epochs 6 --space narrow.json
    rnn-suite tune mnist --show-space

A search lives in `runs/tune/<app>/<name>/`: keras-tuner's project (oracle
and trial folders, each trial's run folders), `trials.csv`, `best.json` (which
`rnn-suite <app> train --config` reads as is), `search.png` and TensorBoard
logs with the HParams dashboard. Rerunning the same command resumes it.
With `--role chief|worker` it runs as keras-tuner's chief (the oracle) or as
one of its workers (trials); see `tuning/distributed.py`.

Bad input (flags, `--space`, data, roles, an unreachable chief, a port in
use) is a `UsageError`: one line, exit status 2.
"""

import argparse
import dataclasses
import math
import re

from apps.common import config as config_module
from apps.common.errors import UsageError
from tuning import distributed, registry
from tuning import space as space_module
from tuning.search import RUNS_FOLDER, SearchPlan, run_search

DEFAULT_MAX_TRIALS = 10
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class _ShowSpace(argparse.Action):
    """`--show-space`: print the space and stop; no TensorFlow needed."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.show_space = True
        namespace.needs_tensorflow = False


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive_float(text):
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_command(subparsers, apps):
    """Add `rnn-suite tune <app>` for every app that has both a module and a registry entry."""
    tune = subparsers.add_parser(
        "tune", help="search an app's hyperparameters with keras-tuner (one machine or many)",
        description="Search an app's hyperparameters with keras-tuner: Hyperband, random "
                    "search or Bayesian optimisation over the app's own model and training. "
                    "Writes runs/tune/<app>/<name>/ (trials.csv, best.json for `train "
                    "--config`, search.png, TensorBoard HParams logs); rerun the same "
                    "command to resume. Run `rnn-suite tune <app> --help` for the flags.")
    per_app = tune.add_subparsers(dest="tune_app", metavar="APP", required=True)
    for name, entry in registry.APPS.items():
        if name not in apps:
            continue
        parser = per_app.add_parser(
            name, help=f"tune {name}",
            description=f"Search the hyperparameters of `rnn-suite {name} train` with "
                        f"keras-tuner. Objective: {entry.default_objective} by default. See "
                        f"the searched settings with --show-space.")
        _add_search_flags(parser, entry)
        config_module.add_setting_flags(parser, entry.config_class(), entry.data_flags)
        parser.set_defaults(handler=tune_command, tune_app=name, show_space=False,
                            needs_tensorflow=True)


def _add_search_flags(parser, entry):
    search = parser.add_argument_group("search")
    search.add_argument("--tuner", choices=registry.TUNERS, default="hyperband",
                        help="hyperband (successive halving over epochs), random or bayesian "
                             "(default: hyperband)")
    search.add_argument("--max-trials", type=config_module.positive_int, default=None,
                        help=f"trials at most (default: {DEFAULT_MAX_TRIALS} for random and "
                             "bayesian; Hyperband stops by itself and takes this as a cap)")
    search.add_argument("--max-epochs", type=config_module.positive_int, default=None,
                        help="epochs of a trial (Hyperband: of its longest trials) (default: "
                             "the app's --epochs default)")
    search.add_argument("--executions-per-trial", type=config_module.positive_int, default=1,
                        help="models trained per trial, each with its own seed; the objective "
                             "is their mean (default: 1)")
    search.add_argument("--objective", choices=tuple(entry.objectives),
                        default=entry.default_objective,
                        help=f"what scores a trial, on the validation split (default: "
                             f"{entry.default_objective})")
    search.add_argument("--time-limit", type=_non_negative_float, default=0.0, metavar="MIN",
                        help="start no trial after this many minutes; on one machine the "
                             "running trial stops then too (default: 0, no limit)")
    search.add_argument("--name", default=None,
                        help="the search's folder under runs/tune/<app>/ (default: the tuner)")
    search.add_argument("--overwrite", action="store_true",
                        help="start afresh instead of resuming the search with this name")
    search.add_argument("--space", default=None, metavar="FILE.json",
                        help='fix or narrow the space: a JSON file or object, e.g. '
                             '\'{"units": [64, 128], "cell": "gru", "learning_rate": '
                             '{"min": 1e-4, "max": 3e-3, "log": true}}\'')
    search.add_argument("--show-space", action=_ShowSpace, nargs=0,
                        help="print the searched settings (with --space applied) and stop")
    search.add_argument("--in-process", action="store_true",
                        help="train every trial inside the search's own process instead of a "
                             "fresh process per trial: no start-up cost per trial, but memory "
                             "grows with each trial (TensorFlow keeps some of every model's "
                             "graphs)")
    many = parser.add_argument_group("on many machines (keras-tuner's chief/worker mode)")
    many.add_argument("--role", choices=distributed.ROLES, default=None,
                      help="chief: run the oracle and hand out trials; worker: run trials "
                           "(default: one machine, unless KERASTUNER_* variables are set)")
    many.add_argument("--worker-id", default=None,
                      help="a worker's own id; a restarted worker keeps it to take back its trial")
    many.add_argument("--chief", default=None, metavar="HOST:PORT",
                      help="the chief's address (the chief: where to listen, e.g. 0.0.0.0:8000)")
    many.add_argument("--chief-wait", type=_positive_float,
                      default=distributed.DEFAULT_CHIEF_WAIT_SECONDS, metavar="SECONDS",
                      help="how long a worker waits for the chief to answer before giving up "
                           f"(default: {distributed.DEFAULT_CHIEF_WAIT_SECONDS:g})")


def plan_search(args):
    """Check the command line and turn it into a `SearchPlan` (no TensorFlow needed).

    Raises:
        UsageError: For bad flags, a bad `--space`, or a bad role combination.
    """
    entry = registry.APPS[args.tune_app]
    config_class = entry.config_class()
    data_values = {name: getattr(args, name) for name in entry.data_flags if hasattr(args, name)}
    base_config = config_module.build_config(config_class, data_values)
    max_epochs = args.max_epochs or base_config.epochs
    base_config = dataclasses.replace(base_config, epochs=max_epochs)
    overrides = space_module.read_overrides(args.space) if args.space is not None else None
    space, fixed = space_module.resolve(entry.space, config_class, overrides, base_config)
    base_config = dataclasses.replace(base_config, **fixed)
    name = args.name or args.tuner
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(f"--name {name!r}: use letters, digits, '_', '.' or '-' (it is a "
                         f"folder under {RUNS_FOLDER / entry.name}/)")
    role = distributed.resolve_role(args.role, args.worker_id, args.chief)
    if role.kind == "worker" and args.overwrite:
        raise UsageError("--overwrite is for the chief (or one machine): a worker never "
                         "deletes a search")
    max_trials = args.max_trials or (None if args.tuner == "hyperband" else DEFAULT_MAX_TRIALS)
    return SearchPlan(entry, base_config, space, fixed, args.tuner, args.objective, max_trials,
                      max_epochs, args.executions_per_trial, args.time_limit, name,
                      args.overwrite, role, args.chief_wait, args.in_process)


def tune_command(args):
    """`rnn-suite tune <app> ...`: print the space, or run (or resume) the search."""
    plan = plan_search(args)
    if args.show_space:
        print(f"search space of {plan.entry.name} (defaults: the app's own; objective "
              f"{plan.objective}, {plan.direction}imised):")
        for line in space_module.describe(plan.space, plan.fixed):
            print("  " + line)
        return plan
    return run_search(plan)


