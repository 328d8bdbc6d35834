"""Generated coloured-shapes images with grammar captions: the embedded default data.

Each image holds 1 to 3 shapes of distinct (colour, shape) pairs on a light,
slightly noisy background, laid out in a row (left to right) or a column (top
to bottom), well separated. Its references are every description the grammar
allows, the canonical one (read left to right, or top to bottom) first:

    one shape:     "a red circle"
    a row:         "a red circle left of a blue square"
                   "a blue square right of a red circle"
    a column:      "a red circle above a blue square"
                   "a blue square below a red circle"
    three shapes:  "a red circle left of a blue square left of a green triangle"
                   "a green triangle right of a blue square right of a red circle"

Whether a model says the right thing is therefore checkable exactly
(`is_correct`), and a caption can be read back into shapes (`parse_caption`).
"""

import re

import numpy as np

from apps.common.errors import UsageError

#: Colour name -> RGB. All far from the light background and from each other.
COLOURS = {
    "red": (215, 35, 35),
    "green": (30, 160, 50),
    "blue": (35, 70, 215),
    "yellow": (240, 200, 20),
}
SHAPES = ("circle", "square", "triangle")
#: Layout -> (relation read in layout order, relation read backwards).
RELATIONS = {"row": ("left of", "right of"), "column": ("above", "below")}
#: Every word a caption can use.
WORDS = ("a", *COLOURS, *SHAPES, "left", "right", "of", "above", "below")

MIN_IMAGE_SIZE = 16
MAX_SHAPES = 3
_NOISE = 6  # background and shapes get uniform integer noise in [-_NOISE, _NOISE]


def generate(count, image_size=64, max_shapes=3, seed=0):
    """`count` images and their reference captions.

    Args:
        count: Number of images.
        image_size: Side in pixels (works from 32 to 128; at least 16).
        max_shapes: 1 to 3; each image holds 1..max_shapes shapes (uniformly).
        seed: Same seed, same images and captions.

    Returns:
        (images, references): uint8 [count, image_size, image_size, 3], and a
        list of `count` lists of captions, canonical first.
    """
    count, image_size, max_shapes = int(count), int(image_size), int(max_shapes)
    if count < 0:
        raise UsageError(f"cannot generate {count} shape images: give a count of 0 or more")
    if image_size < MIN_IMAGE_SIZE:
        raise UsageError(f"image size {image_size} is too small to draw shapes on: use "
                         f"{MIN_IMAGE_SIZE} pixels or more (32 to 128 work well)")
    if not 1 <= max_shapes <= MAX_SHAPES:
        raise UsageError(f"max_shapes {max_shapes} is outside the grammar: use 1 to {MAX_SHAPES}")
    rng = np.random.default_rng(seed)
    background = rng.integers(228, 251, size=(count, 1, 1, 1)) + rng.integers(-4, 5, size=(count, 1, 1, 3))
    images = np.empty((count, image_size, image_size, 3), np.uint8)
    images[...] = background
    pairs = [(colour, shape) for colour in COLOURS for shape in SHAPES]
    references = []
    for index in range(count):
        number = int(rng.integers(1, max_shapes + 1))
        chosen = [pairs[i] for i in rng.choice(len(pairs), size=number, replace=False)]
        layout = "row" if rng.random() < 0.5 else "column"
        for (colour, shape), (along, across, size) in zip(chosen, _layout(rng, number, image_size)):
            centre_x, centre_y = (along, across) if layout == "row" else (across, along)
            _draw(images[index], shape, COLOURS[colour], centre_x, centre_y, size)
        references.append(describe(chosen, layout))
    for start in range(0, count, 256):  # noise in blocks: no int16 copy of a large set
        block = images[start:start + 256].astype(np.int16)
        block += rng.integers(-_NOISE, _NOISE + 1, size=block.shape, dtype=np.int16)
        images[start:start + 256] = np.clip(block, 0, 255)
    return images, references


def describe(shapes, layout="row"):
    """Every caption of `shapes` [(colour, shape), ...] read in order along `layout`
    ("row": left to right, "column": top to bottom), canonical first."""
    phrases = [f"{_article(colour)} {colour} {shape}" for colour, shape in shapes]
    if len(phrases) == 1:
        return [phrases[0]]
    forward, backward = RELATIONS[layout]
    return [f" {forward} ".join(phrases), f" {backward} ".join(phrases[::-1])]


