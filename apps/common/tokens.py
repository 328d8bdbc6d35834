"""The tokens of a language model: words (the sentiment app's standardisation) or characters, and their vocabulary.

Ids 0, 1 and 2 are padding, `[UNK]` and the end-of-document token, as in
the sentiment app's `TextVectorization` vocabulary (0 "", 1 "[UNK]"): a word
LM's vocabulary is a valid sentiment vocabulary, so the classifier can start
from the LM's embedding. `[eod]` can never come out of the standardisation
(it strips brackets), so it never collides with a word.

`TokenVocabulary` is a Keras layer that passes ids through unchanged and
carries the vocabulary in its config: it travels inside `model.keras`, so
`generate` takes a raw prompt.
"""

import collections

import keras
import numpy as np

from apps.common import text as text_module

PACKAGE = "rnn_suite.lm"
PAD_ID, UNK_ID, EOD_ID = 0, 1, 2
RESERVED = ("", "[UNK]", "[eod]")
KINDS = ("word", "char")
# IMDB's HTML line breaks: a character model reads them as a line end.
HTML_BREAKS = ("<br /><br />", "<br />", "<br/>", "<br>")


def _char_text(text):
    for tag in HTML_BREAKS:
        text = text.replace(tag, "\n")
    return text


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenVocabulary(keras.layers.Layer):
    """Ids in, the same ids out; the vocabulary and how text becomes tokens, kept in the config.

    Args:
        vocabulary: The tokens, by id (`RESERVED` first).
        kind: "word" (standardised words, joined by spaces) or "char".
    """

    def __init__(self, vocabulary, kind="word", **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = [str(t) for t in vocabulary]
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, received: kind={kind!r}")
        if tuple(self.vocabulary[:len(RESERVED)]) != RESERVED:
            raise ValueError(f"the vocabulary must start with {list(RESERVED)}, received: "
                             f"{self.vocabulary[:len(RESERVED)]}")
        self.kind = kind
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}

    @property
    def size(self):
        return len(self.vocabulary)

    def call(self, ids):
        return ids

    def compute_output_shape(self, input_shape):
        return input_shape

    def tokens(self, texts):
        """The tokens each text is read as: a list of lists of str."""
        if self.kind == "char":
            return [list(_char_text(text)) for text in texts]
        return text_module.words(list(texts))

    def encode(self, texts):
        """The ids of each text (int32 arrays; unknown tokens are `UNK_ID`)."""
        return [np.array([self._ids.get(t, UNK_ID) for t in tokens], np.int32)
                for tokens in self.tokens(texts)]

    def decode(self, ids):
        """The text of a sequence of ids (padding and end-of-document left out)."""
        tokens = [self.vocabulary[i] for i in np.asarray(ids).ravel()
                  if i not in (PAD_ID, EOD_ID)]
        return ("" if self.kind == "char" else " ").join(tokens)

    def get_config(self):
        return {**super().get_config(), "vocabulary": list(self.vocabulary), "kind": self.kind}


def build_vocabulary(documents, kind, size):
    """The `size` most frequent tokens of `documents` (ties by first appearance), `RESERVED` first.

    Returns:
        A `TokenVocabulary`.
    """
    counts = collections.Counter()
    reader = TokenVocabulary(list(RESERVED), kind)
    for start in range(0, len(documents), 2000):  # bounded memory for the TF string op
        for tokens in reader.tokens(documents[start:start + 2000]):
            counts.update(tokens)
    for token in RESERVED:
        counts.pop(token, None)
    ranked = [token for token, _ in counts.most_common(max(0, size - len(RESERVED)))]
    return TokenVocabulary([*RESERVED, *ranked], kind, name="vocabulary")
