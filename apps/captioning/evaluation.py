"""Scoring a trained captioner on test images: greedy and beam captions, BLEU-4, METEOR,
CIDEr-D, beside the most-frequent and nearest-neighbour peers, and the pictures.

`train` scores the best epoch's model with `evaluate_model`, and so does
`rnn-suite captioning evaluate`: one evaluation for both.
"""

import time
from pathlib import Path

from apps.common import app_commands
from apps.common.errors import UsageError


CAPTIONS_FILE = "test_captions.tsv"


GRID_FILE = "captions_grid.png"


ATTENTION_FIGURES = 3


GRID_IMAGES = 12


def image_encoder(model):
    """The image encoder inside a captioning model."""
    from apps.captioning import encoders

    return model.get_layer(encoders.NAME)


def evaluate_model(model, corpus, config, out_dir, batch_size=64, beam_size=None,
                   max_output_length=None, train_inputs=None):
    """Caption the test split greedy and beam; score both and the two peers; write the files.

    Args:
        model: A trained captioning model.
        corpus: The data (its `test` split is captioned; `train` feeds the peers).
        config: The run's (resolved) `CaptioningConfig`.
        out_dir: Where evaluation files and pictures go.
        train_inputs: `(features, split)` of the training images when already
            at hand (a frozen encoder's cached features); computed otherwise.

    Returns:
        A dict: `greedy`, `beam`, `most_frequent`, `nearest_neighbour` (each a
        dict of scores), `exact_match_*` for generated shapes, `test_images`,
        `images_per_second_*`, `pictures`.
    """
    from apps.captioning import baselines, pictures, scoring
    from apps.captioning import model as model_module

    beam_size = beam_size or config.beam_size
    max_length = max_output_length or config.max_output_length
    captioner = model_module.Captioner(model)
    test = corpus.test
    if not len(test):
        raise UsageError("the test split is empty; nothing to evaluate")
    pixels, skipped = corpus.test_images().load(test.names, config.image_size,
                                                skip_bad=config.skip_bad_lines)
    if skipped:
        app_commands.warn(f"{len(skipped)} test images could not be read and are left out")
        kept = [i for i, n in enumerate(test.names) if n not in set(skipped)]
        test = type(test)([test.names[i] for i in kept], [test.captions[i] for i in kept])
    features = captioner.encode(pixels)
    search = dict(max_length=max_length, length_alpha=config.length_alpha, batch_size=batch_size)
    captioner.caption_features(features[:2], **search)  # trace first: tracing is not speed
    timed = time.perf_counter()
    greedy = captioner.caption_features(features, beam_size=1, **search)
    greedy_speed = len(features) / max(time.perf_counter() - timed, 1e-9)
    captioner.caption_features(features[:2], beam_size=beam_size, greedy=False, **search)
    timed = time.perf_counter()
    beam = captioner.caption_features(features, beam_size=beam_size, greedy=False, **search)
    beam_speed = len(features) / max(time.perf_counter() - timed, 1e-9)

    if not len(corpus.train):
        train_features, train_split = None, None  # no training data at hand: no peers
    elif train_inputs is None:
        train_pixels, _ = corpus.store.load(corpus.train.names, config.image_size,
                                            skip_bad=True)
        train_features, train_split = captioner.encode(train_pixels), corpus.train
        if len(train_features) != len(train_split):
            train_split = None  # unreadable training images: no neighbour peer
    else:
        train_features, train_split = train_inputs
    peers = ({"most_frequent": [baselines.most_frequent_caption(corpus.train.captions)]
              * len(test)} if len(corpus.train) else {})
    if train_split is not None:
        peers["nearest_neighbour"] = baselines.nearest_neighbour_captions(
            train_features, train_split.captions, features)
    report = {"test_images": len(test), "beam_size": beam_size, "max_output_length": max_length}
    for label, captions in [("greedy", [r["caption"] for r in greedy]),
                            ("beam", [r["caption"] for r in beam])] + list(peers.items()):
        report[label] = scoring.caption_scores(captions, test.captions,
                                               meteor="auto" if config.meteor == "auto" else False)
        print(f"{label:>17}: {scoring.format_scores(report[label])}", flush=True)
    if corpus.name == "shapes":
        from apps.captioning import shapes

        for label, results in (("greedy", greedy), ("beam", beam)):
            right = sum(shapes.is_correct(r["caption"], refs)
                        for r, refs in zip(results, test.captions))
            report[f"exact_match_{label}"] = right / len(test)
        print(f"exactly right: greedy {report['exact_match_greedy']:.1%}, beam "
              f"{report['exact_match_beam']:.1%} of {len(test)} test images", flush=True)
    report["images_per_second_greedy"] = round(greedy_speed, 2)
    report["images_per_second_beam"] = round(beam_speed, 2)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / CAPTIONS_FILE, "w", encoding="utf-8") as handle:
        handle.write("image\tgreedy\tbeam\treferences\n")
        for name, g, b, refs in zip(test.names, greedy, beam, test.captions):
            cells = [name, g["caption"], b["caption"], " | ".join(refs)]
            handle.write("\t".join(c.replace("\t", " ") for c in cells) + "\n")
    shown = min(GRID_IMAGES, len(test))
    names = [pictures.captions_grid(pixels[:shown], [r["caption"] for r in beam[:shown]],
                                    [refs[0] for refs in test.captions[:shown]], out / GRID_FILE,
                                    title=f"{corpus.name} test images: beam {beam_size} caption "
                                          "and one reference").name]
    for index in range(min(ATTENTION_FIGURES, len(test))):
        path = out / f"attention_{index + 1}.png"
        pictures.attention_overlay(pixels[index], beam[index]["words"], beam[index]["attention"],
                                   captioner.grid, path, finished=beam[index]["finished"],
                                   title=test.names[index])
        names.append(path.name)
    report["pictures"] = names
    report["captions_file"] = CAPTIONS_FILE
    return report


# --- predict's core (the `predict` command and the demo page) -------------------------


def read_images(paths, config):
    """The pixels `predict` captions: each file decoded to the run's square size (uint8
    [N, size, size, 3]), by `images.read_image_file`, as training reads its images.

    Raises:
        UsageError: A missing or unreadable file, naming it.
    """
    import numpy as np

    from apps.captioning import images as images_module

    return np.stack([images_module.read_image_file(p, config.image_size) for p in paths])


def caption_pixels(captioner, pixels, config, beam_size=None, max_output_length=None):
    """`predict`'s captions of decoded images: `(results, warnings)`.

    `results` are `Captioner.caption_images`'s dicts (caption, words,
    attention, ...), in order, searched with the given beam size and length
    limit, else the run's; `warnings` the lines `predict` warns with.
    """
    results = captioner.caption_images(
        pixels, beam_size=beam_size or config.beam_size,
        max_length=max_output_length or config.max_output_length,
        length_alpha=config.length_alpha)
    warnings = [f"image {number}: the caption stopped at --max-output-length before the end "
                "token" for number, result in enumerate(results, 1) if not result["finished"]]
    return results, warnings
