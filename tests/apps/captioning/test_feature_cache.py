"""The feature cache: computed once per image, reused, never reused across encoders, sizes or edits."""

import numpy as np
import pytest
from captioning_testutils import write_image

from apps.captioning import feature_cache
from apps.captioning.image_stores import FolderStore


class CountingEncoder:
    """Stands in for an encoder model: features = mean colour per image, counting the images seen."""

    def __init__(self):
        self.seen = 0

    def predict_on_batch(self, pixels):
        self.seen += len(pixels)
        return pixels.mean(axis=(1, 2))[:, None, :] * np.ones((1, 4, 1), np.float32)


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for index in range(5):
        write_image(images / f"{index}.png", rng.integers(0, 255, (20, 20, 3)))
    return images


def _features(store, names, encoder, identity="enc-a-16", size=16, cache=None, **kwargs):
    return feature_cache.features(encoder, identity, store, names, size, cache, **kwargs)


def test_second_call_reads_the_cache(folder, tmp_path):
    store, names = FolderStore(folder), [f"{i}.png" for i in range(5)]
    encoder = CountingEncoder()
    first, kept, counts = _features(store, names, encoder, cache=tmp_path / "cache")
    assert counts == {"cached": 0, "computed": 5, "skipped": 0} and encoder.seen == 5
    assert first.dtype == np.float16 and first.shape == (5, 4, 3) and kept == names
    again, _, counts = _features(store, names, encoder, cache=tmp_path / "cache")
    assert counts == {"cached": 5, "computed": 0, "skipped": 0} and encoder.seen == 5
    np.testing.assert_array_equal(first, again)


def test_other_encoder_or_size_is_computed_again(folder, tmp_path):
    store, names = FolderStore(folder), ["0.png", "1.png"]
    encoder = CountingEncoder()
    _features(store, names, encoder, cache=tmp_path / "cache")
    _, _, counts = _features(store, names, encoder, identity="enc-b-16", cache=tmp_path / "cache")
    assert counts["computed"] == 2
    _, _, counts = _features(store, names, encoder, identity="enc-a-24", size=24,
                             cache=tmp_path / "cache")
    assert counts["computed"] == 2
    assert encoder.seen == 6


def test_a_changed_image_file_is_computed_again(folder, tmp_path):
    store, names = FolderStore(folder), ["0.png", "1.png"]
    encoder = CountingEncoder()
    before, _, _ = _features(store, names, encoder, cache=tmp_path / "cache")
    write_image(folder / "1.png", np.full((30, 30, 3), 255, np.uint8))
    after, _, counts = _features(FolderStore(folder), names, encoder,
                                 cache=tmp_path / "cache")
    assert counts == {"cached": 1, "computed": 1, "skipped": 0}
    np.testing.assert_array_equal(before[0], after[0])
    assert np.allclose(after[1], 255.0)


def test_unreadable_images_are_skipped_when_asked(folder, tmp_path):
    (folder / "bad.png").write_text("not an image")
    store = FolderStore(folder)
    names = ["0.png", "bad.png", "2.png"]
    grids, kept, counts = _features(store, names, CountingEncoder(), cache=tmp_path / "cache",
                                    skip_bad=True)
    assert kept == ["0.png", "2.png"] and len(grids) == 2 and counts["skipped"] == 1
    from apps.common.errors import UsageError

    with pytest.raises(UsageError, match="bad.png"):
        _features(store, names, CountingEncoder(), cache=tmp_path / "other")


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("RNN_SUITE_CACHE", str(tmp_path / "env"))
    assert feature_cache.cache_root(str(tmp_path / "flag")) == tmp_path / "flag"
    assert feature_cache.cache_root() == tmp_path / "env"
    monkeypatch.delenv("RNN_SUITE_CACHE")
    assert feature_cache.cache_root().parts[-2:] == (".cache", "rnn-suite")
