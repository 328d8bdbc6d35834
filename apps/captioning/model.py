"""The captioning model (Show, Attend and Tell, soft attention): one definition for training and search.

Image -> `image_encoder` (encoders.py) -> a feature grid [B, L, D], the memory.
Decoder (`caption_decoder`, a model of its own so that a frozen encoder's
cached features can train it alone):
- initial states from the mean feature through tanh layers (Xu et al. 2015, 3.1.2);
- `AttentiveRecurrent(AttentiveCell(LSTMCell|GRUCell, BahdanauAttention, context_gate))`:
  at every word the previous state attends over the L places, the context
  (scaled by the gating scalar beta) joins the previous word's embedding;
- deep output: logits = L_o(dropout(E y_{t-1} + L_h h_t + L_z z_t)) (eq. 7);
- the doubly stochastic attention penalty lambda * (1 - sum_t alpha_ti)^2 (eq. 14),
  added as a model loss, averaged over the L places (and the captions) rather
  than summed: the paper's grid was always 14x14, ours is 2x2 to 8x8, and a
  sum makes the penalty's floor (it cannot reach 0 when a caption has fewer
  words than places) grow with the grid and drown the per-word
  cross-entropy. lambda = 1 as in the paper.

The Keras model `captioning` takes {"image": pixels [B, H, W, 3] in 0..255,
"caption": raw strings} and gives the logits of every position under teacher
forcing; the caption vocabulary (a TextVectorization layer, training captions
only) and the image preprocessing live inside, so `model.keras` alone
captions an image file. `Captioner` drives the same layers one word at a time
for greedy and beam search (`apps.common.decoding`), compiled as graphs.
"""

import types

import keras
import numpy as np
from keras import ops

import layers as rnn_layers
from apps.captioning import encoders
from apps.common import teacher_forcing
from apps.common import text as common_text

PACKAGE = encoders.PACKAGE
DECODER = "caption_decoder"


@keras.saving.register_keras_serializable(package=PACKAGE)
class MeanFeature(keras.layers.Layer):
    """[B, L, D] -> [B, D]: the average over the image's places (the initial states read it)."""

    def call(self, features):
        return ops.mean(features, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package=PACKAGE)
