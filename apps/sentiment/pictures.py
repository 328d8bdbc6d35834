"""Sentiment's own outputs: the reliability (calibration) plot and the attention HTML pages."""

import html

import numpy as np

from apps.common import plots

RELIABILITY_BINS = 10


def reliability(probabilities, labels, bins=RELIABILITY_BINS):
    """Per equal-width bin of P(positive): (centres, mean predicted, fraction positive, counts).

    Also returns the expected calibration error (ECE): the count-weighted mean
    gap between predicted probability and observed frequency.
    """
    probabilities = np.asarray(probabilities, np.float64).ravel()
    labels = np.asarray(labels, np.float64).ravel()
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    predicted = np.bincount(which, probabilities, minlength=bins) / np.maximum(counts, 1)
    observed = np.bincount(which, labels, minlength=bins) / np.maximum(counts, 1)
    ece = float(np.sum(counts * np.abs(predicted - observed)) / max(1, counts.sum()))
    return (edges[:-1] + edges[1:]) / 2, predicted, observed, counts, ece


def reliability_plot(probabilities, labels, path, title="Reliability", uncalibrated=None):
    """Observed fraction of positives against predicted P(positive), with a histogram below.

    `uncalibrated`: the probabilities before temperature scaling, drawn for comparison.

    Returns:
        (the path written, the ECE of `probabilities`).
    """
    figure = plots.new_figure(5.0, 5.6)
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    if uncalibrated is not None:
        _, predicted, observed, counts, ece_before = reliability(uncalibrated, labels)
        shown = counts > 0
        top.plot(predicted[shown], observed[shown], marker="s", color="tab:orange", alpha=0.7,
                 label=f"before temperature scaling (ECE {ece_before:.3f})")
    centres, predicted, observed, counts, ece = reliability(probabilities, labels)
    shown = counts > 0
    top.plot(predicted[shown], observed[shown], marker="o", color="tab:blue",
             label=f"model (ECE {ece:.3f})")
    top.set_ylabel("fraction actually positive")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.grid(alpha=0.3)
    top.legend(fontsize=8, loc="upper left")
    top.set_title(title, fontsize=10)
    bottom.bar(centres, counts, width=1.0 / len(centres) * 0.9, color="tab:blue", alpha=0.7)
    bottom.set_yscale("log" if counts.max() > 50 * max(1, counts[counts > 0].min()) else "linear")
    bottom.set_xlabel("predicted P(positive)")
    bottom.set_ylabel("reviews")
    return plots.save(figure, path), ece


def _tint(weight, top):
    """A background colour for a word: white (no weight) to orange (the largest weight)."""
    strength = 0.0 if top <= 0 else min(1.0, weight / top)
    red, green, blue = 255, int(255 - 120 * strength), int(255 - 230 * strength)
    return f"rgb({red},{green},{blue})"


def explanation_html(words, weights, probability, class_names, truth=None, title="Review",
                     unknown=None):
    """An HTML page: the words the model read, tinted by attention weight, and the verdict.

    `unknown`: flags for words outside the vocabulary (shown in grey italics).
    """
    weights = np.asarray(weights, np.float64)
    top = float(weights.max()) if len(weights) else 0.0
    predicted = int(probability >= 0.5)
    unknown = np.zeros(len(words), bool) if unknown is None else np.asarray(unknown, bool)
    spans = " ".join(
        f'<span title="{w:.4f}{" (not in the vocabulary)" if u else ""}" '
        f'style="background:{_tint(w, top)}{";color:#888;font-style:italic" if u else ""}">'
        f'{html.escape(word)}</span>'
        for word, w, u in zip(words, weights, unknown))
    ranked = np.argsort(-weights)[:10] if len(weights) else []
    table = "".join(f"<tr><td>{html.escape(words[i])}</td><td>{weights[i]:.3f}</td></tr>"
                    for i in ranked)
    verdict = (f"<b>{html.escape(class_names[predicted])}</b>, P({html.escape(class_names[1])})"
               f" = {probability:.3f}")
    if truth is not None:
        right = "right" if predicted == truth else "wrong"
        verdict += f"; true label: <b>{html.escape(class_names[truth])}</b> ({right})"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.9}}
span{{padding:1px 2px;border-radius:3px}} td{{padding:0 1em}}</style></head>
<body><h2>{html.escape(title)}</h2><p>Prediction: {verdict}</p>
<p style="color:#666">The words as the model read them (lower-cased, punctuation removed, cut at
its maximum length); the deeper the tint, the larger the attention pooling's weight on that
step. Hover a word for its weight; grey italics: not in the vocabulary (read as [UNK]).</p>
<p>{spans}</p>
<h3>Largest weights</h3><table>{table}</table></body></html>
"""
