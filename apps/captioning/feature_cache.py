"""Image features of a frozen encoder, computed once per image and kept on disk.

With a frozen pretrained encoder, an epoch needs only the decoder: each
image's feature grid is computed the first time it is seen and written to
`<cache>/features/<encoder identity>/<key>.npy` (float16: half the disk and
memory, far below the features' own precision needs). The key hashes the
encoder's identity (network, weights, image size) and the image store's
key for the file (its path and size/modification time), so a changed file,
encoder or size never reuses a stale entry.
"""

import hashlib
import os
from pathlib import Path

import numpy as np

ENV_VAR = "RNN_SUITE_CACHE"
BATCH = 32


def cache_root(cache_dir=None):
    """`--cache-dir`, else `$RNN_SUITE_CACHE`, else `~/.cache/rnn-suite`."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "rnn-suite"


def _entry(folder, encoder_identity, image_key):
    digest = hashlib.sha1(f"{encoder_identity}|{image_key}".encode()).hexdigest()
    return folder / f"{digest}.npy"


def features(encoder, encoder_identity, store, names, image_size, cache_dir=None,
             skip_bad=False):
    """The feature grids of `names` [N, L, D] float16, from the cache where possible.

    Args:
        encoder: The encoder model (pixels -> [B, L, D]).
        encoder_identity: `encoders.identity(...)`: network, weights and size.
        store: The corpus's `ImageStore` (reads pixels, gives each file's key).
        names: The images, in order.
        image_size: The size the store resizes images to.
        cache_dir: The cache root (see `cache_root`).
        skip_bad: Skip images that cannot be decoded (else it is an error).

    Returns:
        `(features, kept_names, counts)`: counts is {"cached": n, "computed": n,
        "skipped": n}; `kept_names` leaves out skipped images.
    """
    folder = cache_root(cache_dir) / "features" / encoder_identity
    folder.mkdir(parents=True, exist_ok=True)
    entries = [_entry(folder, encoder_identity, store.key(name)) for name in names]
    missing = [i for i, path in enumerate(entries) if not path.is_file()]
    skipped = set()
    for first in range(0, len(missing), BATCH):
        chunk = missing[first:first + BATCH]
        pixels, bad = store.load([names[i] for i in chunk], image_size, skip_bad=skip_bad)
        bad = set(bad)
        kept = [i for i in chunk if names[i] not in bad]
        skipped.update(i for i in chunk if names[i] in bad)
        if not kept:
            continue
        grids = np.asarray(encoder.predict_on_batch(pixels.astype("float32")))
        for i, grid in zip(kept, grids):
            # Written under a temporary name first: a kill mid-write leaves no half file.
            partial = entries[i].with_suffix(".partial.npy")
            np.save(partial, grid.astype(np.float16))
            partial.replace(entries[i])
    kept = [i for i in range(len(names)) if i not in skipped]
    stacked = (np.stack([np.load(entries[i]) for i in kept]) if kept
               else np.zeros((0, 0, 0), np.float16))
    counts = {"cached": len(names) - len(missing), "computed": len(missing) - len(skipped),
              "skipped": len(skipped)}
    return stacked, [names[i] for i in kept], counts
