"""The commands: predict (sentences, --file, --show-attention), evaluate, and each kind of bad input."""

import gzip
import json

import pytest
from app_testutils import run_cli
from PIL import Image
from translation_testutils import OTHER_SENTENCES, SENTENCE, TINY


def _assert_usage_error(status, err, *fragments):
    assert status == 2
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("rnn-suite")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_predict_prints_one_translation_a_line(translation_run, capsys):
    status, out, err = run_cli(capsys, "translation", "predict", "--run", translation_run,
                               SENTENCE, *OTHER_SENTENCES)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 + len(OTHER_SENTENCES)
    assert all(line.strip() for line in lines)


def test_predict_from_file_with_attention_map(translation_run, tmp_path, capsys):
    sentences = tmp_path / "in.txt"
    sentences.write_text(f"{SENTENCE}\n\n{OTHER_SENTENCES[0]}\n", encoding="utf-8")
    picture = tmp_path / "attention.png"
    status, out, err = run_cli(capsys, "translation", "predict", "--run", translation_run,
                               "--file", sentences, "--beam-size", "2",
                               "--show-attention", picture)
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and lines[1] == ""  # the empty line stays an empty line
    assert "sentence 2 is empty" in err
    with Image.open(picture) as image:
        assert min(image.size) > 100


def test_predict_file_gives_one_line_per_input_line(translation_run, tmp_path, capsys):
    first, second, third = OTHER_SENTENCES
    lines = [SENTENCE, "", f"{first[:-1]}\u0085{first[-1]}", "   ", f"{second}\u2028{third}",
             f"{third}\r", "\u2029", "?!", SENTENCE]
    sentences = tmp_path / "in.txt"
    sentences.write_bytes("\n".join(lines).encode("utf-8"))  # no line end after the last
    status, out, err = run_cli(capsys, "translation", "predict", "--run", translation_run,
                               "--file", sentences, "--beam-size", "1")
    assert status == 0, err
    printed = out.split("\n")[:-1]
    assert out.endswith("\n") and printed == out.splitlines()
    assert len(printed) == len(lines)
    assert [n for n, line in enumerate(printed, 1) if not line] == [2, 4, 7]
    assert printed[0] == printed[-1]  # the same sentence, the same translation, in order
    for number in (2, 4, 7):
        assert f"sentence {number} is empty" in err


def test_predict_unknown_characters_and_a_very_long_sentence(translation_run, capsys):
    long_sentence = " ".join([SENTENCE] * 12)
    status, out, err = run_cli(capsys, "translation", "predict", "--run", translation_run,
                               "☕ 𝔘𝔫𝔦 ж~~ qqq", long_sentence, "--max-output-length", "15")
    assert status == 0, err
    assert len(out.splitlines()) == 2
    assert "more than any training sentence" in err
    assert "Traceback" not in err


def test_evaluate_writes_scores_and_pictures(translation_run, tmp_path, capsys):
    out_dir = tmp_path / "eval"
    status, out, err = run_cli(capsys, "translation", "evaluate", "--run", translation_run,
                               "--limit", "12", "--beam-size", "2", "--output", out_dir)
    assert status == 0, err
    assert "BLEU greedy" in out and "nrefs:1|case:mixed" in out and "sentences/s" in out
    report = json.loads((out_dir / "evaluation.json").read_text())
    assert report["test_sentences"] == 12 and report["beam_size"] == 2
    assert (out_dir / "test_translations.tsv").is_file()
    assert (out_dir / "attention_1.png").is_file()


def test_predict_without_sentences(translation_run, capsys):
    status, _, err = run_cli(capsys, "translation", "predict", "--run", translation_run)
    _assert_usage_error(status, err, "give sentences to translate")


def test_predict_missing_file(translation_run, tmp_path, capsys):
    status, _, err = run_cli(capsys, "translation", "predict", "--run", translation_run,
                             "--file", tmp_path / "nothing.txt")
    _assert_usage_error(status, err, "nothing.txt does not exist")


