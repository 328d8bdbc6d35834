"""Captioning's pictures: test images with their captions, and Show-Attend-Tell attention overlays."""

import textwrap

import numpy as np

from apps.common import plots
from apps.common.teacher_forcing import END


def captions_grid(images, generated, references, path, columns=4, title=None):
    """Images in a grid, each with the generated caption (bold) and one reference under it.

    Args:
        images: uint8 [N, H, W, 3].
        generated: N generated captions.
        references: N reference captions (one each).
        path: The PNG to write.
    """
    count = len(images)
    columns = max(1, min(columns, count))
    rows = max(1, -(-count // columns))
    figure = plots.new_figure(3.2 * columns, 3.6 * rows)
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            continue
        ax.imshow(images[index])
        caption = "\n".join(textwrap.wrap(generated[index] or "(empty)", 38))
        reference = "\n".join(textwrap.wrap(references[index], 38))
        ax.set_title(f"{caption}\nref: {reference}", fontsize=7, loc="left")
    if title:
        figure.suptitle(title, fontsize=10)
    return plots.save(figure, path)


def attention_overlay(image, words, attention, grid, path, finished=True, title=None):
    """The image once per generated word, that word's attention over the grid laid on top.

    Args:
        image: uint8 [H, W, 3].
        words: The generated words.
        attention: [steps, L] weights, row t while writing word t (the end
            token's row last, when it was emitted).
        grid: (h, w) of the feature grid, h * w = L.
        path: The PNG to write.
    """
    from PIL import Image

    steps = list(words) + ([END] if finished else [])
    steps = steps[:len(attention)]
    columns = min(5, max(1, len(steps)))
    rows = max(1, -(-len(steps) // columns))
    figure = plots.new_figure(2.2 * columns, 2.4 * rows)
    axes = figure.subplots(rows, columns, squeeze=False)
    height, width = image.shape[:2]
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(steps):
            continue
        weights = np.asarray(attention[index], np.float32).reshape(grid)
        # Smooth upsampling (as the paper's figures): blocky maps hide where it looks.
        upsampled = np.asarray(Image.fromarray(weights / max(weights.max(), 1e-9)).resize(
            (width, height), Image.BICUBIC))
        ax.imshow(image)
        ax.imshow(np.clip(upsampled, 0, 1), cmap="gray", alpha=0.6, vmin=0, vmax=1)
        ax.set_title(steps[index], fontsize=9)
    if title:
        figure.suptitle(title, fontsize=9)
    return plots.save(figure, path)
