"""The language-model page of `rnn-suite lm demo`: a prompt and the sampling controls in, the
continuation out.

The text is `sampling.continuations`, the line `rnn-suite lm generate` prints
for the same prompt, settings and seed: the same tokenizer, sampling loop and
joining of prompt and continuation. An empty prompt starts a new document, as
`generate` without a prompt does.
"""

from apps.common import demo as common_demo
from apps.lm import NAME
from apps.lm.config import LMConfig

CONFIG_CLASS = LMConfig

MAX_TOKENS = 200  # the page's cap on new tokens (generate's --max-tokens has none)
DEFAULT_TOKENS = 60  # as generate's --max-tokens
MAX_TOP_K = 100_000


def checked_prompt(prompt):
    """The prompt as typed ("" when blank: a new document), or a `DemoInputError` when too long."""
    if not (prompt or "").strip():
        return ""
    common_demo.checked_text(prompt, "prompt")  # the limits; the text goes on as typed
    return prompt


def checked_settings(max_tokens, temperature, top_k, top_p, seed):
    """The controls as `generate` takes them (top-k 0 and top-p 1: no limit), or a
    `DemoInputError` naming the bad one."""
    import math

    def number(value, what):
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise common_demo.DemoInputError(f"{what} must be a number, got {value!r}")
        return value

    def whole(value, what, low, high):
        value = number(value, what)
        if value != int(value) or not low <= value <= high:
            raise common_demo.DemoInputError(f"{what} must be a whole number from {low:,} to "
                                             f"{high:,}, got {value}")
        return int(value)

    max_tokens = whole(max_tokens, "max tokens", 1, MAX_TOKENS)
    temperature = float(number(temperature, "temperature"))
    top_k = whole(top_k, "top-k", 0, MAX_TOP_K) or None
    top_p = float(number(top_p, "top-p"))
    seed = whole(seed, "seed", 0, 2**32 - 1)
    return max_tokens, temperature, top_k, None if top_p == 1 else top_p, seed


def continued(model, step, prompt, max_tokens, temperature, top_k, top_p, seed):
    """`(the line generate prints, a note on how it ended)` for one request."""
    from apps.lm import sampling

    prompt = checked_prompt(prompt)
    max_tokens, temperature, top_k, top_p, seed = checked_settings(max_tokens, temperature,
                                                                   top_k, top_p, seed)
    sampling.check_choice(temperature, top_k, top_p)
    (line, _, ids), = sampling.continuations(model, prompt, max_tokens, temperature=temperature,
                                             top_k=top_k, top_p=top_p, seed=seed, step=step)
    ending = ("stopped at the end-of-document token" if len(ids) < max_tokens else
              f"stopped at the cap of {max_tokens} tokens")
    return line, f"{len(ids)} new tokens; {ending}."


def render(trained, options, prefix=NAME):
    """Lay out the page inside the current `gradio.Blocks`."""
    import gradio as gr

    from apps.lm import model as model_module, sampling

    model = trained.model
    step = sampling.logits_function(model)  # traced once for the page, not per request
    vocabulary = model_module.vocabulary_of(model)
    unit = {"char": "characters", "word": "words"}.get(vocabulary.kind, "subword pieces")
    # A backward model writes what comes before its prompt, the end of a document.
    prompt_label, prompt_hint, text_label = (
        ("Prompt: the end of a text (empty: a whole new document)", "Type the end of a text",
         "What came before, then the prompt") if vocabulary.backwards else
        ("Prompt (empty: start a new document)", "Type the start of a text",
         "Prompt and continuation"))
    gr.Markdown(common_demo.run_summary(NAME, trained, ("test perplexity", "test_perplexity")))
    gr.Markdown(common_demo.limits_note(
        f"a prompt of at most {common_demo.MAX_TEXT_CHARACTERS:,} characters and "
        f"{common_demo.MAX_TEXT_WORDS:,} words (empty: a new document)",
        f"at most {MAX_TOKENS} new tokens ({unit}) per request, one sample"))
    prompt = gr.Textbox(label=prompt_label, lines=3, elem_id=f"{prefix}-prompt",
                        placeholder=prompt_hint)
    with gr.Row():
        max_tokens = gr.Slider(1, MAX_TOKENS, value=DEFAULT_TOKENS, step=1,
                               label=f"Max new tokens (at most {MAX_TOKENS})",
                               elem_id=f"{prefix}-max-tokens")
        temperature = gr.Slider(0, 2, value=1.0, step=0.05, label="Temperature (0: greedy)",
                                elem_id=f"{prefix}-temperature")
    with gr.Row():
        top_k = gr.Number(value=0, precision=0, minimum=0, label="Top-k (0: all tokens)",
                          elem_id=f"{prefix}-top-k")
        top_p = gr.Slider(0.01, 1, value=1.0, step=0.01, label="Top-p (1: no limit)",
                          elem_id=f"{prefix}-top-p")
        seed = gr.Number(value=0, precision=0, minimum=0, label="Seed (the same seed, the "
                         "same text)", elem_id=f"{prefix}-seed")
    go = gr.Button("Generate", variant="primary", elem_id=f"{prefix}-go")
    text = gr.Textbox(label=f"{text_label} (as rnn-suite lm generate prints it)",
                      lines=6, interactive=False, elem_id=f"{prefix}-text")
    note = gr.Markdown(elem_id=f"{prefix}-note")

    @common_demo.answer
    def generate(*values):
        return continued(model, step, *values)

    inputs = [prompt, max_tokens, temperature, top_k, top_p, seed]
    go.click(generate, inputs, [text, note], api_name=f"{prefix}_generate")
