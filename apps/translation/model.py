"""The translation model: one definition for training, greedy decoding, beam search and scoring.

Encoder: source words (raw strings, vectorised inside the model) -> embedding
-> a stack of our `Bidirectional(GRU|LSTM)` layers -> the memory attended
over. The decoder's first state is `tanh(W [forward last; backward first])`.
Decoder: `AttentiveRecurrent(AttentiveCell(GRUCell|LSTMCell, BahdanauAttention))`, so
the context computed from the previous decoder state feeds the cell (Bahdanau
et al., 2014); the output layer reads [decoder output; context; embedded
previous word] ("deep output"), with `--readout` through a tanh layer of
`--embedding-dim` units first (Bahdanau et al. use a maxout readout of 500),
which makes the softmax layer about 4x cheaper.

The Keras model takes two raw-string inputs, `source` and `target`, and
gives the logits of every target position under teacher forcing: position t
predicts word t+1 of `[START] w1 .. wn [END]`. The vocabularies live inside
it (two `TextVectorization` layers), so `model.keras` alone translates raw
text: `Translator(keras.models.load_model("model.keras")).translate([...])`.
`Translator` drives the same layers one step at a time (`AttentiveCell.step`)
for greedy and beam search, compiled as TensorFlow graphs.
"""

import types

import keras
import numpy as np
from keras import ops

import layers as rnn_layers
from apps.common import recurrent_stack
from apps.common.teacher_forcing import (  # noqa: F401 - teacher_forcing_ids, loss: the app's API
    DecoderInputs, MaskedAccuracy, forced_ids, loss, sequence_log_prob, teacher_forcing_ids,
    tokens_to_words)
from apps.common import subwords  # noqa: F401 - registers SubwordVectorizer for loading
from apps.translation import text

PACKAGE = text.PACKAGE
ENCODER = "encoder"


@keras.saving.register_keras_serializable(package=PACKAGE)
class SourceMask(keras.layers.Layer):
    """Source ids -> the boolean mask of real words; also records the longest training source.

    `longest_seen` (tokens) is kept in the saved model so that `predict` can
    warn about a sentence longer than anything seen in training.
    """

    def __init__(self, longest_seen=0, **kwargs):
        super().__init__(**kwargs)
        self.longest_seen = int(longest_seen)

    def call(self, ids):
        return ops.not_equal(ids, 0)

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, dtype="bool")

    def get_config(self):
        return {**super().get_config(), "longest_seen": self.longest_seen}


@keras.saving.register_keras_serializable(package=PACKAGE)
class EncoderSummary(keras.layers.Layer):
    """[forward state at the last word; backward state at the first word] of the encoder.

    For a unidirectional encoder, the state at the last word. Reads the
    outputs at the right positions explicitly, so padding never leaks in.
    """

    def __init__(self, bidirectional=True, **kwargs):
        super().__init__(**kwargs)
        self.bidirectional = bool(bidirectional)
        self.supports_masking = True  # it takes the mask as an input; gives none

    def compute_mask(self, memory, mask=None, previous_mask=None):
        return None

    def call(self, memory, mask):
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        last = ops.maximum(lengths - 1, 0)
        at_last = ops.take_along_axis(memory, last[:, None, None], axis=1)[:, 0, :]
        if not self.bidirectional:
            return at_last
        half = memory.shape[-1] // 2
        return ops.concatenate([at_last[:, :half], memory[:, 0, half:]], axis=-1)

    def compute_output_shape(self, memory_shape, mask_shape=None):
        return (memory_shape[0], memory_shape[-1])

    def get_config(self):
        return {**super().get_config(), "bidirectional": self.bidirectional}


def decoder_cell(config):
    cell_class = {"gru": rnn_layers.GRUCell, "lstm": rnn_layers.LSTMCell}[config.cell]
    attention = rnn_layers.BahdanauAttention(config.attention_units or config.units,
                                             name="attention")
    return rnn_layers.AttentiveCell(cell_class(config.units, name="decoder_cell"), attention,
                                    return_attention=True, name="attentive_cell")


