"""MNIST's own picture: how the prediction forms while the pixels arrive."""

import numpy as np

from apps.common import plots
from apps.mnist import model as model_module

STAGES = (0.25, 0.5, 0.75, 1.0)
CHECKPOINTS_BIDIRECTIONAL = 48


def _revealed(image, order, steps_seen):
    """The image with only the pixels of the first `steps_seen` steps shown."""
    shown = np.zeros(image.size, dtype=bool)
    shown[order[:steps_seen].ravel()] = True
    return np.where(shown.reshape(image.shape), image, 0)


def probabilities_over_steps(model, images):
    """Class probabilities after each step: ([N, T, 10], step numbers [T], exact?).

    Exact for a unidirectional stack (the same network read out at every step).
    A bidirectional stack has no "so far" state, so it is run on images with
    the pixels not yet arrived blacked out, at evenly spaced steps.
    """
    stepper = model_module.per_step_model(model)
    if stepper is not None:
        probabilities = stepper.predict(images, verbose=0)
        return probabilities, np.arange(1, probabilities.shape[1] + 1), True
    size = images.shape[1]
    order = model_module.image_to_sequence_layer(model).pixel_order(size)
    total = len(order)
    steps = np.unique(np.linspace(1, total, min(total, CHECKPOINTS_BIDIRECTIONAL)).astype(int))
    partial = np.stack([[_revealed(image, order, s) for s in steps] for image in images])
    flat = partial.reshape((-1,) + images.shape[1:]).astype(np.float32)
    probabilities = model.predict(flat, verbose=0).reshape(len(images), len(steps), -1)
    return probabilities, steps, False


def prediction_forming(model, images, labels, path, class_names):
    """For a few digits: the digit being revealed, beside P(class) over the steps.

    A label of None (a digit drawn on the demo page: no truth known) thickens the
    predicted class's line instead of the true one's.

    Returns:
        The path written.
    """
    images = np.asarray(images, dtype=np.float32)
    probabilities, steps, exact = probabilities_over_steps(model, images)
    size = images.shape[1]
    order = model_module.image_to_sequence_layer(model).pixel_order(size)
    total = len(order)
    figure = plots.new_figure(12, 1.9 * len(images) + 0.5)
    grid = figure.add_gridspec(len(images), len(STAGES) + 4)
    colours = [plots_colour(k) for k in range(len(class_names))]
    for row, (image, label, probs) in enumerate(zip(images, labels, probabilities)):
        stage_steps = [max(1, int(round(f * total))) for f in STAGES]
        for column, seen in enumerate(stage_steps):
            axes = figure.add_subplot(grid[row, column])
            axes.imshow(_revealed(image, order, seen), cmap="gray", vmin=0, vmax=255)
            axes.set_xticks([])
            axes.set_yticks([])
            if row == 0:
                axes.set_title(f"step {seen}/{total}", fontsize=8)
        axes = figure.add_subplot(grid[row, len(STAGES):])
        predicted = int(np.argmax(probs[-1]))
        thick = predicted if label is None else label
        for k, name in enumerate(class_names):
            is_true = k == thick
            axes.plot(steps, probs[:, k], color=colours[k], linewidth=2.4 if is_true else 0.9,
                      alpha=1.0 if is_true else 0.7, label=name)
        for seen in stage_steps:
            axes.axvline(seen, color="grey", linestyle=":", linewidth=0.8)
        axes.set_ylim(-0.02, 1.02)
        axes.set_xlim(1, total)
        axes.set_ylabel("P(class)", fontsize=8)
        axes.set_title(f"predicted {class_names[predicted]} (thick line)" if label is None else
                       f"true {class_names[label]}, predicted {class_names[predicted]} "
                       f"(thick line: the true class)", fontsize=9)
        if row == 0:
            axes.legend(ncol=10, fontsize=7, loc="upper left", bbox_to_anchor=(0, 1.35),
                        frameon=False)
        if row == len(images) - 1:
            axes.set_xlabel("steps seen" + ("" if exact else
                                            " (bidirectional: unseen pixels blacked out)"))
    figure.suptitle("How the prediction forms while the pixels arrive", fontsize=11)
    return plots.save(figure, path)


def plots_colour(index):
    """A distinct colour per class (matplotlib's tab10)."""
    from matplotlib import colormaps

    return colormaps["tab10"](index % 10)
