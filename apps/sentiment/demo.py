"""The sentiment page of `rnn-suite sentiment demo`: a review in, the verdict and the words
that carried it out.

The verdict comes from `evaluation.classify`, as `predict` prints it. Each word is
tinted by its attention weight when the model pools with attention (the weights
`predict --explain` prints); otherwise by its contribution, measured by leaving
it out: P(positive) of the review minus P(positive) without that word, the
same classifier on every variant. The page says which it shows.
"""

import html

from apps.common import demo as common_demo
from apps.sentiment import NAME
from apps.sentiment.config import SentimentConfig

CONFIG_CLASS = SentimentConfig

EXAMPLES_EACH = 2  # right and wrong test reviews


def verdict(model, text):
    """`(verdict line, P(class 1), [(word, weight)], what the weights are)` for one review."""
    from apps.common import text as text_module
    from apps.sentiment import data, evaluation, model as model_module

    text = common_demo.checked_text(text, "review")
    words = text_module.words([text])[0]
    if not words:
        raise common_demo.DemoInputError("the review has no words (only punctuation or "
                                         "symbols): nothing to classify")
    (label, probability), = evaluation.classify(model, [text])
    names = model_module.class_names(model)
    line = f"{label}  (P({names[1]}) = {probability:.3f})"
    read = words[:evaluation.max_length_of(model)]
    if model_module.has_attention(model):
        _, read, weights, _ = evaluation.explain_texts(model, [text])[0]
        return line, probability, list(zip(read, map(float, weights))), "attention weight"
    without = [" ".join(read[:i] + read[i + 1:]) for i in range(len(read))]
    left_out = data.predict_probabilities(model, without, evaluation.PREDICT_BATCH,
                                          evaluation.max_length_of(model))
    return (line, probability, [(w, probability - float(p)) for w, p in zip(read, left_out)],
            f"contribution to P({names[1]}) (left out one at a time)")


def tinted_html(weighted, kind):
    """The words as HTML, each on a background as strong as its weight (red below zero)."""
    largest = max((abs(w) for _, w in weighted), default=0.0) or 1.0
    spans = []
    for word, weight in weighted:
        strength = abs(weight) / largest
        colour = "255, 140, 0" if weight >= 0 else "220, 40, 40"
        spans.append(f'<span title="{weight:+.3f}" style="background: rgba({colour}, '
                     f'{0.08 + 0.82 * strength:.2f}); padding: 1px 2px; border-radius: 3px">'
                     f"{html.escape(word)}</span>")
    return (f'<p style="font-size: 0.9em; color: #555">Each word tinted by its {kind}.</p>'
            f'<p style="line-height: 1.9">{" ".join(spans)}</p>')


def test_examples(trained):
    """A few of the run's test reviews, right and wrong ones, or [] when its data is not at hand."""
    from apps.sentiment import evaluation, train as sentiment_train

    predictions = trained.path.parent / evaluation.PREDICTIONS
    if trained.config is None or not predictions.is_file():
        return []
    try:
        reviews = sentiment_train.load_reviews(trained.config)
        labels, probabilities = evaluation.read_predictions(predictions)
    except Exception:  # noqa: BLE001 - examples are a convenience: the page works without
        return []
    right = [i for i, (y, p) in enumerate(zip(labels, probabilities)) if (p >= 0.5) == y]
    wrong = [i for i, (y, p) in enumerate(zip(labels, probabilities)) if (p >= 0.5) != y]
    chosen = right[:EXAMPLES_EACH] + wrong[:EXAMPLES_EACH]
    return [reviews.x_test[i][:common_demo.MAX_TEXT_CHARACTERS] for i in chosen
            if i < len(reviews.x_test)]


def render(trained, options, prefix=NAME):
    """Lay out the page inside the current `gradio.Blocks`."""
    import gradio as gr

    from apps.sentiment import evaluation

    model = trained.model
    gr.Markdown(common_demo.run_summary(NAME, trained, ("test accuracy", "test_accuracy")))
    gr.Markdown(common_demo.limits_note(
        f"a review of at most {common_demo.MAX_TEXT_CHARACTERS:,} characters and "
        f"{common_demo.MAX_TEXT_WORDS:,} words (the model reads the first "
        f"{evaluation.max_length_of(model):,})"))
    review = gr.Textbox(label="Review", lines=5, elem_id=f"{prefix}-review",
                        placeholder="Type a movie review")
    go = gr.Button("Classify", variant="primary", elem_id=f"{prefix}-go")
    line = gr.Textbox(label="Verdict", interactive=False, elem_id=f"{prefix}-verdict")
    probability = gr.Number(label="P(positive), calibrated", interactive=False,
                            elem_id=f"{prefix}-probability")
    words = gr.HTML(elem_id=f"{prefix}-words")

    @common_demo.answer
    def classify(text):
        verdict_line, p, weighted, kind = verdict(model, text)
        return verdict_line, round(p, 4), tinted_html(weighted, kind)

    go.click(classify, review, [line, probability, words], api_name=f"{prefix}_classify")
    review.submit(classify, review, [line, probability, words], api_visibility="private")
    examples = test_examples(trained)
    if examples:
        gr.Examples([[e] for e in examples], review,
                    label=f"Test reviews of the run ({EXAMPLES_EACH} right, then up to "
                          f"{EXAMPLES_EACH} wrong)")

