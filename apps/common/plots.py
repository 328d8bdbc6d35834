"""Pictures a run leaves behind: learning curves, confusion matrices, image grids.

Figures are made with matplotlib's object API on the Agg canvas (no pyplot,
no display, no global figure state), so they work on a headless machine and
inside tests.
"""

import csv
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def new_figure(width, height):
    """A matplotlib `Figure` drawn with Agg, sized in inches."""
    return Figure(figsize=(width, height), layout="constrained")


def save(figure, path, dpi=110):
    """Write `figure` to `path` (PNG) and return the path."""
    figure.savefig(path, dpi=dpi)
    return Path(path)


def read_history(history_csv):
    """Columns of a Keras `CSVLogger` file as {name: np.array}."""
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key: np.array([float(r[key]) for r in rows]) for key in rows[0]}


def learning_curves(history_csv, path, metrics=("loss", "accuracy")):
    """Training and validation curves per epoch, one panel per metric.

    Returns:
        The path written, or None if the history is empty.
    """
    history = read_history(history_csv)
    if not history:
        return None
    epochs = history["epoch"] + 1
    shown = [m for m in metrics if m in history]
    figure = new_figure(4.2 * len(shown), 3.2)
    for axes, metric in zip(figure.subplots(1, len(shown), squeeze=False)[0], shown):
        axes.plot(epochs, history[metric], marker="o", label="train")
        if "val_" + metric in history:
            axes.plot(epochs, history["val_" + metric], marker="o", label="validation")
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    return save(figure, path)


def confusion_matrix(y_true, y_pred, class_names, path, title="Confusion matrix"):
    """A confusion matrix with counts in the cells (rows: true class, columns: predicted).

    Returns:
        The path written.
    """
    n = len(class_names)
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    figure = new_figure(0.55 * n + 2.2, 0.5 * n + 1.6)
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xticks(range(n), class_names)
    axes.set_yticks(range(n), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    accuracy = np.trace(counts) / max(1, counts.sum())
    axes.set_title(f"{title} (accuracy {accuracy:.2%}, n={counts.sum()})", fontsize=10)
    threshold = counts.max() / 2 if counts.size else 0
    for (row, col), value in np.ndenumerate(counts):
        if value:
            axes.text(col, row, str(value), ha="center", va="center", fontsize=7,
                      color="white" if value > threshold else "black")
    return save(figure, path)


def image_grid(images, titles, path, title_colors=None, columns=8, cmap="gray", suptitle=None):
    """A grid of small images with a title over each (e.g. predicted vs true label).

    Returns:
        The path written.
    """
    count = len(images)
    rows = max(1, -(-count // columns))
    figure = new_figure(1.25 * columns, 1.45 * rows + (0.4 if suptitle else 0))
    grid = figure.subplots(rows, columns, squeeze=False)
    for index, axes in enumerate(grid.flat):
        axes.axis("off")
        if index >= count:
            continue
        axes.imshow(images[index], cmap=cmap, vmin=0, vmax=255)
        color = title_colors[index] if title_colors else "black"
        axes.set_title(titles[index], fontsize=8, color=color)
    if suptitle:
        figure.suptitle(suptitle, fontsize=10)
    return save(figure, path)
