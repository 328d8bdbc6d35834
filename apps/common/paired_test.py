"""McNemar's exact test: is one classifier's lead over another, on the same examples, chance?

The quality benchmarks pair a model with its peer (sentiment: the linear peers;
MNIST: the same model on Keras's built-in layers) and two finished runs with
each other with this one function.
"""


def mcnemar(labels, ours, peer):
    """McNemar's exact test of two classifiers scored on the same examples.

    Only the examples where exactly one of them is right carry information;
    if both were equally good, which one is right there is a fair coin.

    Args:
        labels: True class labels [N] (0/1 for a binary task, or any integers).
        ours, peer: Each classifier's decisions [N], in the labels' terms (bool is
            read as 0/1).

    Returns:
        {"ours_only", "peer_only", "p_value"} (two-sided; 1.0 without disagreements).

    Example:

    >>> mcnemar([1, 0, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0])
    {'ours_only': 2, 'peer_only': 1, 'p_value': 1.0}
    """
    import numpy as np
    from scipy import stats

    labels = np.asarray(labels).astype(np.int64)
    ours, peer = (np.asarray(decisions).astype(np.int64) for decisions in (ours, peer))
    if not (ours.shape == peer.shape == labels.shape):
        raise ValueError(f"mcnemar needs one decision per label from each classifier, got "
                         f"{labels.shape} labels, {ours.shape} and {peer.shape} decisions")
    ours_right, peer_right = ours == labels, peer == labels
    ours_only = int(np.sum(ours_right & ~peer_right))
    peer_only = int(np.sum(peer_right & ~ours_right))
    n = ours_only + peer_only
    p_value = stats.binomtest(ours_only, n, 0.5).pvalue if n else 1.0
    return {"ours_only": ours_only, "peer_only": peer_only, "p_value": float(p_value)}
