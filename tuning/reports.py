"""What a search leaves beside keras-tuner's files: trials.csv, best.json, search.png, search.json.

All of it is read from the oracle (on one machine, or on the chief, which
receives every trial's hyperparameters and metrics from the workers), so it
is complete however many machines ran the trials.
"""

import csv
import json
import math
from pathlib import Path

from apps.common import plots
from apps.common.errors import UsageError

TRIALS_FILE = "trials.csv"
BEST_FILE = "best.json"
PLOT_FILE = "search.png"
SEARCH_FILE = "search.json"
# Recorded by AppHyperModel.fit for every trial, beside the app's own metrics.
TRIAL_FIGURES = ("epochs", "seconds", "memory_mb", "peak_memory_mb")
# Hyperband's bookkeeping, worth a column: the budget, and which trial it continues.
HYPERBAND_VALUES = ("tuner/epochs", "tuner/initial_epoch", "tuner/trial_id")
# Settings of a search's config that `train --config best.json` should not inherit:
# where the search's runs went, its time budget, and the subset it searched on.
LEFT_OUT_OF_BEST = ("run_dir", "time_limit", "limit")
# Settings that may change when a search is resumed.
NOT_PART_OF_THE_SEARCH = ("run_dir", "time_limit", "data_dir")


def trial_rows(oracle, names, objective):
    """One dict per trial, in trial order: id, status, hyperparameters, objective, figures."""
    rows = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values
        row = {"trial_id": trial_id, "status": trial.status}
        row.update({name: values.get(name) for name in names})
        row.update({name: values[name] for name in HYPERBAND_VALUES if name in values})
        row[objective] = trial.score
        for figure in TRIAL_FIGURES:
            row[figure] = (trial.metrics.get_last_value(figure)
                           if trial.metrics.exists(figure) else None)
        rows.append(row)
    return rows


def write_trials_csv(rows, path):
    """Write the rows as CSV (columns: the union of the rows' keys, in first-seen order)."""
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(row.get(key)) for key in columns})
    return Path(path)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.10g}"
    return value


def best_trial(oracle):
    """The best completed trial with a score, or None."""
    for trial in oracle.get_best_trials(1):
        if trial.status == "COMPLETED" and trial.score is not None and not math.isnan(trial.score):
            return trial
    return None


def best_settings(hypermodel, trial):
    """The app settings of `trial`, as `rnn-suite <app> train --config` reads them."""
    settings = hypermodel.config_for(trial.hyperparameters).to_dict()
    return {k: v for k, v in settings.items() if k not in LEFT_OUT_OF_BEST}


def write_best(hypermodel, trial, path):
    Path(path).write_text(json.dumps(best_settings(hypermodel, trial), indent=2,
                                     sort_keys=True) + "\n")
    return Path(path)


def search_identity(app, tuner, hypermodel, max_epochs, executions_per_trial):
    """What makes a search this search: rerunning it with other settings is not resuming it."""
    fixed = {k: v for k, v in hypermodel.base_config.to_dict().items()
             if k not in NOT_PART_OF_THE_SEARCH}
    return {"app": app, "tuner": tuner, "objective": hypermodel.objective,
            "direction": hypermodel.direction, "max_epochs": max_epochs,
            "executions_per_trial": executions_per_trial,
            "space": {name: d.to_json() for name, d in hypermodel.space.items()},
            "settings": fixed}


def claim_project(project, identity, overwrite=False):
    """Make `project` this search's folder: new, or the same search to resume.

    Raises:
        UsageError: If it holds a search with other settings (and no
            `overwrite`), naming what differs.
    """
    import shutil

    project = Path(project)
    record = project / SEARCH_FILE
    if overwrite and project.exists():
        shutil.rmtree(project)
    if record.is_file():
        try:
            saved = json.loads(record.read_text())
        except ValueError:
            saved = {}
        differing = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
        if differing:
            details = ", ".join(_difference(k, saved.get(k), identity.get(k)) for k in differing)
            raise UsageError(f"{project} holds a search with other settings ({details}); rerun "
                             "it with its own flags to resume it, add --overwrite to start "
                             "afresh, or choose another --name")
    project.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(identity, indent=2, sort_keys=True) + "\n")


def _difference(key, saved, given):
    if isinstance(saved, dict) and isinstance(given, dict):
        keys = sorted(k for k in set(saved) | set(given) if saved.get(k) != given.get(k))
        return f"{key}: {', '.join(keys[:4])}"
    return f"{key}: {saved!r} before, {given!r} now"


def plot_search(rows, space, objective, direction, path):
    """The objective per trial with the best so far, and against each searched hyperparameter.

    Returns:
        The path written, or None if no trial has a score yet.
    """
    import numpy as np

    scored = [r for r in rows if r.get(objective) is not None
              and not math.isnan(float(r[objective]))]
    if not scored:
        return None
    searched = [name for name, d in space.items() if d.kind != "fixed"]
    panels = 1 + len(searched)
    columns = min(4, panels)
    lines = math.ceil(panels / columns)
    figure = plots.new_figure(3.4 * columns, 2.8 * lines)
    axes = np.atleast_1d(figure.subplots(lines, columns)).ravel()
    scores = np.array([float(r[objective]) for r in scored])
    best = int(np.argmax(scores) if direction == "max" else np.argmin(scores))
    order = np.arange(1, len(scored) + 1)
    running = np.maximum.accumulate(scores) if direction == "max" else np.minimum.accumulate(scores)
    axes[0].scatter(order, scores, s=18, label="trial")
    axes[0].step(order, running, where="post", color="tab:red", label="best so far")
    axes[0].set_xlabel("trial")
    axes[0].set_ylabel(objective)
    axes[0].set_title(f"{objective} per trial")
    axes[0].legend(fontsize=7)
    for ax, name in zip(axes[1:], searched):
        _against(ax, name, space[name], scored, scores, best, objective)
    for ax in axes[panels:]:
        ax.set_visible(False)
    for ax in axes[:panels]:
        ax.grid(alpha=0.3)
    return plots.save(figure, path)


def _against(ax, name, dimension, rows, scores, best, objective):
    import numpy as np

    values = [r.get(name) for r in rows]
    if dimension.kind in ("int", "float"):
        x = np.array([np.nan if v is None else float(v) for v in values])
        if dimension.log:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap
        elif dimension.kind == "int" and dimension.max - dimension.min <= 10:
            ax.set_xticks(range(int(dimension.min), int(dimension.max) + 1))
    else:
        labels = [str(v) for v in (dimension.values if dimension.kind == "choice"
                                   else (False, True))]
        x = np.array([labels.index(str(v)) if str(v) in labels else np.nan for v in values])
        ax.set_xticks(range(len(labels)), labels)
    ax.scatter(x, scores, s=18)
    ax.scatter(x[best:best + 1], scores[best:best + 1], s=40, color="tab:red", label="best")
    ax.set_title(name)
    ax.set_ylabel(objective)