def build_model(config, source_vocabulary, target_vocabulary, longest_source=0):
    """The training model (uncompiled): {"source", "target"} raw strings -> logits [B, T+1, V].

    Args:
        config: A `TranslationConfig` (cell, units, layers, bidirectional,
            dropout, embedding_dim, attention_units).
        source_vocabulary, target_vocabulary: Words of the training split
            (from `text.build_vocabulary`).
        longest_source: Tokens in the longest training source sentence.
    """
    source = keras.Input((), dtype="string", name="source")
    target = keras.Input((), dtype="string", name="target")
    source_vectorizer = text.make_vectorizer(source_vocabulary, "source_vectorizer")
    target_vectorizer = text.make_vectorizer(target_vocabulary, "target_vectorizer")
    parts = _make_layers(config, source_vectorizer.vocabulary_size(),
                         target_vectorizer.vocabulary_size(), longest_source)
    source_ids = source_vectorizer(source)
    decoder_inputs = DecoderInputs(name="decoder_inputs")(target_vectorizer(target))
    memory, mask, states = encode(parts, source_ids)
    logits, _ = decode_sequence(parts, decoder_inputs, memory, mask, states)
    name = f"translation_{'bi' if config.bidirectional else ''}{config.cell}"
    return keras.Model({"source": source, "target": target}, logits, name=name)


def _make_layers(config, source_size, target_size, longest_source):
    dropout = config.dropout
    return types.SimpleNamespace(
        cell_kind=config.cell,
        source_embedding=keras.layers.Embedding(source_size, config.embedding_dim,
                                                mask_zero=True, name="source_embedding"),
        source_mask=SourceMask(longest_source, name="source_mask"),
        source_dropout=keras.layers.Dropout(dropout, name="source_dropout"),
        encoder=recurrent_stack.recurrent_stack(
            config.cell, config.units, config.layers, bidirectional=config.bidirectional,
            return_sequences=True, dropout=dropout, name=ENCODER),
        summary=EncoderSummary(config.bidirectional, name="encoder_summary"),
        bridge=keras.layers.Dense(config.units, activation="tanh", name="bridge"),
        bridge_c=(keras.layers.Dense(config.units, name="bridge_c")
                  if config.cell == "lstm" else None),
        target_embedding=keras.layers.Embedding(target_size, config.embedding_dim,
                                                mask_zero=True, name="target_embedding"),
        target_dropout=keras.layers.Dropout(dropout, name="target_dropout"),
        decoder=rnn_layers.AttentiveRecurrent(decoder_cell(config), return_sequences=True,
                                              name="decoder"),
        features=keras.layers.Concatenate(name="output_features"),
        readout=(keras.layers.Dense(config.embedding_dim, activation="tanh", name="readout")
                 if config.readout else None),
        output_dropout=keras.layers.Dropout(dropout, name="output_dropout"),
        logits=keras.layers.Dense(target_size, name="logits"),
    )


def layers_of(model):
    """The named parts of a built (or loaded) translation model, as `_make_layers` makes them."""
    get = model.get_layer
    names = {layer.name for layer in model.layers}
    encoder = sorted((layer for layer in model.layers
                      if layer.name.startswith(ENCODER + "_") and layer.name[-1].isdigit()),
                     key=lambda layer: int(layer.name.rsplit("_", 1)[1]))
    return types.SimpleNamespace(
        cell_kind="lstm" if "bridge_c" in names else "gru",
        source_vectorizer=get("source_vectorizer"),
        target_vectorizer=get("target_vectorizer"),
        source_embedding=get("source_embedding"),
        source_mask=get("source_mask"),
        source_dropout=get("source_dropout"),
        encoder=encoder,
        summary=get("encoder_summary"),
        bridge=get("bridge"),
        bridge_c=get("bridge_c") if "bridge_c" in names else None,
        target_embedding=get("target_embedding"),
        target_dropout=get("target_dropout"),
        decoder=get("decoder"),
        features=get("output_features"),
        readout=get("readout") if "readout" in names else None,
        output_dropout=get("output_dropout"),
        logits=get("logits"),
    )


def encode(parts, source_ids, training=None):
    """Source ids -> (memory [B, S, F], mask [B, S], the decoder's initial states)."""
    mask = parts.source_mask(source_ids)
    x = parts.source_dropout(parts.source_embedding(source_ids), training=training)
    for layer in parts.encoder:
        x = layer(x, mask=mask, training=training)
    summary = parts.summary(x, mask)
    states = [parts.bridge(summary)]
    if parts.bridge_c is not None:
        states.append(parts.bridge_c(summary))
    return x, mask, states


