"""The SavedModel signature of a translation run: raw sentences in, translations out.

`serving_default(sentence: string [None])` gives, for each sentence:
- `translation` (string): what `predict` prints, detokenised and capitalised;
  "" for an empty sentence (or one with only spaces);
- `log_prob` (float32): the model's log-probability of the output, the end
  token included (0 for an empty sentence);
- `finished` (bool): whether the end token came before the length limit.

The search runs inside the graph: beam search with the run's `--beam-size`
and `--length-alpha` (greedy search for a beam of 1), both `tf.while_loop`s
over token ids (`apps.common.decoding`), for at most `--max-output-length`
tokens (0: twice the longest sentence of the request plus 10, as `predict`
does for each batch of 64). The ids become words through the target
vocabulary, then a sentence through `detokenize`, the graph twin of
`text.detokenize`.

A subword model (`--tokenizer subword`) spells and detokenises with
TensorFlow Text's SentencePiece ops, which normalise (NFKC) inside the graph
as `predict` does: load its export after `import tensorflow_text` (which
registers the ops; TensorFlow Serving has them built in).

What the graph of a word model cannot do as `predict` does: Unicode NFKC
normalisation (TensorFlow has no op for it), and `[UNK]` replacement (the
export writes `[UNK]` as it is). Text typed on a keyboard is already NFC,
which NFKC leaves alone; ligatures, full-width letters or decomposed accents
reach the model as they are and may become `[UNK]`. Runs of whitespace are
collapsed in the graph as `predict` collapses them.
"""

from apps.common import serving

SIGNATURE = ("raw source sentences (string [None]) -> translation (string), log_prob "
             "(float32), finished (bool); beam search inside")

# What str.split() splits on: ASCII whitespace (\v included), U+001C-U+001F,
# U+0085 and the Unicode separators.
_WHITESPACE = r"[\t-\r\x{1c}-\x{1f}\x{85}\pZ]+"
# Python's \w and \d in `text.detokenize`, written for RE2 (whose \w is ASCII).
_WORD = r"[\pL\pN_]"
_DIGIT = r"\p{Nd}"
_DETOKENIZE = [
    (f"({_WORD}) ([-'\u2019/]) ({_WORD})", r"\1\2\3"),  # text._JOINED
    (f"({_DIGIT}) ([.,:]) ({_DIGIT})", r"\1\2\3"),  # text._NUMBER
]
_QUOTES = (r'" ([^"]*?) "', r'"\1"')  # text._DOUBLE_QUOTES
_NO_SPACE_BEFORE = (r" ([.,!?;:%)\]}\x{bb}\x{2026}])", r"\1")
_NO_SPACE_AFTER = (r"([(\[{\x{ab}\x{bf}\x{a1}]) ", r"\1")


def normalize_spaces(sentences):
    """`" ".join(s.split())` of each sentence (the part of `text.normalize` a graph can do)."""
    import tensorflow as tf

    return tf.strings.strip(tf.strings.regex_replace(sentences, _WHITESPACE, " "))


def detokenize(sentences):
    """`text.detokenize` of space-joined tokens, as TensorFlow string ops (one per sentence).

    The same regular expressions, in the same order (two passes of the
    joining ones), then the first letter upper-cased.
    """
    import tensorflow as tf

    for _ in range(2):
        for pattern, rewrite in _DETOKENIZE:
            sentences = tf.strings.regex_replace(sentences, pattern, rewrite)
    for pattern, rewrite in (_QUOTES, _NO_SPACE_BEFORE, _NO_SPACE_AFTER):
        sentences = tf.strings.regex_replace(sentences, pattern, rewrite)
    sentences = tf.strings.strip(sentences)
    has_letter = tf.strings.regex_full_match(sentences, r"(?s)[^\pL]*\pL.*")
    before = tf.strings.regex_replace(sentences, r"(?s)^([^\pL]*)\pL.*$", r"\1")
    letter = tf.strings.regex_replace(sentences, r"(?s)^[^\pL]*(\pL).*$", r"\1")
    # Without a letter the patterns do not match (before and letter are then the whole
    # sentence): start at 0 there, the result is not used.
    start = tf.where(has_letter, tf.strings.length(before) + tf.strings.length(letter), 0)
    rest = tf.strings.substr(sentences, start, tf.strings.length(sentences))  # to the end
    capitalised = before + tf.strings.upper(letter, encoding="utf-8") + rest
    return tf.where(has_letter, capitalised, sentences)


def endpoints(model, model_path, beam_size, max_output_length, length_alpha):
    """The export's signatures (see the module docstring).

    Args:
        beam_size: 1 for greedy search, more for beam search (as `predict --beam-size`).
        max_output_length: At most this many output tokens (0: twice the
            longest sentence of the request plus 10).
        length_alpha: Beam search's length normalisation exponent.
    """
    import tensorflow as tf

    from apps.translation import model as model_module

    translator = model_module.Translator(model)
    vocabulary = tf.constant([str(word) for word in translator.target_vocabulary])
    beam = None if beam_size == 1 else int(beam_size)

    def translate(sentence):
        ids = translator.parts.source_vectorizer(normalize_spaces(sentence))
        words = tf.reduce_sum(tf.cast(tf.not_equal(ids, 0), tf.int32), axis=1)
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])  # >= 1 step
        limit = (tf.constant(int(max_output_length)) if max_output_length
                 else 2 * tf.shape(ids)[1] + 10)
        found = translator.compiled(beam, length_alpha)(ids, limit)
        pick = (lambda v: v) if beam is None else (lambda v: v[:, 0])  # noqa: E731
        if translator.subword:
            translation = translator.parts.target_vectorizer.detokenize_graph(
                pick(found["tokens"]))
        else:
            translation = detokenize(serving.words_before_end(pick(found["tokens"]), vocabulary))
        empty = tf.equal(words, 0)
        return {
            "translation": tf.where(empty, "", translation),
            "log_prob": tf.where(empty, 0.0, pick(found["log_prob"])),
            "finished": tf.logical_or(empty, pick(found["finished"])),
        }

    return [serving.Endpoint("serving_default", translate,
                             [tf.TensorSpec([None], tf.string, name="sentence")])]
