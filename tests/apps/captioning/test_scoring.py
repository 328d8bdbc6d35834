"""Captioning metrics: known values worked out by hand, the PTB tokenisation, METEOR's Java."""

import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from apps.captioning import scoring
from apps.common.errors import UsageError

JAVA = shutil.which("java")
needs_java = pytest.mark.skipif(JAVA is None, reason="java not found on the PATH")


def scores_without_meteor(candidates, references):
    return scoring.caption_scores(candidates, references, meteor=False)


def test_a_candidate_equal_to_one_reference_scores_100():
    scores = scores_without_meteor(
        ["A man rides a brown horse on the beach."],
        [["a woman walks a dog", "a man rides a brown horse on the beach", "a horse"]])
    for n in range(1, 5):
        assert scores[f"BLEU-{n}"] == pytest.approx(100.0, abs=1e-6)
    assert scores["ROUGE-L"] == pytest.approx(100.0)


def test_bleu_1_and_2_by_hand_with_brevity_penalty():
    # candidate "a cat sat down" (after tokenising), c = 4 words
    # ref 1 "the cat sat on the mat"    (6 words)
    # ref 2 "a small cat sat on a mat"  (7 words)
    # closest reference length to 4: |4-6| = 2 < |4-7| = 3, so r = 6
    # unigrams: a (clip at 2, count 1) cat sat -> 3 matched, "down" not: p1 = 3/4
    # bigrams: "a cat" no, "cat sat" yes, "sat down" no: p2 = 1/3
    # brevity penalty: c < r, BP = exp(1 - r/c) = exp(1 - 6/4) = exp(-0.5) = 0.6065
    # BLEU-1 = BP * p1 = 0.6065 * 0.75 = 0.4549
    # BLEU-2 = BP * (p1 * p2) ** (1/2) = 0.6065 * sqrt(0.25) = 0.3033
    scores = scores_without_meteor(["A cat sat down."],
                                   [["The cat sat on the mat.", "A small cat sat on a mat."]])
    brevity = math.exp(1 - 6 / 4)
    assert scores["BLEU-1"] == pytest.approx(100 * brevity * 3 / 4, rel=1e-6)
    assert scores["BLEU-2"] == pytest.approx(100 * brevity * math.sqrt(3 / 4 * 1 / 3), rel=1e-6)
    assert scores["BLEU-1"] == pytest.approx(45.49, abs=0.01)
    assert scores["BLEU-2"] == pytest.approx(30.33, abs=0.01)


def test_bleu_is_corpus_level():
    # Matches and lengths are summed over images before dividing: image 1 matches 2 of 2
    # words, image 2 matches 1 of 4, so p1 = (2 + 1) / (2 + 4) = 1/2 (the mean of the
    # per-image precisions would be 5/8). Candidate lengths 2 + 4 = 6 equal the closest
    # reference lengths 2 + 4, so BP = 1.
    scores = scores_without_meteor(["red car", "a b c d"], [["red car"], ["a x y z"]])
    assert scores["BLEU-1"] == pytest.approx(50.0, rel=1e-6)


def test_rouge_l_by_hand():
    # candidate "a cat sat down" (4 tokens)
    # ref 1 "the cat sat on the mat": LCS "cat sat" = 2 -> P = 2/4, R = 2/6
    # ref 2 "a small cat sat on a mat": LCS "a cat sat" = 3 -> P = 3/4, R = 3/7
    # pycocoevalcap takes the best P and the best R over the references: P = 3/4, R = 3/7
    # F = (1 + b^2) P R / (R + b^2 P) with b = 1.2:
    #   = 2.44 * 0.75 * 0.428571 / (0.428571 + 1.44 * 0.75) = 0.784286 / 1.508571 = 0.519886
    scores = scores_without_meteor(["a cat sat down"],
                                   [["the cat sat on the mat", "a small cat sat on a mat"]])
    precision, recall, beta2 = 3 / 4, 3 / 7, 1.2 ** 2
    expected = (1 + beta2) * precision * recall / (recall + beta2 * precision)
    assert scores["ROUGE-L"] == pytest.approx(100 * expected, rel=1e-9)
    assert scores["ROUGE-L"] == pytest.approx(51.99, abs=0.01)


