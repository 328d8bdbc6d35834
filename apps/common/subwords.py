"""Subword vocabularies (translation, and the lm app's --tokenizer subword): SentencePiece,
learned in Python, applied in the graph.

`learn_subwords` learns a SentencePiece model (unigram or BPE) from raw
sentences and returns its serialized proto. `SubwordVectorizer` is a Keras
layer that applies that proto with TensorFlow Text's SentencePiece op, so it
runs inside `model.keras`, `tf.data` pipelines and an exported SavedModel; the
proto itself travels in the layer's config (base64), so a saved model needs no
vocabulary file beside it.

The ids keep the app's special tokens (`apps.common.teacher_forcing`): 0
padding, 1 `[UNK]`, 2 `[START]`, 3 `[END]`; then the 256 byte pieces
`<0x00>`..`<0xFF>`, then the learned pieces. Byte fallback means no text is
ever `[UNK]`: a character SentencePiece did not keep as a piece (an emoji, a
rare script) is spelled as its UTF-8 bytes.

Normalisation is SentencePiece's `nmt_nfkc`, done by the op itself (in Python
and in the graph alike): Unicode NFKC from a precompiled table, plus
  - deleted: the controls U+0001-U+0008, U+000B (\\v), U+000E-U+001F, U+007F,
    U+008F, U+009F;
  - made a space: \\t \\n \\f \\r, U+061C, U+1680, U+200B, U+200C, U+200E,
    U+200F, U+2028, U+2029, U+2581, U+FEFF, U+FFFD;
  - kept: U+FF5E (full-width tilde; NFKC would make it "~");
then runs of spaces become one and the ends are stripped. Case is kept.
"""

import base64
import binascii
import hashlib
import io
import re

import keras
import tensorflow as tf  # loaded by Keras already (the TensorFlow backend)

from apps.common.teacher_forcing import END, END_ID, PAD, START, START_ID, UNK

# The name it was first registered under: saved translation models refer to it.
PACKAGE = "rnn_suite.translation"
UNK_ID = 1
BYTE_PIECES = 256
# Ids every model holds before any learned piece: padding, [UNK], [START], [END]
# and one piece per byte value (byte fallback).
RESERVED_IDS = 4 + BYTE_PIECES
MIN_VOCAB_SIZE = RESERVED_IDS + 1
MODEL_TYPES = ("unigram", "bpe")
# SentencePiece's random generator only matters for sampling (which
# input_sentence_size=0 turns off); it is fixed anyway so that no future
# default can make two runs differ.
_SEED = 0
_TOO_SMALL = re.compile(r"smaller than required_chars\. (\d+) vs (\d+)")