def normalize_caption(caption):
    """Lower case, single spaces, no final period."""
    text = " ".join(str(caption).lower().split())
    return text[:-1].rstrip() if text.endswith(".") else text


def is_correct(caption, references):
    """Whether `caption` is one of `references`, ignoring case, spacing and a final period."""
    wanted = normalize_caption(caption)
    return any(wanted == normalize_caption(reference) for reference in references)


_PHRASE = r"an? (" + "|".join(COLOURS) + r") (" + "|".join(SHAPES) + r")"
_RELATION_WORDS = {"left of": ("row", False), "right of": ("row", True),
                   "above": ("column", False), "below": ("column", True)}
_CAPTION = re.compile(rf"^{_PHRASE}(?: (left of|right of|above|below) {_PHRASE}"
                      rf"(?: (left of|right of|above|below) {_PHRASE})?)?$")


def parse_caption(caption):
    """(layout, [(colour, shape), ...] in canonical order) for a caption of the
    grammar, or None. One shape gives layout None. Both relations of a caption
    must be the same word (a chain), and the pairs distinct."""
    match = _CAPTION.match(normalize_caption(caption))
    if not match:
        return None
    groups = [g for g in match.groups() if g is not None]
    shapes = [(groups[i], groups[i + 1]) for i in range(0, len(groups), 3)]
    relations = groups[2::3]
    if len(set(shapes)) != len(shapes) or len(set(relations)) > 1:
        return None
    if not relations:
        return None, shapes
    layout, reversed_order = _RELATION_WORDS[relations[0]]
    return layout, (shapes[::-1] if reversed_order else shapes)


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def _layout(rng, number, image_size):
    """(centre along the layout axis, centre across it, size) per shape, in order.

    The axis is cut into `number` equal slots; a shape's box fills 49-75% of
    its slot (at most 60% of the image) and its centre jitters by at most a
    quarter of the slack, so neighbours are at least 1/8 of a slot apart (4 px
    at 64 px and 2 shapes), centres at least 0.74 slot apart, and the
    cross-axis jitter (at most 0.12 slot either way) stays well below that
    spacing: the relation never looks diagonal.
    """
    slot = image_size / number
    largest = min(0.75 * slot, 0.6 * image_size)
    placements = []
    for i in range(number):
        size = rng.uniform(0.65, 1.0) * largest
        along = (i + 0.5) * slot + rng.uniform(-1, 1) * (slot - size) / 4
        if number == 1:  # alone: anywhere that keeps it inside with a margin
            slack = (image_size - size) / 2 - 1
            along = image_size / 2 + rng.uniform(-0.6, 0.6) * slack
            across = image_size / 2 + rng.uniform(-0.6, 0.6) * slack
        else:
            across = image_size / 2 + rng.uniform(-1, 1) * min(0.12 * slot, (image_size - size) / 2 - 1)
        # Snap to the pixel grid (centre on a pixel centre, odd size, never larger): every
        # shape is then drawn symmetric, and the gaps above stay whole background pixels.
        size = max(3.0, 2 * np.floor((size - 1) / 2) + 1)
        placements.append((np.round(along - 0.5) + 0.5, np.round(across - 0.5) + 0.5, size))
    return placements


def _draw(image, shape, rgb, centre_x, centre_y, size):
    """Paint one filled shape (size = bounding-box side) into `image` [H, W, 3], in place."""
    half = size / 2
    top = max(int(np.floor(centre_y - half)), 0)
    bottom = min(int(np.ceil(centre_y + half)) + 1, image.shape[0])
    left = max(int(np.floor(centre_x - half)), 0)
    right = min(int(np.ceil(centre_x + half)) + 1, image.shape[1])
    ys = np.arange(top, bottom)[:, None] + 0.5  # pixel centres
    xs = np.arange(left, right)[None, :] + 0.5
    dx, dy = xs - centre_x, ys - centre_y
    if shape == "circle":
        mask = dx * dx + dy * dy <= half * half
    elif shape == "square":
        side = 0.45 * size  # half side: a square a little smaller than its circle's box
        mask = (np.abs(dx) <= side) & (np.abs(dy) <= side)
    elif shape == "triangle":  # apex up, base at the bottom of the box
        depth = dy + half  # 0 at the apex, size at the base
        mask = (depth >= 0) & (depth <= size) & (np.abs(dx) <= np.minimum(depth / 2 + 0.25, half))
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    image[top:bottom, left:right][mask] = rgb
