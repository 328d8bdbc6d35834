"""The tokens of a language model: words (the sentiment app's standardisation), characters or
SentencePiece subwords, and their vocabulary.

Ids 0, 1 and 2 are padding, `[UNK]` and the end-of-document token, as in
the sentiment app's `TextVectorization` vocabulary (0 "", 1 "[UNK]"): a word
LM's vocabulary is a valid sentiment vocabulary, so the classifier can start
from the LM's embedding. `[eod]` can never come out of the standardisation
(it strips brackets), so it never collides with a word.

`TokenVocabulary` is a Keras layer that passes ids through unchanged and
carries the vocabulary in its config: it travels inside `model.keras`, so
`generate` takes a raw prompt.

Subwords are translation's SentencePiece pieces (`apps.common.subwords`: 0
padding, 1 `[UNK]`, 2 `[START]`, 3 `[END]`, 256 byte pieces, then the learned
ones): here id 2 is read as `[eod]` and 3 is never used. Byte fallback means no
text is ever `[UNK]`. SentencePiece turns IMDB's <br /> (made line ends first)
into spaces, and keeps case and punctuation.
"""

import collections

import keras
import numpy as np

from apps.common import text as text_module

PACKAGE = "rnn_suite.lm"
PAD_ID, UNK_ID, EOD_ID = 0, 1, 2
RESERVED = ("", "[UNK]", "[eod]")
KINDS = ("word", "char", "subword")
# SentencePiece learns from the first documents up to this many characters (about 8,000
# reviews): more text barely changes a 12,000-piece vocabulary and costs minutes.
SUBWORD_TRAINING_CHARACTERS = 10_000_000
# IMDB's HTML line breaks: a character model reads them as a line end.
HTML_BREAKS = ("<br /><br />", "<br />", "<br/>", "<br>")


def _char_text(text):
    for tag in HTML_BREAKS:
        text = text.replace(tag, "\n")
    return text