def learn_subwords(sentences, vocab_size, model_type="unigram"):
    """Learn a SentencePiece model from raw sentences; returns its serialized proto.

    Deterministic: the same sentences (in the same order) give the same bytes.
    Nothing is written to disk and nothing is logged.

    Args:
        sentences: An iterable of str (raw: SentencePiece normalises them with
            `nmt_nfkc`, keeping case).
        vocab_size: The number of ids, the 260 reserved ones included (4
            special tokens and 256 byte pieces). SentencePiece also keeps one
            piece per distinct character of the sentences, so the least that
            works depends on them (358 for Multi30k's German: 97 characters
            and the space). On a
            small corpus the vocabulary may come out smaller than asked:
            there are not that many pieces worth keeping.
        model_type: `"unigram"` (the default) or `"bpe"`.

    Returns:
        bytes: the model proto, for `SubwordVectorizer(proto)`.

    Raises:
        ValueError: For a bad `vocab_size` or `model_type`, no sentences (or
            only empty ones), or a `vocab_size` below what these sentences need.
    """
    import sentencepiece as spm

    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise ValueError(f"Expected `vocab_size` to be an int (at least {MIN_VOCAB_SIZE}). "
                         f"Received: vocab_size={vocab_size!r} of type {type(vocab_size).__name__}")
    if vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(
            f"`vocab_size` must be at least {MIN_VOCAB_SIZE}: {RESERVED_IDS} ids are reserved "
            f"(padding, [UNK], [START], [END] and {BYTE_PIECES} byte pieces), plus one piece "
            f"per distinct character of the sentences. Received: vocab_size={vocab_size}")
    if model_type not in MODEL_TYPES:
        raise ValueError(f"Expected `model_type` to be one of {MODEL_TYPES}. "
                         f"Received: model_type={model_type!r}")
    if isinstance(sentences, (str, bytes)):
        # A lone string would be learned character by character: surely a mistake.
        raise ValueError("Expected `sentences` to be a list (an iterable) of str, not a single "
                         f"{type(sentences).__name__}. Received: sentences={sentences!r:.60}")
    sentences = list(sentences)
    for index, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise ValueError(f"Expected every sentence to be a str. Received: sentences[{index}]"
                             f"={sentence!r:.60} of type {type(sentence).__name__}")
    if not any(sentence.strip() for sentence in sentences):
        what = "is empty" if not sentences else f"holds only empty sentences ({len(sentences)})"
        raise ValueError(f"No sentences to learn subwords from: `sentences` {what}")

    model = io.BytesIO()
    spm.set_random_generator_seed(_SEED)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            model_type=model_type,
            vocab_size=vocab_size,
            # Below vocab_size when there are not enough pieces, instead of failing: a
            # small corpus (tests, --limit) still gets a vocabulary.
            hard_vocab_limit=False,
            character_coverage=1.0,
            byte_fallback=True,
            normalization_rule_name="nmt_nfkc",
            pad_id=0, pad_piece="<pad>",
            unk_id=UNK_ID, unk_piece=UNK,
            bos_id=START_ID, bos_piece=START,
            eos_id=END_ID, eos_piece=END,
            # Every sentence, in the order given, on one thread: the same proto each time
            # (more threads may sum the EM statistics in another order).
            input_sentence_size=0,
            shuffle_input_sentence=False,
            num_threads=1,
            minloglevel=2,  # errors only: the trainer logs every step on stderr otherwise
        )
    except RuntimeError as error:
        found = _TOO_SMALL.search(str(error))
        if found is None:
            raise
        needed = int(found.group(2))
        raise ValueError(
            f"`vocab_size` is too small for these sentences: {RESERVED_IDS} ids are reserved "
            f"and SentencePiece keeps one piece per distinct character "
            f"({needed - RESERVED_IDS} here), so it must be at least {needed}. "
            f"Received: vocab_size={vocab_size}") from None
    return model.getvalue()