def test_run_folder_without_model(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status, _, err = run_cli(capsys, "translation", "predict", "--run", tmp_path / "empty", "x")
    _assert_usage_error(status, err, "has no model.keras", "rnn-suite translation train")


def _pairs_file(path, bad_line=None):
    lines = [f"word{i} is here.\tpalabra{i} está aquí." for i in range(60)]
    if bad_line is not None:
        lines.insert(bad_line - 1, "this line has no tab")
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return path


def test_pairs_file_with_a_malformed_line(in_tmp, capsys):
    pairs = _pairs_file(in_tmp / "pairs.txt.gz", bad_line=7)
    status, _, err = run_cli(capsys, "translation", "train", "--pairs", pairs,
                             "--source-lang", "eng", "--target-lang", "spa", "--epochs", "1")
    _assert_usage_error(status, err, "line 7", "expected English<TAB>Other",
                        "--skip-bad-lines")


def test_skip_bad_lines_goes_on(in_tmp, capsys):
    pairs = _pairs_file(in_tmp / "pairs.txt.gz", bad_line=7)
    status, out, err = run_cli(capsys, "translation", "train", "--pairs", pairs,
                               "--source-lang", "eng", "--target-lang", "spa", "--epochs", "1",
                               "--units", "8", "--embedding-dim", "8", "--min-count", "1",
                               "--batch-size", "16", "--beam-size", "2", "--run-dir", "r",
                               "--skip-bad-lines")
    assert status == 0, err
    assert "skipped 1 malformed line(s)" in out
    assert (in_tmp / "r" / "metrics.json").is_file()


def test_bad_settings(in_tmp, capsys):
    status, _, err = run_cli(capsys, "translation", "train", *TINY, "--jit")
    _assert_usage_error(status, err, "--jit is not available")
    status, _, err = run_cli(capsys, "translation", "train", "--cell", "rnn")
    _assert_usage_error(status, err, "--cell")
    status, _, err = run_cli(capsys, "translation", "train", "--source-lang", "eng",
                             "--target-lang", "eng")
    _assert_usage_error(status, err, "both eng")


def test_missing_data_says_what_was_expected(in_tmp, capsys, monkeypatch):
    monkeypatch.delenv("RNN_SUITE_DATA", raising=False)
    (in_tmp / "data").mkdir()
    status, _, err = run_cli(capsys, "translation", "train", "--source-lang", "deu",
                             "--target-lang", "eng", "--data-dir", in_tmp / "data")
    _assert_usage_error(status, err, "lacks the data", "train.de")
    status, _, err = run_cli(capsys, "translation", "train", "--data-dir", in_tmp / "data")
    _assert_usage_error(status, err, "spa.txt")


def _tsv_rows(path):
    from apps.common import text

    header, *rows = text.split_lines(path.read_text(encoding="utf-8"))
    return header.split("\t"), [row.split("\t") for row in rows]


def test_evaluate_on_your_own_files_with_two_references(translation_run, tmp_path, capsys):
    import sacrebleu

    # Sentences the run knows the language of: its own test split, as files.
    _, rows = _tsv_rows(translation_run / "test_translations.tsv")
    rows = rows[:15]
    sources = [row[0] for row in rows]
    first = [row[1] for row in rows]
    second = [" ".join(reversed(row[1].split())) for row in rows]  # another reference
    files = {}
    for name, lines in (("test.src", sources), ("test.ref1", first), ("test.ref2", second)):
        files[name] = tmp_path / name
        files[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    out_dir = tmp_path / "eval"
    status, out, err = run_cli(capsys, "translation", "evaluate", "--run", translation_run,
                               "--source-file", files["test.src"],
                               "--reference-file", files["test.ref1"],
                               "--reference-file", files["test.ref2"],
                               "--beam-size", "2", "--output", out_dir)
    assert status == 0, err
    assert "nrefs:2" in out and "15 test.src sentences" in out
    report = json.loads((out_dir / "evaluation.json").read_text())
    assert report["test_sentences"] == 15 and report["references_per_sentence"] == 2
    assert report["dataset"] == "files"
    assert report["test_data"]["files"] == {
        "source_file": str(files["test.src"].resolve()),
        "reference_file": [str(files["test.ref1"].resolve()), str(files["test.ref2"].resolve())]}
    header, written = _tsv_rows(out_dir / "test_translations.tsv")
    assert header == ["source", "reference", "greedy", "beam", "reference_2"]
    assert [row[0] for row in written] == sources
    assert [row[4] for row in written] == second
    for column, search in ((2, "greedy"), (3, "beam")):
        outputs = [row[column] for row in written]
        bleu = sacrebleu.corpus_bleu(outputs, [first, second])
        chrf = sacrebleu.corpus_chrf(outputs, [first, second])
        assert report[f"bleu_{search}"] == pytest.approx(bleu.score, abs=1e-9)
        assert report[f"chrf_{search}"] == pytest.approx(chrf.score, abs=1e-9)
    assert (out_dir / "attention_1.png").is_file()


def test_evaluate_files_that_do_not_line_up(translation_run, tmp_path, capsys):
    (tmp_path / "test.src").write_text("ba ko.\nmi tu.\nze lo.\n", encoding="utf-8")
    (tmp_path / "test.ref").write_text("ko ba.\ntu mi.\n", encoding="utf-8")
    status, _, err = run_cli(capsys, "translation", "evaluate", "--run", translation_run,
                             "--source-file", tmp_path / "test.src", "--reference-file",
                             tmp_path / "test.ref", "--output", tmp_path / "eval")
    _assert_usage_error(status, err, f"--source-file {tmp_path / 'test.src'} has 3 lines",
                        f"--reference-file {tmp_path / 'test.ref'} has 2 lines")
    assert not (tmp_path / "eval").exists()