def test_cider_d_identity_gives_1000_and_a_single_image_gives_0():
    # pycocoevalcap's Cider is CIDEr-D scaled by 10: a candidate equal to its only
    # reference has cosine 1 for every n (clipping changes nothing, the length penalty
    # is exp(0) = 1), so it scores 10, which is 1000 after x100 -- as long as each
    # n-gram order has some n-gram that is not in every image's references (their idf
    # log(N/df) is then > 0). Distinct captions over several images ensure that.
    captions = ["a red circle left of a blue square", "two dogs play in the snow",
                "a man rides a horse on the beach"]
    scores = scores_without_meteor(captions, [[c] for c in captions])
    assert scores["CIDEr-D"] == pytest.approx(1000.0, rel=1e-9)
    # With one image every document frequency is 1 = N, every idf log(1/1) = 0: CIDEr-D 0.
    single = scores_without_meteor(captions[:1], [captions[:1]])
    assert single["CIDEr-D"] == 0.0
    # Averaged over references: equal to one of two references, disjoint from the other,
    # in that corpus, scores exactly half.
    half = scores_without_meteor(captions, [[c, "zz yy xx ww"] for c in captions])
    assert half["CIDEr-D"] == pytest.approx(500.0, rel=1e-9)


@pytest.mark.parametrize("caption, tokens", [
    ("A dog's toy is RED.", "a dog 's toy is red"),
    ("The man doesn't like it, and can't stop; he's \"happy\"!",
     "the man does n't like it and ca n't stop he 's happy"),
    ("Two dogs' bowls (one blue) are on the table...",
     "two dogs bowls -lrb- one blue -rrb- are on the table"),
    ("A t-shirt - with a logo -- on it: 3.5 and 1,000", "a t-shirt with a logo on it 3.5 and 1,000"),
    ("They're gonna see Mr. Smith in the U.S. today.", "they 're gon na see mr. smith in the u.s. today"),
    ("I'm sure we've got it; I'd say you'll see. Cannot!",
     "i 'm sure we 've got it i 'd say you 'll see can not"),
    ("What?! 50% off $5 'quoted'", "what ?! 50 % off $ 5 quoted"),
    ("a man in a red shirt.he smiles", "a man in a red shirt.he smiles"),
    ("  A   dog \n runs . ", "a dog runs"),
    ("“Smart” quotes’s — dash", "smart quotes 's dash"),
    ("", ""),
    ("...", ""),
])
def test_tokenize_matches_coco_caption(caption, tokens):
    assert scoring.tokenize(caption) == tokens


@needs_java
def test_tokenize_agrees_with_the_stanford_jar():
    """The oracle itself: pycocoevalcap's CoreNLP 3.4.1 jar, run as its PTBTokenizer runs it."""
    import pycocoevalcap.tokenizer.ptbtokenizer as ptb
    jar = Path(ptb.__file__).with_name(ptb.STANFORD_CORENLP_3_4_1_JAR)
    captions = [
        "A black dog is running through the grass .", "Two dogs , one black and one brown , play.",
        "A girl's pink dress (with bows) isn't dirty!", "People watch the St. Patrick's Day parade.",
        "A man wearing a 3-D mask... I'd say it's weird?!", "\"Look,\" the kids' teacher says; cannot.",
        "A DOG'S BALL AND A CAT'S MOUSE:", "a man in the U.S. with $5 and 50% wanna go",
    ]
    out = subprocess.run(["java", "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer",
                          "-preserveLines", "-lowerCase"], input="\n".join(captions).encode(),
                         capture_output=True, timeout=60, check=True).stdout.decode().split("\n")
    for caption, line in zip(captions, out):
        expected = " ".join(w for w in line.rstrip().split(" ") if w not in ptb.PUNCTUATIONS)
        assert scoring.tokenize(caption) == expected, caption


