"""Captioning's pictures: test images with their captions, and Show-Attend-Tell attention overlays."""

import textwrap

import numpy as np

from apps.common import plots
from apps.common.teacher_forcing import END

OVERLAY_ALPHA = 0.6  # how strongly the attention mask covers the image


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
        ax.imshow(image)
        ax.imshow(attention_mask(attention[index], grid, height, width), cmap="gray",
                  alpha=OVERLAY_ALPHA, vmin=0, vmax=1)
        ax.set_title(steps[index], fontsize=9)
    if title:
        figure.suptitle(title, fontsize=9)
    return plots.save(figure, path)


def attention_mask(weights, grid, height, width):
    """One step's attention weights [L] over the (h, w) grid, as a [height, width] map in
    0..1 (the largest weight 1), upsampled smoothly: the mask `attention_overlay` lays on."""
    from PIL import Image

    weights = np.asarray(weights, np.float32).reshape(grid)
    # Smooth upsampling (as the paper's figures): blocky maps hide where it looks.
    upsampled = np.asarray(Image.fromarray(weights / max(weights.max(), 1e-9)).resize(
        (width, height), Image.BICUBIC))
    return np.clip(upsampled, 0, 1)


def overlaid(image, weights, grid):
    """uint8 [H, W, 3]: `image` with one step's attention mask on top, blended as
    `attention_overlay` draws each panel (gray mask at `OVERLAY_ALPHA`)."""
    image = np.asarray(image, np.float32)
    mask = attention_mask(weights, grid, image.shape[0], image.shape[1])[..., None] * 255.0
    blended = (1 - OVERLAY_ALPHA) * image + OVERLAY_ALPHA * mask
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)
