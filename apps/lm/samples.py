"""`samples.txt`: text generated after every epoch, so a user watches the model learn."""

import math
from pathlib import Path

import keras

from apps.common.errors import UsageError
from apps.lm import model as model_module
from apps.lm import sampling

SAMPLED = 2
TEMPERATURE = 0.8
TOP_P = 0.95


class SampleWriter(keras.callbacks.Callback):
    """Writes a greedy and two sampled continuations of `prompt` after every epoch.

    The file keeps one section per epoch; a resumed run rewrites the sections
    of the epochs it trains again, so each epoch appears once.
    """

    def __init__(self, path, prompt, tokens):
        super().__init__()
        self.path = Path(path)
        self.prompt = prompt
        self.tokens = tokens

    def on_epoch_end(self, epoch, logs=None):
        # With sampled softmax Keras trains a wrapper; the language model is inside it.
        model = getattr(self.model, "language_model", self.model)
        vocabulary = model_module.vocabulary_of(model)
        step = sampling.logits_function(model)
        try:
            greedy = sampling.generate(model, vocabulary, self.prompt, self.tokens,
                                       temperature=0, step=step)
            sampled = sampling.generate(model, vocabulary, self.prompt, self.tokens,
                                        temperature=TEMPERATURE, top_p=TOP_P, seed=epoch,
                                        num_samples=SAMPLED, step=step)
        except UsageError as error:  # a prompt of only unknown tokens: say so in the file
            greedy, sampled = [(f"({error})", None)], []
        loss = (logs or {}).get("val_loss")
        heading = f"== epoch {epoch + 1}"
        if loss is not None:
            heading += f" (validation perplexity {math.exp(min(float(loss), 700.0)):.2f})"
        def continued(text, ids):
            if ids is None:  # the error's text
                return f"{self.prompt} {text}".strip()
            return vocabulary.join(self.prompt, text, ids).rstrip()

        lines = [heading + " ==", f"greedy: {continued(*greedy[0])}"]
        lines += [f"sample (temperature {TEMPERATURE}, top-p {TOP_P}): {continued(*sample)}"
                  for sample in sampled]
        kept = sections_before(self.path, epoch + 1)
        self.path.write_text(kept + "\n".join(lines) + "\n\n", encoding="utf-8")


def sections_before(path, epoch):
    """The text of `samples.txt` before the section of `epoch` (1-based); "" without a file."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    index = text.find(f"== epoch {epoch} ")  # the heading goes on with " (" or " =="
    return text if index < 0 else text[:index]