class PlaceCoordinates(keras.layers.Layer):
    """[B, L, D] features -> [B, L, D + 2]: each place's (row, column) in [-1, 1] appended.

    Convolutional features say *what* is at a place, hardly *where* the place
    is; attention then cannot prefer "the leftmost object", and a context
    vector cannot tell the decoder where it looked, which "left of" and
    "above" need. Appending the coordinates gives both (measured on the
    generated shapes: see docs/captioning.md).
    """

    def __init__(self, grid, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(int(n) for n in grid)

    def call(self, features):
        rows, columns = self.grid
        y, x = np.meshgrid(np.linspace(-1.0, 1.0, rows), np.linspace(-1.0, 1.0, columns),
                           indexing="ij")
        places = np.stack([y.ravel(), x.ravel()], axis=-1).astype("float32")  # [L, 2]
        places = ops.broadcast_to(ops.convert_to_tensor(places, dtype=features.dtype)[None],
                                  (ops.shape(features)[0], rows * columns, 2))
        return ops.concatenate([features, places], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2)

    def get_config(self):
        return {**super().get_config(), "grid": list(self.grid)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SplitDecoderOutput(keras.layers.Layer):
    """The attentive cell's output [B, T, units + D] -> (h [B, T, units], context [B, T, D])."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True  # both halves keep the caption's padding mask

    def call(self, outputs):
        return outputs[..., :self.units], outputs[..., self.units:]

    def compute_output_shape(self, input_shape):
        return ((*input_shape[:-1], self.units),
                (*input_shape[:-1], None if input_shape[-1] is None
                 else input_shape[-1] - self.units))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionPenalty(keras.layers.Layer):
    """Adds lambda * the mean over captions and places i of (1 - sum_t alpha_ti)^2 to the loss.

    Call with `[logits, attention, decoder_input_ids]`; returns the logits
    unchanged (so the layer stays in the model's graph). Only real steps
    (decoder inputs != 0) count in sum_t.
    """

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.supports_masking = True  # the logits pass through with their mask

    def call(self, inputs, training=None):
        logits, attention, ids = inputs
        if self.weight:
            real = ops.cast(ops.not_equal(ids, 0), attention.dtype)  # [B, T]
            coverage = ops.sum(attention * real[:, :, None], axis=1)  # [B, L]
            self.add_loss(self.weight * ops.mean(ops.square(1.0 - coverage)))
        return logits

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


# Captions as the model sees them: lower case, no punctuation (a registered
# function, so the vectoriser saves inside model.keras).
standardize = common_text.lower_strip_html_punctuation


def caption_words(captions):
    """The words of each raw caption after standardisation: a list of lists of str."""
    return common_text.words(list(captions))


def loss():
    """Cross-entropy over the real caption positions (padding ignored)."""
    return teacher_forcing.loss()


def build_model(config, vocabulary, encoder):
    """The captioning model (uncompiled) and its decoder part.

    Args:
        config: A `CaptioningConfig` (cell, units, embedding_dim,
            attention_units, dropout, attention_penalty, context_gate,
            max_caption_length).
        vocabulary: Caption words of the training split (`teacher_forcing.build_vocabulary`).
        encoder: The image encoder (`encoders.build_encoder`).

    Returns:
        `(model, decoder)`: `model` takes {"image", "caption"}; `decoder`
        takes {"features", "caption"} and shares every decoder weight with it.
    """
    feature_shape = encoder.output.shape[1:]
    decoder = _build_decoder(config, vocabulary, feature_shape, grid_shape(encoder))
    image = keras.Input((None, None, 3), name="image")
    caption = keras.Input((), dtype="string", name="caption")
    logits = decoder({"features": encoder(image), "caption": caption})
    model = keras.Model({"image": image, "caption": caption}, logits, name="captioning")
    return model, decoder


def _build_decoder(config, vocabulary, feature_shape, grid):
    features = keras.Input(tuple(feature_shape), name="features")
    caption = keras.Input((), dtype="string", name="caption")
    vectorizer = teacher_forcing.make_vectorizer(vocabulary, standardize, "caption_vectorizer")
    ids = common_text.Truncate(config.max_caption_length, name="truncate")(vectorizer(caption))
    inputs = teacher_forcing.DecoderInputs(name="decoder_inputs")(ids)
    units, dim = config.units, config.embedding_dim
    cell_class = {"gru": rnn_layers.GRUCell, "lstm": rnn_layers.LSTMCell}[config.cell]
    parts = types.SimpleNamespace(
        places=PlaceCoordinates(grid, name="place_coordinates"),
        mean_feature=MeanFeature(name="mean_feature"),
        init_h=keras.layers.Dense(units, activation="tanh", name="init_h"),
        init_c=(keras.layers.Dense(units, activation="tanh", name="init_c")
                if config.cell == "lstm" else None),
        embedding=keras.layers.Embedding(vectorizer.vocabulary_size(), dim, mask_zero=True,
                                         name="word_embedding"),
        embedding_dropout=keras.layers.Dropout(config.dropout, name="embedding_dropout"),
        recurrent=rnn_layers.AttentiveRecurrent(rnn_layers.AttentiveCell(
            cell_class(units, name="decoder_cell"),
            rnn_layers.BahdanauAttention(config.attention_units or units, name="attention"),
            return_attention=True, context_gate=config.context_gate, name="attentive_cell"),
            return_sequences=True, name="decoder"),
        split_output=SplitDecoderOutput(units, name="split_output"),
        deep_h=keras.layers.Dense(dim, name="deep_h"),
        deep_z=keras.layers.Dense(dim, use_bias=False, name="deep_z"),
        deep_output=keras.layers.Add(name="deep_output"),
        output_dropout=keras.layers.Dropout(config.dropout, name="output_dropout"),
        logits=keras.layers.Dense(vectorizer.vocabulary_size(), name="logits"),
    )
    logits, attention = decode_sequence(parts, inputs, features)
    logits = AttentionPenalty(config.attention_penalty, name="attention_penalty")(
        [logits, attention, inputs])
    return keras.Model({"features": features, "caption": caption}, logits, name=DECODER)


def decode_sequence(parts, inputs, features, training=None):
    """Teacher forcing: decoder input ids [B, T] -> (logits [B, T, V], attention [B, T, L]).

    Builds the Keras decoder (on symbolic tensors) and scores given captions
    (`Captioner.log_prob`, on real ones): one definition of the decoder.
    """
    embedded = parts.embedding_dropout(parts.embedding(inputs), training=training)
    outputs, attention = parts.recurrent(
        embedded, initial_state=initial_states(parts, features), memory=parts.places(features),
        training=training)
    return read_out(parts, embedded, outputs, training=training), attention


def initial_states(parts, features):
    """The decoder's first states from the mean feature (Xu et al. 2015, 3.1.2)."""
    mean = parts.mean_feature(features)
    return [parts.init_h(mean)] + ([parts.init_c(mean)] if parts.init_c is not None else [])


def read_out(parts, embedded, decoder_output, training=None):
    """The deep output layer (eq. 7): logits = L_o(dropout(E y + L_h h + L_z z)).

    For a whole caption ([B, T, ...], `decode_sequence`) and for one search
    step ([B, ...], `Captioner`): the same layers either way.
    """
    hidden, context = parts.split_output(decoder_output)
    deep = parts.deep_output([embedded, parts.deep_h(hidden), parts.deep_z(context)])
    return parts.logits(parts.output_dropout(deep, training=training))


def parts_of(model):
    """The named layers of a built or loaded captioning model."""
    decoder = model.get_layer(DECODER)
    get = decoder.get_layer
    names = {layer.name for layer in decoder.layers}
    return types.SimpleNamespace(
        encoder=model.get_layer(encoders.NAME),
        decoder_model=decoder,
        vectorizer=get("caption_vectorizer"),
        truncate=get("truncate"),
        places=get("place_coordinates"),
        mean_feature=get("mean_feature"),
        init_h=get("init_h"),
        init_c=get("init_c") if "init_c" in names else None,
        embedding=get("word_embedding"),
        embedding_dropout=get("embedding_dropout"),
        recurrent=get("decoder"),
        split_output=get("split_output"),
        deep_h=get("deep_h"),
        deep_z=get("deep_z"),
        deep_output=get("deep_output"),
        output_dropout=get("output_dropout"),
        logits=get("logits"),
    )


def grid_shape(encoder):
    """(h, w) of the encoder's feature grid (for drawing attention over the image)."""
    feature_map = encoder.get_layer("feature_grid").input.shape
    return int(feature_map[1]), int(feature_map[2])


class Captioner:
    """Captions images with a (trained or loaded) model: greedy and beam search.

    The search loops are `tf.function`s built once per model and beam width;
    the attention keys of an image's features are computed once per image (in
    `AttentiveCell.prepare`, before the loop).
    """

    def __init__(self, model):
        self.model = model
        self.parts = parts_of(model)
        self.vocabulary = np.array(self.parts.vectorizer.get_vocabulary(), dtype=object)
        self.grid = grid_shape(self.parts.encoder)
        self._compiled = {}

    def _prepare(self, features):
        cell = self.parts.recurrent.cell
        rows = ops.shape(features)[0]
        x0 = ops.zeros((rows, self.parts.embedding.output_dim), dtype=features.dtype)
        return cell.prepare(x0, initial_states(self.parts, features), training=False,
                            memory=self.parts.places(features))

    def _step(self, tokens, states, constants):
        embedded = self.parts.embedding(tokens)
        (output, attention), new_states = self.parts.recurrent.cell.step(
            embedded, list(states), constants)
        return read_out(self.parts, embedded, output, training=False), list(new_states), attention

    def compiled(self, beam_size=None, length_alpha=0.0):
        """The compiled search: `fn(features [B, L, D], max_length) -> dict` (numpy-able)."""
        import tensorflow as tf

        from apps.common import decoding

        key = (beam_size, float(length_alpha))
        if key not in self._compiled:
            def search(features, max_length):
                common = dict(start_id=teacher_forcing.START_ID, end_id=teacher_forcing.END_ID,
                              max_length=max_length, banned=(0, teacher_forcing.START_ID),
                              attention_length=tf.shape(features)[1])
                states = initial_states(self.parts, features)
                if beam_size is None:
                    return decoding.greedy_search(self._prepare, self._step, features, states,
                                                  **common)
                return decoding.beam_search(self._prepare, self._step, features, states,
                                            beam_size=beam_size, length_alpha=length_alpha,
                                            **common)

            shape = self.parts.decoder_model.input["features"].shape
            # No AutoGraph: decoding.py writes its loop as a tf.while_loop itself.
            self._compiled[key] = tf.function(search, autograph=False, input_signature=[
                tf.TensorSpec([None, *shape[1:]], tf.float32), tf.TensorSpec([], tf.int32)])
        return self._compiled[key]

    def encode(self, images, batch_size=32):
        """Pixels [N, H, W, 3] (0..255) -> features [N, L, D] (float32, numpy)."""
        chunks = [np.asarray(self.parts.encoder(np.asarray(images[i:i + batch_size], np.float32),
                                                training=False))
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0,), np.float32)

    def caption_features(self, features, beam_size=1, max_length=30, length_alpha=0.0,
                         batch_size=64, greedy=None):
        """Captions for feature grids; one dict per image, in order.

        Each dict: `caption` (str), `words`, `log_prob`, `score`, `finished`
        (the end token was emitted), `attention` [len(words) + 1, L] (the
        end token's row included, while it was emitted).

        Args:
            beam_size: 1 (with `greedy` unset) runs greedy search; more, beam search.
            greedy: Force greedy (True) or beam search even for a beam of 1 (False).
        """
        use_greedy = beam_size == 1 if greedy is None else greedy
        search = self.compiled(None if use_greedy else int(beam_size), length_alpha)
        results = []
        for first in range(0, len(features), batch_size):
            found = search(np.asarray(features[first:first + batch_size], np.float32),
                           np.int32(max_length))
            found = {k: v.numpy() for k, v in found.items()}
            for row in range(len(found["tokens"])):
                pick = (lambda v: v[row]) if use_greedy else (lambda v: v[row, 0])  # noqa: E731
                words = teacher_forcing.tokens_to_words(pick(found["tokens"]), self.vocabulary)
                attention = pick(found["attention"])
                results.append({
                    "caption": " ".join(words),
                    "words": words,
                    "log_prob": float(pick(found["log_prob"])),
                    "score": float(pick(found.get("scores", found["log_prob"]))),
                    "finished": bool(pick(found["finished"])),
                    "attention": attention[:min(len(words) + 1, len(attention))],
                })
        return results

    def caption_images(self, images, **search):
        """Captions for pixels [N, H, W, 3] (0..255); see `caption_features`."""
        return self.caption_features(self.encode(images), **search)

    def log_prob(self, features, output_ids):
        """The model's log-probability of each output sequence, by teacher forcing.

        Args:
            features: [B, L, D] feature grids.
            output_ids: B sequences of word ids, each ending with the end token
                if the hypothesis finished.

        Returns:
            [B] float: sum over the tokens of log softmax(logits)[token].
        """
        import tensorflow as tf

        inputs, labels = teacher_forcing.forced_ids(output_ids)
        features = tf.constant(np.asarray(features, np.float32))
        logits, _ = decode_sequence(self.parts, tf.constant(inputs), features, training=False)
        return teacher_forcing.sequence_log_prob(logits, labels)