def decode_sequence(parts, decoder_inputs, memory, mask, states, training=None):
    """Teacher forcing: decoder input ids [B, T] -> (logits [B, T, V], attention [B, T, S])."""
    embedded = parts.target_dropout(parts.target_embedding(decoder_inputs), training=training)
    outputs, attention = parts.decoder(embedded, initial_state=states, memory=memory,
                                       memory_mask=mask, training=training)
    return read_out(parts, outputs, embedded, training=training), attention


def read_out(parts, decoder_output, embedded, training=None):
    """The output layer, for a whole sentence ([B, T, ...]) or one search step ([B, ...])."""
    features = parts.features([decoder_output, embedded])
    if parts.readout is not None:
        features = parts.readout(features)
    return parts.logits(parts.output_dropout(features, training=training))


class Translator:
    """Translates raw strings with a (trained or loaded) model: greedy and beam search.

    The search loops are `tf.function`s built once per model (and beam width);
    the encoder's attention keys are computed once per sentence (in
    `AttentiveCell.prepare`, before the loop).
    """

    def __init__(self, model):
        self.model = model
        self.parts = layers_of(model)
        self.source_vocabulary = list(self.parts.source_vectorizer.get_vocabulary())
        self.target_vocabulary = np.array(self.parts.target_vectorizer.get_vocabulary(),
                                          dtype=object)
        self.longest_seen = self.parts.source_mask.longest_seen
        # Subword models spell every word from pieces; word models have [UNK] to replace.
        self.subword = text.is_subword(self.parts.target_vectorizer)
        self._compiled = {}

    # --- graph pieces --------------------------------------------------------

    def _cell(self):
        return self.parts.decoder.cell

    def _prepare(self, context):
        memory, mask = context["memory"], context["mask"]
        rows = ops.shape(memory)[0]
        cell = self._cell()
        x0 = ops.zeros((rows, self.parts.target_embedding.output_dim), dtype=memory.dtype)
        states = [ops.zeros((rows, cell.cell.units), dtype=memory.dtype)
                  for _ in range(len(cell.state_size) if isinstance(cell.state_size, (list, tuple))
                                 else 1)]
        return cell.prepare(x0, states, training=False, memory=memory, memory_mask=mask)

    def _step(self, tokens, states, constants):
        embedded = self.parts.target_embedding(tokens)
        (output, attention), new_states = self._cell().step(embedded, list(states), constants)
        return read_out(self.parts, output, embedded, training=False), list(new_states), attention

    def _search(self, source_ids, max_length, beam_size, length_alpha, with_attention):
        import tensorflow as tf

        from apps.common import decoding

        memory, mask, states = encode(self.parts, source_ids, training=False)
        context = {"memory": memory, "mask": mask}
        attention_length = tf.shape(source_ids)[1] if with_attention else None
        common = dict(start_id=text.START_ID, end_id=text.END_ID, max_length=max_length,
                      banned=(0, text.START_ID), attention_length=attention_length)
        if beam_size is None:
            return decoding.greedy_search(self._prepare, self._step, context, states, **common)
        return decoding.beam_search(self._prepare, self._step, context, states,
                                    beam_size=beam_size, length_alpha=length_alpha, **common)

    def compiled(self, beam_size=None, length_alpha=1.0, with_attention=False):
        """The compiled search: `fn(source_ids [B, S] int, max_length int) -> dict`."""
        import tensorflow as tf

        key = (beam_size, float(length_alpha), with_attention)
        if key not in self._compiled:
            def search(source_ids, max_length):
                return self._search(source_ids, max_length, beam_size, float(length_alpha),
                                    with_attention)

            # No AutoGraph: decoding.py writes its loop as a tf.while_loop itself.
            self._compiled[key] = tf.function(search, autograph=False, input_signature=[
                tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([], tf.int32)])
        return self._compiled[key]

    # --- raw strings in, strings out -------------------------------------------

    def source_ids(self, sentences):
        sentences = [text.normalize(s) for s in sentences]
        return self.parts.source_vectorizer(np.asarray(sentences, dtype=object))

    def tokens_to_words(self, ids):
        """Output ids (up to and without the end token) -> the tokens (words or pieces)."""
        return tokens_to_words(ids, self.target_vocabulary)

    def source_tokens(self, sentences):
        """The tokens (words or pieces) the model reads of each normalised sentence."""
        if not sentences:
            return []
        if self.subword:
            return self.parts.source_vectorizer.pieces(list(sentences))
        return text.words(sentences)

    def _detokenize(self, ids, words):
        if self.subword:
            return self.parts.target_vectorizer.detokenize([ids])[0]
        return text.detokenize(words)

    def translate(self, sentences, beam_size=1, max_output_length=0, length_alpha=1.0,
                  batch_size=64, with_attention=False, greedy=None, unk_replace=True):
        """Translate raw sentences; returns one dict per sentence, in order.

        Each dict: `translation` (detokenised str), `words` (output tokens:
        words or subword pieces), `source_words` (the source tokens the model
        saw), `unknown` (how many [UNK] the model wrote), `log_prob`, `score`,
        `finished` (the end token was emitted), and `attention`
        ([len(words)+1, len(source_words)] incl. the end token's row) when asked.
        Empty sentences translate to "" without running the model.

        Args:
            beam_size: 1 with `greedy` unset runs greedy search; >1 beam search.
            max_output_length: 0 for twice the longest source of the batch plus 10.
            greedy: Force greedy (True) or beam search even for a beam of 1 (False).
            unk_replace: Word models: replace each [UNK] in `words` and
                `translation` by the source word attended to most at that step
                (`text.replace_unknown`). Subword models write no [UNK].
        """
        sentences = [text.normalize(s) for s in sentences]
        source_words = self.source_tokens(sentences)
        use_greedy = beam_size == 1 if greedy is None else greedy
        replace = unk_replace and not self.subword
        search = self.compiled(None if use_greedy else int(beam_size), length_alpha,
                               with_attention or replace)
        results = [None] * len(sentences)
        order = sorted((i for i, w in enumerate(source_words) if w),
                       key=lambda i: len(source_words[i]))
        for i, w in enumerate(source_words):
            if not w:
                results[i] = {"translation": "", "words": [], "source_words": [], "unknown": 0,
                              "log_prob": 0.0, "score": 0.0, "finished": True}
                if with_attention:
                    results[i]["attention"] = np.zeros((0, 0), np.float32)
        for first in range(0, len(order), batch_size):
            chunk = order[first:first + batch_size]
            ids = self.source_ids([sentences[i] for i in chunk])
            longest = int(ids.shape[1])
            limit = max_output_length or 2 * longest + 10
            found = search(ids, np.int32(limit))
            found = {k: v.numpy() for k, v in found.items()}
            for row, index in enumerate(chunk):
                pick = (lambda v: v[row]) if use_greedy else (lambda v: v[row, 0])  # noqa: E731
                ids = pick(found["tokens"])
                words = self.tokens_to_words(ids)
                unknown = words.count(text.UNK)
                if replace and unknown:
                    words = text.replace_unknown(words, source_words[index],
                                                 pick(found["attention"]))
                result = {
                    "translation": self._detokenize(ids, words),
                    "words": words,
                    "source_words": source_words[index],
                    "unknown": unknown,
                    "log_prob": float(pick(found["log_prob"])),
                    "score": float(pick(found["scores"] if "scores" in found
                                        else found["log_prob"])),
                    "finished": bool(pick(found["finished"])),
                }
                if with_attention:
                    rows = min(len(words) + 1, pick(found["attention"]).shape[0])
                    result["attention"] = pick(found["attention"])[:rows,
                                                                   :len(source_words[index])]
                results[index] = result
        return results

    def search_ids(self, sentences, beam_size=None, max_output_length=20, length_alpha=1.0):
        """The raw search output (numpy) for a batch of sentences (for tests and tools)."""
        search = self.compiled(beam_size, length_alpha, False)
        found = search(self.source_ids(sentences), np.int32(max_output_length))
        return {k: v.numpy() for k, v in found.items()}

    def log_prob(self, sentences, output_ids):
        """The model's log-probability of each output sequence, by teacher forcing.

        Args:
            sentences: B raw source sentences.
            output_ids: B sequences of target ids, each ending with the end
                token if the hypothesis finished (padding 0 ignored).

        Returns:
            [B] float: sum over the tokens of log softmax(logits)[token].
        """
        import tensorflow as tf

        inputs, labels = forced_ids(output_ids)
        memory, mask, states = encode(self.parts, self.source_ids(sentences), training=False)
        logits, _ = decode_sequence(self.parts, tf.constant(inputs), memory, mask, states,
                                    training=False)
        return sequence_log_prob(logits, labels)
