"""The translation page of `rnn-suite translation demo`: a sentence in, its translation, the
attention map and the beam's n-best list out.

The translation comes from `evaluation.translate_sentences`, as `predict`
prints it (`evaluation.printed`), with the same decoding settings: the run's,
or the page's beam size and length alpha, which start at `--beam-size` or the
run's. The attention map is `pictures.attention_map`, the picture
`predict --show-attention` draws. The n-best list is every hypothesis the
same beam search keeps (`evaluation.n_best`), with its log-probability and
its length-normalised score; greedy search has one.
"""

import os
import tempfile

from apps.common import demo as common_demo
from apps.translation import NAME
from apps.translation.config import TranslationConfig

CONFIG_CLASS = TranslationConfig

EXAMPLES = 4
N_BEST_HEADERS = ["rank", "translation", "log-probability", "score", "finished"]


def settings(trained, options):
    """The page's starting `(beam size, max output length, length alpha, unk replace)`."""
    from apps.translation import evaluation

    beam, length, alpha = evaluation.decoding_settings(trained.config, options.beam_size)
    return (min(beam, common_demo.MAX_BEAM), length, alpha,
            evaluation.unk_replace_setting(trained.config))


def checked_alpha(length_alpha):
    """The length alpha from the page, a number from 0 to 5, or a `DemoInputError`."""
    try:
        alpha = float(length_alpha)
    except (TypeError, ValueError):
        raise common_demo.DemoInputError("the length alpha must be a number from 0 to 5") from None
    if not 0 <= alpha <= 5:
        raise common_demo.DemoInputError(f"the length alpha must be a number from 0 to 5, "
                                         f"got {length_alpha}")
    return alpha


def translation(translator, text, beam_size, max_output_length, length_alpha, unk_replace):
    """`(line, result, warnings, n-best)` for one sentence: `predict`'s line and its search."""
    from apps.translation import evaluation

    text = common_demo.checked_text(text, "sentence")
    beam, alpha = common_demo.checked_beam(beam_size), checked_alpha(length_alpha)
    if not translator.source_tokens([text])[0]:
        raise common_demo.DemoInputError("the sentence has no words the model reads (only "
                                         "punctuation or symbols): nothing to translate")
    (result,), warnings = evaluation.translate_sentences(
        translator, [text], beam, max_output_length, alpha, with_attention=True,
        unk_replace=unk_replace)
    hypotheses = evaluation.n_best(translator, text, beam, max_output_length, alpha,
                                   unk_replace=unk_replace)
    return evaluation.printed(result), result, warnings, hypotheses


def heat_map(result):
    """The attention map of one translation (as `predict --show-attention` draws it): pixels."""
    import numpy as np
    from PIL import Image

    from apps.translation import pictures

    handle, path = tempfile.mkstemp(suffix=".png", prefix="translation-demo-")
    os.close(handle)
    try:
        pictures.attention_map([result], path)
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    finally:
        os.unlink(path)


def n_best_rows(hypotheses):
    return [[rank, h["translation"], round(h["log_prob"], 4), round(h["score"], 4),
             "yes" if h["finished"] else "no (cut at the length limit)"]
            for rank, h in enumerate(hypotheses, 1)]


def test_examples(trained):
    """A few source sentences of the run's test translations, or [] when there are none."""
    from apps.translation import evaluation

    path = trained.path.parent / evaluation.TRANSLATIONS_FILE
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
    except (OSError, UnicodeDecodeError):
        return []
    sources = [line.split("\t")[0] for line in lines if line.strip()]
    return [s for s in sources if s.strip()][:EXAMPLES]


def render(trained, options, prefix=NAME):
    """Lay out the page inside the current `gradio.Blocks`."""
    import gradio as gr

    from apps.translation import model as model_module

    translator = model_module.Translator(trained.model)
    beam, length, alpha, unk_replace = settings(trained, options)
    gr.Markdown(common_demo.run_summary(NAME, trained, (f"test BLEU (beam {beam})",
                                                        "bleu_beam")))
    gr.Markdown(common_demo.limits_note(
        f"a sentence of at most {common_demo.MAX_TEXT_CHARACTERS:,} characters and "
        f"{common_demo.MAX_TEXT_WORDS:,} words",
        f"a beam of at most {common_demo.MAX_BEAM}",
        "the output stops at " + (f"{length} tokens" if length
                                  else "twice the source's tokens plus 10")))
    source = gr.Textbox(label="Sentence", lines=2, elem_id=f"{prefix}-source",
                        placeholder="Type a sentence in the source language")
    with gr.Row():
        beam_size = gr.Slider(1, common_demo.MAX_BEAM, value=beam, step=1,
                              label="Beam size (1: greedy)",
                              elem_id=f"{prefix}-beam")
        length_alpha = gr.Number(value=alpha, label="Length alpha (beam score = log-prob / "
                                                    "length^alpha)", elem_id=f"{prefix}-alpha")
    go = gr.Button("Translate", variant="primary", elem_id=f"{prefix}-go")
    line = gr.Textbox(label="Translation", interactive=False, elem_id=f"{prefix}-translation")
    notes = gr.Markdown(elem_id=f"{prefix}-notes")
    picture = gr.Image(label="Attention (source pieces across, output pieces down)",
                       type="numpy", format="png", interactive=False,
                       elem_id=f"{prefix}-attention")
    table = gr.Dataframe(headers=N_BEST_HEADERS, label="n-best list of the search, best first",
                         interactive=False, elem_id=f"{prefix}-nbest")

    @common_demo.answer
    def translate(text, beam_value, alpha_value):
        shown, result, warnings, hypotheses = translation(
            translator, text, beam_value, length, alpha_value, unk_replace)
        note = "".join(f"- warning: {w}\n" for w in warnings)
        return shown, note, heat_map(result), n_best_rows(hypotheses)

    inputs, outputs = [source, beam_size, length_alpha], [line, notes, picture, table]
    go.click(translate, inputs, outputs, api_name=f"{prefix}_translate")
    source.submit(translate, inputs, outputs, api_visibility="private")
    examples = test_examples(trained)
    if examples:
        gr.Examples([[e] for e in examples], source, label="Test sentences of the run")