def test_scores_are_keyed_and_formatted():
    scores = scores_without_meteor(["a dog runs", "a cat sleeps"],
                                   [["a dog runs fast"], ["a cat is sleeping", "the cat sleeps"]])
    assert set(scores) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D",
                           "METEOR_skipped"}
    assert all(isinstance(scores[k], float) for k in scores if k != "METEOR_skipped")
    assert "meteor=False" in scores["METEOR_skipped"]
    line = scoring.format_scores(scores)
    assert "\n" not in line
    assert line.startswith(f"BLEU-1 {scores['BLEU-1']:.1f}  BLEU-2")
    assert f"CIDEr-D {scores['CIDEr-D']:.1f}" in line and "METEOR skipped" in line


def test_bad_input():
    with pytest.raises(UsageError, match="no candidate captions"):
        scoring.caption_scores([], [])
    with pytest.raises(ValueError, match="2 candidate captions but 1 reference"):
        scoring.caption_scores(["a", "b"], [["a"]], meteor=False)
    with pytest.raises(ValueError, match=r"references\[0\] is empty"):
        scoring.caption_scores(["a"], [[]], meteor=False)
    with pytest.raises(ValueError, match=r"references\[0\] is a str"):
        scoring.caption_scores(["a"], ["a"], meteor=False)
    with pytest.raises(ValueError, match="meteor must be"):
        scoring.caption_scores(["a"], [["a"]], meteor="yes")


def test_meteor_skipped_without_java(monkeypatch):
    monkeypatch.setattr(scoring.shutil, "which", lambda name: None)
    scores = scoring.caption_scores(["a dog"], [["a dog"]], meteor=True)
    assert "METEOR" not in scores and "java not found" in scores["METEOR_skipped"]


def fake_java(tmp_path, monkeypatch, script):
    """Put a `java` that runs `script` (sh) first on the PATH."""
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\n" + script + "\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")


def spy_on_meteor_processes(monkeypatch):
    started = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr("pycocoevalcap.meteor.meteor.subprocess.Popen", popen)
    return started


def test_a_failing_java_gives_a_reason_not_a_crash(tmp_path, monkeypatch):
    fake_java(tmp_path, monkeypatch, "echo 'Error: Unable to access jarfile meteor-1.5.jar' >&2; exit 1")
    started = spy_on_meteor_processes(monkeypatch)
    scores = scoring.caption_scores(["a dog"], [["a dog runs"]], meteor="auto")
    assert "METEOR" not in scores
    assert "failed" in scores["METEOR_skipped"] and "Unable to access jarfile" in scores["METEOR_skipped"]
    assert scores["BLEU-1"] > 0
    assert started and all(p.poll() is not None for p in started)


def test_a_hanging_java_is_stopped(tmp_path, monkeypatch):
    fake_java(tmp_path, monkeypatch, "exec sleep 60")
    monkeypatch.setattr(scoring, "METEOR_TIMEOUT_S", 0.5)
    started = spy_on_meteor_processes(monkeypatch)
    scores = scoring.caption_scores(["a dog"], [["a dog runs"]], meteor=True)
    assert "longer than" in scores["METEOR_skipped"]
    assert started and all(p.poll() is not None for p in started)


@needs_java
def test_meteor_with_java(monkeypatch):
    """One real METEOR run (about 10 s: Java loads its paraphrase table), closed afterwards."""
    started = spy_on_meteor_processes(monkeypatch)
    scores = scoring.caption_scores(
        ["a man rides a horse on the beach", "a cat sleeps on a red sofa"],
        [["A man rides a horse on the beach.", "a person riding a horse by the sea"],
         ["a dog runs in the snow"]], meteor="auto")
    assert "METEOR_skipped" not in scores, scores.get("METEOR_skipped")
    assert 0 < scores["METEOR"] <= 100
    assert started and all(p.poll() is not None for p in started)
    assert "METEOR" in scoring.format_scores(scores)
