"""Translation's tokenisation: words *and* punctuation as tokens, start/end tokens, detokenising.

Unlike `apps.common.text` (sentiment: punctuation dropped), a translation
must write the punctuation, so it is kept as tokens of its own. The
standardisation is a registered function, so the `TextVectorization` layers
using it live inside `model.keras` (safe_mode on) and the model takes raw
strings; the vocabularies come from the training split only.

Subword vocabularies (`apps.common.subwords`, the default for new runs)
take the place of the word vocabulary through the same `make_vectorizer`.

Pipeline (words): Unicode NFKC normalisation (in Python, `normalize`), Unicode lower-casing, a space around
every punctuation mark or symbol, split on whitespace. Words never seen in
training map to `[UNK]` (id 1); id 0 is padding.
"""

import re
import unicodedata

import keras
import numpy as np

from apps.common import teacher_forcing
from apps.common import text as common_text
from apps.common.teacher_forcing import (  # noqa: F401 - the tokens and ids this app uses
    END, END_ID, PAD, START, START_ID, UNK, build_vocabulary)

PACKAGE = "rnn_suite.translation"
_PUNCTUATION = r"([\pP\pS])"


@keras.saving.register_keras_serializable(package=PACKAGE)
def normalize_and_split_punctuation(texts):
    """Lower-case (Unicode), a space on each side of punctuation and symbols.

    "¿Qué  HORA es?" -> " ¿ qué  hora es ? ". (TensorFlow has no Unicode
    normalisation op: `normalize` does NFKC in Python before text gets here.)
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts, encoding="utf-8")
    return tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")


def normalize(text):
    """Unicode NFKC (composed accents, no ligatures or full-width forms) and single spaces.

    Every raw sentence goes through this before the model (data loading and
    `Translator.translate` do it).
    """
    return " ".join(unicodedata.normalize("NFKC", str(text)).split())


def words(texts):
    """The tokens of each (normalised) text, as the model sees them: a list of lists of str."""
    return common_text.words(list(texts), standardize=normalize_and_split_punctuation)


def make_vectorizer(vocabulary, name):
    """The layer that turns raw strings [B] into ids [B, T] (padded with 0).

    Args:
        vocabulary: Words (a list, from `build_vocabulary`): a `TextVectorization`
            layer; or a SentencePiece model (bytes, from `subwords.learn_subwords`):
            a `subwords.SubwordVectorizer`. Both keep the special ids of
            `teacher_forcing` (0 padding, 1 [UNK], 2 [START], 3 [END]).
        name: The layer's name.
    """
    if isinstance(vocabulary, (bytes, bytearray)):
        from apps.common import subwords

        return subwords.SubwordVectorizer(bytes(vocabulary), name=name)
    return teacher_forcing.make_vectorizer(vocabulary, normalize_and_split_punctuation, name)


def is_subword(vectorizer):
    """Whether a model's vectoriser spells text with subword pieces (else words)."""
    return not isinstance(vectorizer, keras.layers.TextVectorization)


def replace_unknown(words, source_words, attention):
    """Each [UNK] of an output -> the source word attended to most when it was written.

    Luong et al. (2015)'s unknown-word replacement: names, numbers and rare
    words are mostly copied, and the attention says from where.

    Args:
        words: The output tokens (without the end token).
        source_words: The source tokens as the model read them.
        attention: [>= len(words), >= len(source_words)]: row t is the
            attention over the source when token t was written.

    Returns:
        The tokens with every [UNK] replaced (unchanged when there is no source word).
    """
    if UNK not in words or not source_words:
        return list(words)
    replaced = []
    for step, word in enumerate(words):
        if word == UNK:
            word = source_words[int(np.argmax(attention[step][:len(source_words)]))]
        replaced.append(word)
    return replaced


_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}»…])")
_NO_SPACE_AFTER = re.compile(r"([(\[{«¿¡]) ")
_JOINED = re.compile(r"(\w) ([-'’/]) (\w)")
_NUMBER = re.compile(r"(\d) ([.,:]) (\d)")
_DOUBLE_QUOTES = re.compile(r'" ([^"]*?) "')


def detokenize(tokens, capitalize=True):
    """Tokens -> a sentence as people write it (for BLEU, which re-tokenises itself).

    Joins punctuation to its word, words around apostrophes and hyphens
    ("dog ' s" -> "dog's", "t - shirt" -> "t-shirt"), digits around separators,
    and capitalises the first letter (the model works in lower case).
    """
    text = " ".join(t for t in tokens if t not in (PAD, START, END))
    for _ in range(2):  # overlapping matches (a-b-c) need a second pass
        text = _JOINED.sub(r"\1\2\3", text)
        text = _NUMBER.sub(r"\1\2\3", text)
    text = _DOUBLE_QUOTES.sub(r'"\1"', text)
    text = _NO_SPACE_BEFORE.sub(r"\1", text)
    text = _NO_SPACE_AFTER.sub(r"\1", text)
    text = text.strip()
    if capitalize:
        for i, char in enumerate(text):
            if char.isalpha():
                text = text[:i] + char.upper() + text[i + 1:]
                break
    return text