def _lines(text, longest=2000):
    """`text` as lines of at most about `longest` characters, cut at spaces: SentencePiece
    skips a sentence longer than 4,192 bytes when it learns, and a review can be longer."""
    for line in text.split("\n"):
        while len(line) > longest:
            cut = line.rfind(" ", 0, longest)
            cut = longest if cut <= 0 else cut
            yield line[:cut]
            line = line[cut:].lstrip()
        yield line


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenVocabulary(keras.layers.Layer):
    """Ids in, the same ids out; the vocabulary and how text becomes tokens, kept in the config.

    Args:
        vocabulary: The tokens, by id (`RESERVED` first). For subwords: None
            (they come from the proto).
        kind: "word" (standardised words, joined by spaces), "char" or "subword".
        proto: For "subword" only: the SentencePiece model from
            `subwords.learn_subwords` (bytes, or the base64 text of a config).
        backwards: Read every text from its last token to its first: `encode`
            gives the ids in reverse and `decode` turns them back, so a
            language model with this vocabulary predicts each token from the
            ones after it (a backward LM) and generates what comes before a
            prompt.

    Example:

    >>> vocabulary = TokenVocabulary(["", "[UNK]", "[eod]", "the", "movie"])
    >>> [ids.tolist() for ids in vocabulary.encode(["The movie, the END"])]
    [[3, 4, 3, 1]]
    >>> vocabulary.decode([2, 3, 4])
    'the movie'
    >>> backward = TokenVocabulary(["", "[UNK]", "[eod]", "the", "movie"], backwards=True)
    >>> [ids.tolist() for ids in backward.encode(["The movie, the END"])]
    [[1, 3, 4, 3]]
    >>> backward.decode([4, 3])
    'the movie'
    """

    def __init__(self, vocabulary=None, kind="word", proto=None, backwards=False, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, received: kind={kind!r}")
        if (kind == "subword") != (proto is not None):
            raise ValueError("a proto (the SentencePiece model) is what a subword vocabulary is "
                             f"made of, and only that; received kind={kind!r} with "
                             f"proto={'given' if proto is not None else None}")
        self.subwords = None
        if kind == "subword":
            from apps.common import subwords

            # A sublayer: the model tracks it, so an export keeps its SentencePiece op.
            self.subwords = subwords.SubwordVectorizer(proto, name="subwords")
            vocabulary = [*RESERVED, *self.subwords.get_vocabulary()[len(RESERVED):]]
        self.vocabulary = [str(t) for t in vocabulary]
        if tuple(self.vocabulary[:len(RESERVED)]) != RESERVED:
            raise ValueError(f"the vocabulary must start with {list(RESERVED)}, received: "
                             f"{self.vocabulary[:len(RESERVED)]}")
        self.kind = kind
        self.backwards = bool(backwards)
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}

    def build(self, input_shape=None):
        if self.subwords is not None:
            self.subwords.build()  # SentencePiece's resource, before any graph is traced
        self.built = True

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
        if self.kind == "subword":
            return self.subwords.pieces([_char_text(text) for text in texts])
        return text_module.words(list(texts))

    def encode(self, texts):
        """The ids of each text in reading order, reversed if `backwards` (int32 arrays;
        unknown tokens are `UNK_ID`)."""
        return [ids[::-1].copy() if self.backwards else ids for ids in self._forward_ids(texts)]

    def _forward_ids(self, texts):
        if self.kind == "subword":
            return [np.array(ids, np.int32)
                    for ids in self.subwords.ids([_char_text(text) for text in texts])]
        return [np.array([self._ids.get(t, UNK_ID) for t in tokens], np.int32)
                for tokens in self.tokens(texts)]

    def decode(self, ids):
        """The text of a sequence of ids as `encode` orders them (padding and end-of-document
        left out)."""
        ids = [int(i) for i in np.asarray(ids).ravel() if i not in (PAD_ID, EOD_ID)]
        if self.backwards:
            ids.reverse()
        if self.kind == "subword":
            return self.subwords.detokenize([ids])[0]
        return ("" if self.kind == "char" else " ").join(self.vocabulary[i] for i in ids)

    def separator(self, ids):
        """What goes between a prompt and a continuation that starts with `ids`: a space
        between words, nothing between characters, and for subwords a space only when the
        first piece starts a word (SentencePiece's "▁")."""
        if self.kind == "word":
            return " "
        if self.kind == "subword" and len(ids) and self.vocabulary[int(ids[0])].startswith("▁"):
            return " "
        return ""

    def join(self, prompt, text, ids):
        """`prompt` and the text generated from it (`text`, from the new `ids`) in reading
        order: after the prompt, or before it for a backward vocabulary."""
        if not (prompt and text):
            return prompt + text
        if self.backwards:
            # What goes between the two is what would go before the prompt's first token.
            return f"{text}{self.separator(self._forward_ids([prompt])[0])}{prompt}"
        return f"{prompt}{self.separator(ids)}{text}"

    def reading(self, backwards):
        """This vocabulary if it reads that way, else a copy that reads forwards, or `backwards`."""
        if bool(backwards) == self.backwards:
            return self
        return TokenVocabulary.from_config({**self.get_config(), "backwards": backwards})

    def get_config(self):
        config = {**super().get_config(), "kind": self.kind, "backwards": self.backwards}
        if self.kind == "subword":  # the pieces are in the proto
            return {**config, "vocabulary": None,
                    "proto": self.subwords.get_config()["proto"]}
        return {**config, "vocabulary": list(self.vocabulary)}


def build_vocabulary(documents, kind, size):
    """The `size` most frequent tokens of `documents` (ties by first appearance), `RESERVED` first.

    Subwords: a SentencePiece unigram model learned from the first documents
    (up to `SUBWORD_TRAINING_CHARACTERS`), `size` ids in all.

    Returns:
        A `TokenVocabulary`.

    Raises:
        ValueError: For subwords, a size below what SentencePiece needs here.
    """
    if kind == "subword":
        from apps.common import subwords

        sample, characters = [], 0
        for document in documents:
            sample.extend(_lines(_char_text(document)))
            characters += len(document)
            if characters >= SUBWORD_TRAINING_CHARACTERS:
                break
        return TokenVocabulary(kind="subword", proto=subwords.learn_subwords(sample, size),
                               name="vocabulary")
    counts = collections.Counter()
    reader = TokenVocabulary(list(RESERVED), kind)
    for start in range(0, len(documents), 2000):  # bounded memory for the TF string op
        for tokens in reader.tokens(documents[start:start + 2000]):
            counts.update(tokens)
    for token in RESERVED:
        counts.pop(token, None)
    ranked = [token for token, _ in counts.most_common(max(0, size - len(RESERVED)))]
    return TokenVocabulary([*RESERVED, *ranked], kind, name="vocabulary")
