"""Text vectorisation shared by the text apps: standardisation, a vectoriser, reading text files.

The standardisation is a registered function, so a `TextVectorization`
layer using it saves inside `model.keras` and loads with safe_mode on: the
model takes raw strings, and training and serving cannot disagree about
preprocessing. The same function, run eagerly, gives the words a model saw
(for explanations).
"""

from pathlib import Path

import keras

from apps.common.errors import UsageError

PACKAGE = "rnn_suite.text"
# Apostrophes are removed (don't -> dont), so a contraction stays one word.
_APOSTROPHES = "['\u2019]"
# HTML line breaks as they appear in IMDB reviews: <br />, <br/>, <br>.
_HTML_BREAK = r"<\s*br\s*/?\s*>"
# Unicode punctuation, symbols, separators and control characters (RE2 classes):
# replaced by a space. Control characters matter: IMDB holds U+0085, which
# `str.splitlines` (used by Keras to reload a saved vocabulary) treats as a line end.
_PUNCTUATION = r"[\pP\pS\pZ\pC]"


@keras.saving.register_keras_serializable(package=PACKAGE)
def lower_strip_html_punctuation(texts):
    """Lower-case (Unicode), turn `<br />`, punctuation and odd spaces into spaces, drop apostrophes.

    "It's GREAT!<br />Really." -> "its great  really "
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, _HTML_BREAK, " ")
    texts = tf.strings.regex_replace(texts, _APOSTROPHES, "")
    return tf.strings.regex_replace(texts, _PUNCTUATION, " ")


def make_vectorizer(vocab_size, standardize=lower_strip_html_punctuation, name="vectorizer"):
    """A `TextVectorization` layer giving word ids, padded to the longest text in the batch.

    Id 0 is padding (so `Embedding(mask_zero=True)` masks it), 1 is `[UNK]`.
    Sequences are not cut here: truncate after it (e.g. `Truncate`), so that a
    batch of short texts stays short.
    """
    return keras.layers.TextVectorization(
        max_tokens=vocab_size, standardize=standardize, split="whitespace",
        output_mode="int", name=name)


def adapt(vectorizer, texts, batch_size=1024):
    """Build the vectoriser's vocabulary from `texts` (a list or array of strings)."""
    import tensorflow as tf

    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size))
    return vectorizer


def words(texts, standardize=lower_strip_html_punctuation):
    """The words each text becomes after standardisation: a list of lists of str."""
    import tensorflow as tf

    if not len(texts):
        return []
    standardized = standardize(tf.constant(list(texts))).numpy()
    return [t.decode("utf-8").split() for t in standardized]


@keras.saving.register_keras_serializable(package=PACKAGE)
class Truncate(keras.layers.Layer):
    """Keep the first `max_length` ids of each sequence; give at least one step (padding).

    The one-step minimum makes an empty text a fully padded (masked) sequence
    instead of a zero-length tensor that recurrent layers cannot run over.
    """

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = int(max_length)

    def call(self, ids):
        from keras import ops

        ids = ids[:, :self.max_length]
        missing = ops.maximum(1 - ops.shape(ids)[1], 0)
        return ops.pad(ids, [[0, 0], [0, missing]])

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if length is not None:
            length = max(1, min(length, self.max_length))
        return (input_shape[0], length)

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


def read_text(path, what="text file"):
    """The whole of a UTF-8 file as a string (a BOM is dropped).

    Raises:
        UsageError: If the file is missing, unreadable, or not valid UTF-8
            (naming the first bad line).
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} {path} does not exist (expected a UTF-8 text file)")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder (expected a UTF-8 text file)")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {what} {path}: {error.strerror}")
    return decode_utf8(data, f"{what} {path}")


def decode_utf8(data, what):
    """`data` (bytes) as a string, a BOM dropped.

    Raises:
        UsageError: If it is not valid UTF-8, naming `what` and the first bad line.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise UsageError(f"{what} is not valid UTF-8: line {line} has the byte "
                         f"0x{data[error.start]:02x} (save it as UTF-8)") from None


def split_lines(text):
    """`text` cut at "\n" (and "\r\n") only, without the line ends.

    Not `str.splitlines`: it also cuts at U+0085, U+2028, U+2029, form feed
    and other separators that occur inside real text (U+0085 is a common
    leftover of Windows-1252), so outputs would stop lining up with the
    input's lines. A final line end does not start another (empty) line.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_lines(path, what="text file"):
    """The lines of a UTF-8 text file (without line ends), one per "\n" (see `split_lines`).

    Raises:
        UsageError: As `read_text`.
    """
    return split_lines(read_text(path, what))
