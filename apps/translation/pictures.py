"""Translation's own picture: the attention map (source words across, output words down)."""

import numpy as np

from apps.common import plots
from apps.translation import text


def attention_map(items, path, title=None):
    """One panel per translation: row i = the attention while writing output word i.

    Args:
        items: Dicts from `Translator.translate(..., with_attention=True)`
            (`source_words`, `words`, `attention`, `translation`).
        path: The PNG to write.

    Returns:
        The path written.
    """
    items = [item for item in items if item["source_words"]]
    if not items:
        figure = plots.new_figure(4, 1.5)
        figure.text(0.5, 0.5, "nothing to show (empty sentences)", ha="center", va="center")
        return plots.save(figure, path)
    heights = [max(2.0, 0.32 * (len(item["words"]) + 1) + 1.4) for item in items]
    widths = [max(3.0, 0.42 * len(item["source_words"]) + 2.0) for item in items]
    figure = plots.new_figure(max(widths), sum(heights))
    grid = figure.add_gridspec(len(items), 1, height_ratios=heights)
    for row, item in enumerate(items):
        axes = figure.add_subplot(grid[row, 0])
        outputs = list(item["words"]) + ([text.END] if item.get("finished", True) else [])
        weights = np.asarray(item["attention"], dtype=np.float32)[:len(outputs)]
        outputs = outputs[:len(weights)]
        image = axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(item["source_words"])), item["source_words"], rotation=60,
                        ha="right", fontsize=8)
        axes.set_yticks(range(len(outputs)), outputs, fontsize=8)
        axes.set_xlabel("source words", fontsize=8)
        axes.set_ylabel("output words", fontsize=8)
        axes.set_title(item["translation"][:90], fontsize=9)
        figure.colorbar(image, ax=axes, shrink=0.8)
    if title:
        figure.suptitle(title, fontsize=10)
    return plots.save(figure, path)