def _proto_bytes(proto):
    if isinstance(proto, str):
        try:
            return base64.b64decode(proto.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise ValueError("Expected `proto` to be the bytes of a SentencePiece model or their "
                             f"base64 text (as `get_config` stores them). Received: a str that is "
                             f"not base64: {proto!r:.60}") from None
    if isinstance(proto, (bytes, bytearray, memoryview)):
        return bytes(proto)
    raise ValueError("Expected `proto` to be the bytes of a SentencePiece model (from "
                     f"`learn_subwords`). Received: proto of type {type(proto).__name__}")


def _load_processor(proto):
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(proto)
    except RuntimeError:
        processor = None
    # An empty proto parses (as an empty model), hence the size check.
    if processor is None or processor.get_piece_size() == 0:
        raise ValueError(f"`proto` is not a SentencePiece model ({len(proto)} bytes that do not "
                         "parse as one); learn one with `learn_subwords`")
    ids = (processor.pad_id(), processor.unk_id(), processor.bos_id(), processor.eos_id())
    if ids != (0, UNK_ID, START_ID, END_ID):
        raise ValueError(
            "`proto` is a SentencePiece model with other special ids: (padding, unknown, start, "
            f"end) = {ids}, where the app needs (0, 1, 2, 3); learn it with `learn_subwords`")
    return processor


def _model_name(proto):
    return f"sentencepiece_{hashlib.sha1(proto).hexdigest()[:16]}"


class _NamedModelResource(tf.saved_model.experimental.TrackableResource):
    """TensorFlow Text's SentencePiece model resource, under a name of its own.

    TensorFlow Text's own resource (`SentencepieceTokenizer._model_resource`)
    is private to the kernel that made it, which has two consequences:
    - in Python, `tf.random.set_seed` (so `keras.utils.set_random_seed`, which
      every training run calls) and `keras.utils.clear_session` empty the
      eager kernel cache, deleting the model: every layer made before then
      fails with "Resource ... SentencepieceResource does not exist";
    - in a loaded SavedModel, such resources are found by node name, so two
      tokenizers (source and target) could share the first one's model.
    Made with a shared name, the resource belongs to the resource manager and
    outlives the kernel; the name is the model's hash, so only identical
    models share one.
    """

    def __init__(self, proto):
        super().__init__(device="/CPU:0")
        self._proto = proto
        _ = self.resource_handle  # made now, in the caller's (eager) init_scope

    def _create_resource(self):
        from tensorflow_text.python.ops import sentencepiece_tokenizer

        name = _model_name(self._proto)
        with tf.name_scope(name):
            return sentencepiece_tokenizer.gen_sentencepiece_tokenizer.sentencepiece_op(
                model=self._proto, shared_name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SubwordVectorizer(keras.layers.Layer):
    """Raw strings -> SentencePiece subword ids, in the graph; a `TextVectorization` stand-in.

    Takes what `keras.layers.TextVectorization(output_mode="int")` takes (a
    batch of strings [B], or [B, 1], or one string) and gives int64 ids
    [B, T], padded with 0 to the longest sentence of the batch. No `[START]`
    or `[END]` is added. The SentencePiece model is held in the config, so a
    saved `.keras` file brings its vocabulary along (safe mode on; this module
    must be imported before loading, to register the class).

    The layer has no weights and is not trainable. It runs on the CPU (the op
    has no GPU kernel), as `TextVectorization` does.

    Args:
        proto: The serialized SentencePiece model from `learn_subwords`
            (bytes), or its base64 text as `get_config` stores it. Its special
            ids must be 0 padding, 1 `[UNK]`, 2 `[START]`, 3 `[END]`.
        **kwargs: Base layer arguments (`name`, ...).

    Example:

    >>> proto = learn_subwords(["Ein Hund läuft.", "Zwei Hunde laufen."] * 20, 300)
    >>> layer = SubwordVectorizer(proto)
    >>> ids = layer(["Hunde laufen.", "Ein Hund 🐕"])
    >>> ids.shape[0], ids.dtype.name
    (2, 'int64')
    >>> layer.detokenize(ids)
    ['Hunde laufen.', 'Ein Hund 🐕']
    """

    def __init__(self, proto, **kwargs):
        super().__init__(**kwargs)
        self._proto = _proto_bytes(proto)
        # Parsed now so that a bad proto fails here, with a clear message, rather
        # than at the first call deep inside a graph.
        self._processor = _load_processor(self._proto)
        self._tf_tokenizer = None
        self.trainable = False
        # Strings and Python lists go to `call` as they are (TextVectorization does the same).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False

    @property
    def compute_dtype(self):
        return "string"

    @property
    def variable_dtype(self):
        return "string"

    def build(self, input_shape=None):
        # The op's resource is made here, outside any graph being traced, so it is an
        # attribute of the layer before an export traces `call` or `detokenize_graph`
        # (tf.saved_model saves the resources of tracked attributes).
        self._tokenizer()

    def _tokenizer(self):
        """The TensorFlow Text tokenizer, made on first use and kept."""
        if self._tf_tokenizer is None:
            import tensorflow_text as tf_text

            # Eagerly even when first asked for inside a tf.function or a tf.data map:
            # a resource made in a traced graph could not be used outside it.
            with tf.init_scope(), tf.device("CPU:0"):
                tokenizer = tf_text.SentencepieceTokenizer(
                    model=self._proto, out_type=tf.int32, add_bos=False, add_eos=False,
                    name=_model_name(self._proto))
                # Its tokenize and detokenize, on a resource that survives (see the class).
                tokenizer._model_resource = _NamedModelResource(self._proto)
            self._tf_tokenizer = tokenizer
        return self._tf_tokenizer

    def call(self, strings):
        tokenizer = self._tokenizer()
        with tf.device("CPU:0"):
            strings = tf.convert_to_tensor(strings, dtype=tf.string)
            if strings.shape.rank == 2:
                if strings.shape[-1] != 1:
                    raise ValueError("Expected strings of shape [B] or [B, 1]. Received: "
                                     f"strings.shape={strings.shape}")
                strings = tf.squeeze(strings, axis=-1)
            elif strings.shape.rank is None or strings.shape.rank > 2:
                raise ValueError("Expected strings of shape [B], [B, 1] or []. Received: "
                                 f"strings.shape={strings.shape}")
            ids = tokenizer.tokenize(strings)
            if isinstance(ids, tf.RaggedTensor):
                ids = ids.to_tensor(default_value=0)
            return tf.cast(ids, tf.int64)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if not input_shape:
            return (None,)
        return (input_shape[0], None)

    def compute_output_spec(self, strings):
        return keras.KerasTensor(self.compute_output_shape(strings.shape), dtype="int64")

    def get_vocabulary(self):
        """The piece of each id, with TextVectorization's names for the first four.

        Index 0 is "" (padding), 1 "[UNK]", 2 "[START]", 3 "[END]"; then the byte
        pieces "<0x00>".."<0xFF>"; then the learned pieces, "▁" marking a word's start.
        """
        processor = self._processor
        pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
        pieces[:4] = [PAD, UNK, START, END]
        return pieces

    def vocabulary_size(self):
        """The number of ids (the reserved ones included)."""
        return self._processor.get_piece_size()

    def get_config(self):
        return {**super().get_config(), "proto": base64.b64encode(self._proto).decode("ascii")}

    def detokenize(self, ids):
        """Id sequences -> the text they spell (Python; what the model reads or writes).

        Each sequence stops at its first `[END]` (3) or padding (0); `[START]`
        is dropped; byte pieces become their UTF-8 characters again (a byte
        sequence that is not valid UTF-8, which a model may write, becomes
        U+FFFD); `[UNK]` is written " ⁇ ". The inverse of `call` up to
        normalisation: `detokenize(layer(texts))` is the texts normalised.

        Args:
            ids: A list (or array, or tensor) of id sequences.

        Returns:
            A list of str, one per sequence.
        """
        if hasattr(ids, "numpy"):
            ids = ids.numpy()
        return [self._processor.decode(_before_end(sequence)) for sequence in ids]

    def detokenize_graph(self, ids):
        """`detokenize` as TensorFlow ops, for graphs such as an exported SavedModel.

        Args:
            ids: Int ids [B, T] (or one sequence [T]), dense or ragged.

        Returns:
            A tf.string tensor [B] (or a scalar for one sequence).
        """
        tokenizer = self._tokenizer()
        with tf.device("CPU:0"):
            if isinstance(ids, tf.RaggedTensor):
                ids = ids.to_tensor(default_value=0)
            ids = tf.cast(tf.convert_to_tensor(ids), tf.int32)
            single = ids.shape.rank == 1
            if single:
                ids = ids[tf.newaxis]
            # Everything from the first [END] or padding on is cut, as `detokenize` does.
            stop = tf.logical_or(tf.equal(ids, 0), tf.equal(ids, END_ID))
            lengths = tf.reduce_sum(
                tf.cast(tf.equal(tf.cumsum(tf.cast(stop, tf.int32), axis=1), 0), tf.int32),
                axis=1)
            text = tokenizer.detokenize(tf.RaggedTensor.from_tensor(ids, lengths=lengths))
            return text[0] if single else text

    def pieces(self, texts):
        """The pieces each text becomes: a list of lists of str (byte pieces as "<0xF0>")."""
        return [self._processor.encode(str(text), out_type=str) for text in texts]

    def ids(self, texts):
        """The ids each text becomes, in Python (what `call` gives, unpadded): lists of int."""
        return self._processor.encode([str(text) for text in texts], out_type=int)


def _before_end(sequence):
    kept = []
    for token in sequence:
        token = int(token)
        if token == 0 or token == END_ID:
            break
        kept.append(token)
    return kept
