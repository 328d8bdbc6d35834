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


def pair_runs(run_a, run_b, predictions_file, read_decisions, app, examples,
              accuracy_format=".4f"):
    """Print two finished runs' test accuracies and McNemar's exact test between them.

    What `benchmarks/<app>_quality.py --pair RUN_A RUN_B` does for each app.

    Args:
        run_a, run_b: The runs' folders ("ours" is the first).
        predictions_file: The name of the file in each folder the test split's
            decisions are in (`test_predictions.csv`).
        read_decisions: path -> (labels [N], decisions [N]), in the same terms.
        app: The app's name, for the error messages ("sentiment").
        examples: What the test examples are called ("reviews", "digits").
        accuracy_format: How an accuracy is printed (".4f", ".2%").

    Returns:
        The test's {"ours_only", "peer_only", "p_value"}.

    Raises:
        UsageError: If a run has no predictions file, or the two were not scored on the
            same test examples (their labels differ).
    """
    from pathlib import Path

    import numpy as np

    from apps.common.errors import UsageError

    scored = []
    for run in (run_a, run_b):
        path = Path(run) / predictions_file
        if not path.is_file():
            raise UsageError(f"--pair: {run} has no {predictions_file}: give the folders of two "
                             f"finished `rnn-suite {app} train` runs (`rnn-suite {app} evaluate "
                             "--run` writes it into an older one)")
        scored.append(read_decisions(path))
    (labels, a), (labels_b, b) = scored
    if not np.array_equal(labels, labels_b):
        raise UsageError(f"--pair: {run_a} and {run_b} were not scored on the same test "
                         f"{examples} ({len(labels):,} and {len(labels_b):,} labels that "
                         "differ); pair runs of the same data and --limit")
    paired = mcnemar(labels, a, b)
    for run, decisions in ((run_a, a), (run_b, b)):
        accuracy = float(np.mean(np.asarray(decisions).astype(np.int64) == labels))
        print(f"{run}: test accuracy {accuracy:{accuracy_format}}")
    print(f"on the same {len(labels):,} test {examples}: the first right where the second is "
          f"wrong {paired['ours_only']:,}, the second right where the first is wrong "
          f"{paired['peer_only']:,}; exact McNemar test p = {paired['p_value']:.3g}")
    return paired
