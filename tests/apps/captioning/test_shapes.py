"""The generated coloured-shapes data: what the captions say is what the pixels show."""

import re
from collections import deque

import numpy as np
import pytest

from apps.captioning import shapes
from apps.common.errors import UsageError

# The grammar, written out independently of the module.
PHRASE = r"a (red|green|blue|yellow) (circle|square|triangle)"
GRAMMAR = re.compile(rf"^{PHRASE}(?: (left of|right of|above|below) {PHRASE}(?: \3 {PHRASE})?)?$")


def blobs(image):
    """[(colour, centre x, centre y, shape)] of every same-colour 4-connected
    region in `image`, found by thresholding on the palette."""
    pixels = image.astype(np.int32)
    found = []
    for name, rgb in shapes.COLOURS.items():
        mask = np.abs(pixels - np.array(rgb)).max(axis=-1) < 40
        seen = np.zeros_like(mask)
        for y, x in zip(*np.nonzero(mask)):
            if seen[y, x]:
                continue
            seen[y, x] = True
            queue, region = deque([(y, x)]), []
            while queue:
                cy, cx = queue.popleft()
                region.append((cy, cx))
                for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                    if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] \
                            and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
            ys, xs = np.array(region).T
            found.append((name, xs.mean(), ys.mean(), shape_of(ys, xs)))
    return found


def shape_of(ys, xs):
    """A triangle (apex up) has most of its pixels in its lower half; of the
    others, a square fills its box and a circle pi/4 of it."""
    middle = (ys.min() + ys.max()) / 2
    upper, lower = np.sum(ys < middle), np.sum(ys > middle)
    if upper < 0.75 * lower:
        return "triangle"
    fill = len(ys) / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
    return "square" if fill > 0.9 else "circle"


def test_same_seed_same_data_other_seed_other_data():
    images, references = shapes.generate(20, seed=3)
    again, references_again = shapes.generate(20, seed=3)
    other, _ = shapes.generate(20, seed=4)
    np.testing.assert_array_equal(images, again)
    assert references == references_again
    assert not np.array_equal(images, other)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes_and_dtypes(size):
    images, references = shapes.generate(7, image_size=size, seed=1)
    assert images.shape == (7, size, size, 3) and images.dtype == np.uint8
    assert isinstance(references, list) and len(references) == 7
    assert all(isinstance(r, list) and r and all(isinstance(c, str) for c in r) for r in references)
    background = images[:, :2, :2].reshape(-1, 3)  # corners are always background
    assert background.min() > 200  # light
    assert images[0].std() > 0 and len(np.unique(images[0, :8, :8, 0])) > 3  # a little noise


@pytest.mark.parametrize("size", [32, 64, 128])
def test_the_caption_names_what_the_pixels_show(size):
    """Count colour blobs, find which is leftmost / topmost, and tell its shape from how much
    of its box it fills: all must agree with the canonical caption, in order."""
    images, references = shapes.generate(60, image_size=size, seed=size)
    counts = set()
    for image, refs in zip(images, references):
        layout, named = shapes.parse_caption(refs[0])
        found = blobs(image)
        assert len(found) == len(named), refs[0]
        counts.add(len(named))
        axis = 2 if layout == "column" else 1  # order by y in a column, x in a row
        ordered = sorted(found, key=lambda blob: blob[axis])
        assert [blob[0] for blob in ordered] == [colour for colour, _ in named], refs[0]
        assert [blob[3] for blob in ordered] == [shape for _, shape in named], refs[0]
        if len(named) > 1:  # the relation is unambiguous: spread more along than across
            along = [blob[axis] for blob in ordered]
            across = [blob[3 - axis] for blob in ordered]
            assert min(np.diff(along)) > max(across) - min(across), refs[0]
    assert counts == {1, 2, 3}


def test_max_shapes_bounds_the_count():
    _, references = shapes.generate(40, max_shapes=1, seed=2)
    assert all(len(refs) == 1 and " of " not in refs[0] for refs in references)
    _, references = shapes.generate(60, max_shapes=2, seed=2)
    assert {len(shapes.parse_caption(refs[0])[1]) for refs in references} == {1, 2}


def test_every_reference_parses_under_the_grammar():
    _, references = shapes.generate(300, seed=5)
    layouts = set()
    for refs in references:
        assert all(GRAMMAR.match(caption) for caption in refs), refs
        named = [tuple(m) for m in re.findall(PHRASE, refs[0])]
        assert len(set(named)) == len(named)  # distinct (colour, shape) pairs
        if len(named) == 1:
            assert len(refs) == 1
        else:
            # the second reference is the full reversal of the first
            relation = re.search(r"(left of|above)", refs[0]).group(1)
            backward = {"left of": "right of", "above": "below"}[relation]
            assert refs[1] == f" {backward} ".join(f"a {c} {s}" for c, s in named[::-1])
            layouts.add(relation)
        layout, parsed = shapes.parse_caption(refs[-1])
        assert parsed == named  # the reversed caption reads back in canonical order
    assert layouts == {"left of", "above"}


def test_describe_and_parse():
    row = [("red", "circle"), ("blue", "square"), ("green", "triangle")]
    assert shapes.describe(row, "row") == [
        "a red circle left of a blue square left of a green triangle",
        "a green triangle right of a blue square right of a red circle"]
    assert shapes.describe(row[:2], "column") == [
        "a red circle above a blue square", "a blue square below a red circle"]
    assert shapes.describe(row[:1], "column") == ["a red circle"]
    assert shapes.parse_caption("A blue square below a red circle.") == ("column", row[:2])
    assert shapes.parse_caption("a red circle") == (None, row[:1])
    assert shapes.parse_caption("a red circle left of a blue square above a green triangle") is None
    assert shapes.parse_caption("a red circle left of a red circle") is None
    assert shapes.parse_caption("a purple circle") is None
    assert shapes.parse_caption("") is None


def test_is_correct():
    refs = ["a red circle left of a blue square", "a blue square right of a red circle"]
    assert shapes.is_correct("a red circle left of a blue square", refs)
    assert shapes.is_correct("  A Blue  square right of a RED circle. ", refs)
    assert shapes.is_correct("a blue square right of a red circle .", refs)
    assert not shapes.is_correct("a blue square left of a red circle", refs)
    assert not shapes.is_correct("a red circle", refs)
    assert not shapes.is_correct("a red circle left of a blue square left of", refs)
    assert not shapes.is_correct("", refs)
    assert not shapes.is_correct("a red circle", [])


def test_bad_arguments_are_usage_errors():
    for kwargs in ({"count": -1}, {"count": 3, "image_size": 8}, {"count": 3, "max_shapes": 4},
                   {"count": 3, "max_shapes": 0}):
        with pytest.raises(UsageError):
            shapes.generate(**kwargs)
    images, references = shapes.generate(0)
    assert images.shape == (0, 64, 64, 3) and references == []
