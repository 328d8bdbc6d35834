"""`rnn-suite lm export`: the SavedModel, loaded in a fresh process, continues a raw prompt as
`generate` does (greedy: token for token; top-k 1 is greedy; a seed repeats its sample)."""

import pytest

from app_testutils import run_cli
from serving_testutils import call_in_fresh_process, export, strings

from apps.common import model_files
from apps.lm import model as model_module, sampling

from test_lm import TINY

PROMPTS = ["the acting", "this movie was", "", "The"]


@pytest.mark.parametrize("tokenizer", [
    ["--tokenizer", "word"],
    # SentencePiece's op inside the export; "The" is not in the (lower-case) corpus.
    ["--tokenizer", "subword", "--vocab-size", "300"],
    # A backward model: the graph reverses the prompt and the new text as `generate` does.
    ["--tokenizer", "word", "--backwards"]], ids=["word", "subword", "word-backwards"])
def test_export_continues_a_prompt_as_generate_does(capsys, in_tmp, tokenizer):
    status, _, err = run_cli(capsys, "lm", "train", *TINY, *tokenizer, "--epochs", "1")
    assert status == 0, err
    (run,) = list((in_tmp / "runs" / "lm").iterdir())
    out = export(capsys, "lm", run, in_tmp / "export")
    assert "signature serving_default: prompt (string [None])" in out

    def ask(temperature, top_k, seed):
        return ("export", "serving_default", {
            "prompt": strings(PROMPTS), "max_tokens": {"kind": "int32", "values": 10},
            "temperature": {"kind": "float32", "values": temperature},
            "top_k": {"kind": "int32", "values": top_k},
            "seed": {"kind": "int32", "values": seed}})

    answer = call_in_fresh_process({"export": in_tmp / "export"}, {
        "greedy": ask(0.0, 0, 0), "top1": ask(1.0, 1, 4),
        "sampled": ask(1.0, 5, 7), "again": ask(1.0, 5, 7)}, in_tmp / "fresh")
    model = model_files.load_model(run / "model.keras", "lm")
    vocabulary = model_module.vocabulary_of(model)
    expected = [sampling.generate(model, vocabulary, prompt, max_tokens=10, temperature=0)[0]
                for prompt in PROMPTS]
    assert answer["greedy"]["text"] == [text for text, _ in expected]
    assert answer["greedy"]["tokens"] == [len(ids) for _, ids in expected]
    assert answer["top1"] == answer["greedy"]  # only the most likely token is left to draw
    assert answer["sampled"] == answer["again"]
    assert all(count <= 10 for count in answer["sampled"]["tokens"])
    if vocabulary.kind == "word":  # (a subword text may re-read as other pieces)
        assert all(len(text.split()) == count for text, count in
                   zip(answer["sampled"]["text"], answer["sampled"]["tokens"]))
