"""Training on generated shapes: it learns to say the right thing; search and model agree."""

import json

import numpy as np
import pytest
from captioning_testutils import shapes_images, write_image

from apps import cli
from apps.captioning import model as model_module
from apps.captioning import shapes
from apps.common import model_files, plots, teacher_forcing


@pytest.fixture(scope="module")
def captioner(shapes_run):
    return model_module.Captioner(model_files.load_model(shapes_run / "model.keras", "captioning"))


@pytest.fixture(scope="module")
def fresh(captioner):
    images, references = shapes_images(40, seed=99, size=32)
    return captioner.encode(images), references


def test_run_folder_holds_everything(shapes_run):
    for name in ("config.json", "model.keras", "history.csv", "metrics.json",
                 "test_captions.tsv", "captions_grid.png", "attention_1.png",
                 "learning_curves.png"):
        assert (shapes_run / name).is_file(), name
    assert not (shapes_run / "train.lock").exists()
    config = json.loads((shapes_run / "config.json").read_text())
    assert config["encoder"] == "cnn" and config["image_size"] == 32  # "auto" made concrete


def test_loss_goes_down(shapes_run):
    history = plots.read_history(shapes_run / "history.csv")
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["val_loss"].min() < history["val_loss"][0]


def test_most_held_out_captions_are_exactly_right(shapes_run, captioner, fresh):
    metrics = json.loads((shapes_run / "metrics.json").read_text())
    assert metrics["exact_match_greedy"] >= 0.8, metrics["exact_match_greedy"]
    features, references = fresh
    results = captioner.caption_features(features, beam_size=1)
    right = [shapes.is_correct(r["caption"], refs) for r, refs in zip(results, references)]
    assert np.mean(right) >= 0.8, [r["caption"] for r in results]


def test_model_beats_the_most_frequent_caption_peer(shapes_run):
    metrics = json.loads((shapes_run / "metrics.json").read_text())
    assert metrics["greedy"]["CIDEr-D"] > metrics["most_frequent"]["CIDEr-D"]
    assert metrics["greedy"]["BLEU-4"] > metrics["most_frequent"]["BLEU-4"]


def test_beam_of_one_equals_greedy(captioner, fresh):
    features, _ = fresh
    greedy = captioner.caption_features(features, beam_size=1, greedy=True)
    beam = captioner.caption_features(features, beam_size=1, greedy=False)
    assert [g["words"] for g in greedy] == [b["words"] for b in beam]
    np.testing.assert_allclose([g["log_prob"] for g in greedy], [b["log_prob"] for b in beam],
                               atol=1e-4)


def test_beam_scores_are_the_keras_models_teacher_forced_log_probability(captioner, fresh):
    # The trained Keras decoder itself, fed the found captions as strings, is the oracle.
    features, _ = fresh
    beam = captioner.caption_features(features[:12], beam_size=3, length_alpha=0.0)
    finished = [i for i, r in enumerate(beam) if r["finished"]]
    assert len(finished) >= 6, [r["caption"] for r in beam]
    vocabulary = list(captioner.vocabulary)
    ids = [[vocabulary.index(w) for w in beam[i]["words"]] + [teacher_forcing.END_ID]
           for i in finished]
    _, labels = teacher_forcing.forced_ids(ids)
    logits = np.asarray(captioner.parts.decoder_model(
        {"features": features[finished],
         "caption": np.array([beam[i]["caption"] for i in finished], dtype=object)},
        training=False))
    assert logits.shape[1] >= labels.shape[1]
    expected = teacher_forcing.sequence_log_prob(logits[:, :labels.shape[1]], labels)
    np.testing.assert_allclose([beam[i]["log_prob"] for i in finished], expected, atol=1e-3)


def test_beam_scores_unfinished_captions_as_log_prob_does(captioner, fresh):
    features, _ = fresh
    beam = captioner.caption_features(features[:12], beam_size=3, max_length=2)
    assert not any(r["finished"] for r in beam)  # cut at 2 words: no end token in the score
    vocabulary = list(captioner.vocabulary)
    ids = [[vocabulary.index(w) for w in r["words"]] for r in beam]
    expected = captioner.log_prob(features[:12], ids)
    np.testing.assert_allclose([r["log_prob"] for r in beam], expected, atol=1e-3)
    greedy = captioner.caption_features(features[:12], beam_size=1, max_length=2)
    # Beam search never finds a less probable caption than greedy (same model, no length penalty).
    assert all(b["log_prob"] >= g["log_prob"] - 1e-4 for b, g in zip(beam, greedy))


