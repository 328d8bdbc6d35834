"""The peers every captioning figure stands beside: the most frequent caption, the nearest neighbour.

A captioning score alone says little: a model that writes "a dog runs
through the grass" for every photo scores a BLEU-1 near 50 on Flickr8k. So
evaluation also scores, on the same test images, (1) the single most frequent
training caption given to every image, and (2) the caption of the most
similar training image by the encoder's features (cosine similarity of the
mean feature), choosing among that image's references the one that agrees
most with the others (a consensus pick, as Devlin et al. 2015).
"""

import collections

import numpy as np

from apps.captioning import model as model_module


def most_frequent_caption(train_captions):
    """The training caption written most often (after the model's standardisation), as written."""
    counts = collections.Counter()
    first_spelling = {}
    for references in train_captions:
        for caption in references:
            key = " ".join(model_module.caption_words([caption])[0])
            counts[key] += 1
            first_spelling.setdefault(key, caption)
    key, _ = max(counts.items(), key=lambda item: (item[1], item[0]))
    return first_spelling[key]


def consensus_caption(references):
    """Of one image's references, the one with the highest mean word overlap (F1) with the others."""
    words = [set(w) for w in model_module.caption_words(references)]
    if len(references) == 1:
        return references[0]

    def f1(a, b):
        common = len(a & b)
        return 0.0 if not common else 2 * common / (len(a) + len(b))

    scores = [np.mean([f1(w, other) for j, other in enumerate(words) if j != i])
              for i, w in enumerate(words)]
    return references[int(np.argmax(scores))]


def nearest_neighbour_captions(train_features, train_captions, test_features):
    """For each test image, the consensus caption of the closest training image.

    Args:
        train_features, test_features: [N, L, D] feature grids.
        train_captions: The references of each training image.
    """
    def unit_means(features):
        means = np.asarray(features, np.float32).mean(axis=1)
        return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)

    similarity = unit_means(test_features) @ unit_means(train_features).T
    nearest = similarity.argmax(axis=1)
    return [consensus_caption(train_captions[i]) for i in nearest]