def test_attention_weights_sum_to_one_over_the_places(captioner, fresh):
    features, _ = fresh
    for result in captioner.caption_features(features[:8], beam_size=1):
        attention = np.asarray(result["attention"])
        assert attention.shape == (len(result["words"]) + 1, features.shape[1])
        np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-5)
        assert (attention >= 0).all()
    assert captioner.grid[0] * captioner.grid[1] == features.shape[1]


def test_predict_from_png_and_jpeg(shapes_run, tmp_path, capsys):
    images, references = shapes_images(2, seed=5, size=64)
    png = write_image(tmp_path / "a.png", images[0])
    jpeg = write_image(tmp_path / "b.jpg", images[1], quality=95)
    figure = tmp_path / "attention.png"
    status = cli.main(["captioning", "predict", "--run", str(shapes_run), str(png), str(jpeg),
                       "--show-attention", str(figure)])
    out, err = capsys.readouterr()
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert shapes.is_correct(lines[0], references[0]) or shapes.is_correct(lines[1], references[1])
    assert figure.is_file() and (tmp_path / "attention_2.png").is_file()


def test_evaluate_writes_scores_and_pictures(shapes_run, tmp_path, capsys):
    out_dir = tmp_path / "evaluation"
    status = cli.main(["captioning", "evaluate", "--run", str(shapes_run), "--limit", "20",
                       "--output", str(out_dir), "--beam-size", "2"])
    out, err = capsys.readouterr()
    assert status == 0, err
    report = json.loads((out_dir / "evaluation.json").read_text())
    assert report["test_images"] == 20 and report["beam_size"] == 2
    for label in ("greedy", "beam", "most_frequent", "nearest_neighbour"):
        assert set(report[label]) >= {"BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr-D"}
    assert "METEOR" not in report["greedy"]  # the run was trained with --meteor off
    rows = (out_dir / "test_captions.tsv").read_text().strip().splitlines()
    assert rows[0] == "image\tgreedy\tbeam\treferences" and len(rows) == 21
    assert (out_dir / "captions_grid.png").is_file() and (out_dir / "attention_1.png").is_file()
    assert "test CIDEr-D" in out
def test_evaluate_on_your_own_csv_and_images_folder(shapes_run, tmp_path, capsys):
    import csv

    pixels, references = shapes_images(6, seed=21, size=32)
    folder = tmp_path / "photos"
    folder.mkdir()
    with open(tmp_path / "mine.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["picture", "text"])
        for index, (image, refs) in enumerate(zip(pixels, references)):
            write_image(folder / f"shape_{index}.png", image)
            for caption in refs[:3]:  # several rows per image: several references
                writer.writerow([f"shape_{index}.png", caption])
    out_dir = tmp_path / "evaluation"
    status = cli.main(["captioning", "evaluate", "--run", str(shapes_run), "--csv",
                       str(tmp_path / "mine.csv"), "--images", str(folder), "--image-col",
                       "picture", "--caption-col", "text", "--output", str(out_dir),
                       "--beam-size", "2"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "on 6 mine.csv images" in out
    report = json.loads((out_dir / "evaluation.json").read_text())
    assert report["test_images"] == 6 and report["dataset"] == "csv"
    assert report["test_data"]["files"] == {"csv": str((tmp_path / "mine.csv").resolve()),
                                            "images": str(folder.resolve())}
    assert report["test_data"]["settings"] == {"image_col": "picture", "caption_col": "text"}
    for label in ("greedy", "beam", "most_frequent", "nearest_neighbour"):  # peers: the run's
        assert set(report[label]) >= {"BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr-D"}
    rows = (out_dir / "test_captions.tsv").read_text().strip().splitlines()
    assert len(rows) == 7
    assert rows[1].split("\t")[0] == "shape_0.png"
    assert rows[1].split("\t")[3] == " | ".join(references[0][:3])
    # The same images as a Flickr8k-style captions file (name#n<TAB>caption).
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("".join(f"shape_{index}.png#{k}\t{caption}\n"
                              for index, refs in enumerate(references)
                              for k, caption in enumerate(refs[:2])), encoding="utf-8")
    status = cli.main(["captioning", "evaluate", "--run", str(shapes_run), "--captions",
                       str(tokens), "--images", str(folder), "--limit", "4",
                       "--output", str(tmp_path / "again")])
    out, err = capsys.readouterr()
    assert status == 0, err
    report = json.loads((tmp_path / "again" / "evaluation.json").read_text())
    assert report["test_images"] == 4 and report["dataset"] == "captions"


