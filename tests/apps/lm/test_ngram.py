"""The Kneser-Ney n-gram peer (apps/lm/ngram.py) against oracles: hand-computed probabilities,
a dictionary-based re-implementation of the formula, NLTK (when installed), and the perplexity
limits of a deterministic cycle and of uniformly random ids."""

import collections
import itertools
import math

import numpy as np
import pytest

from apps.lm.ngram import KneserNey

BOS = "<s>"   # the reference below pads with a string, independent of the module's id encoding


class ReferenceKN:
    """Interpolated (modified) Kneser-Ney written from the formula with dicts of tuples.

    Slow and obvious: raw counts at the highest order, continuation counts (distinct left
    neighbours) below it except for n-grams that start with BOS (raw counts), and
    P_n(w|u) = max(a(uw) - D(a(uw)), 0) / a(u*) + gamma(u) P_{n-1}(w|u'), P_0 = 1/V.
    """

    def __init__(self, docs, order, vocab_size):
        self.order, self.vocab_size = order, vocab_size
        raw = {n: collections.Counter() for n in range(1, order + 1)}
        for doc in docs:
            padded = (BOS,) * (order - 1) + tuple(int(t) for t in doc)
            for i in range(order - 1, len(padded)):
                for n in range(1, order + 1):
                    raw[n][padded[i - n + 1:i + 1]] += 1
        self.adjusted = {order: dict(raw[order])}
        for n in range(order - 1, 0, -1):
            left = collections.defaultdict(set)
            for gram in raw[n + 1]:
                left[gram[1:]].add(gram[0])
            self.adjusted[n] = {g: (raw[n][g] if g[0] == BOS else len(left[g])) for g in raw[n]}

    def count_of_counts(self, n):
        values = collections.Counter(self.adjusted[n].values())
        return [values[k] for k in (1, 2, 3, 4)]

    def probability(self, context, word, discounts):
        """P(word | context); `discounts[n - 1]` is (D1, D2, D3+) of order n."""
        context = ((BOS,) * (self.order - 1) + tuple(context))[len(context):] \
            if self.order > 1 else ()
        p = 1.0 / self.vocab_size
        for n in range(1, self.order + 1):
            u = context[len(context) - (n - 1):] if n > 1 else ()
            table = self.adjusted[n]
            types = {g: a for g, a in table.items() if g[:-1] == u}
            if not types:
                continue                              # unseen context: full back-off
            d = lambda a: discounts[n - 1][min(a, 3) - 1]  # noqa: E731
            total = sum(types.values())
            gamma = sum(d(a) for a in types.values()) / total
            a = types.get(u + (word,), 0)
            p = (max(a - d(a), 0.0) if a else 0.0) / total + gamma * p
        return p


def small_corpus(seed=0, vocab_size=12, docs=30):
    """Documents of random lengths (some empty) over a small vocabulary, with structure."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(docs):
        length = int(rng.integers(0, 25))
        doc = rng.integers(0, vocab_size, size=length)
        doc[1::3] = (doc[0::3][:len(doc[1::3])] + 1) % vocab_size   # a learnable bigram
        out.append(doc)
    return out


CONTEXTS = [[], [3], [3, 4], [0, 0, 0], [11, 11, 11], [5, 6, 7, 8]]


# --------------------------------------------------------------------------- normalisation

@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("modified", [True, False])
def test_every_distribution_sums_to_one(order, modified):
    docs = small_corpus()
    lm = KneserNey(order=order, vocab_size=14, modified=modified).fit(docs)  # ids 12, 13 unseen
    seen = [list(docs[0][:k]) for k in range(1, 5)]
    unseen = [[13, 12, 13], [12], [13, 13]]
    for context in seen + unseen + [[]]:
        p = lm.distribution(context)
        assert p.shape == (14,) and p.dtype == np.float64
        assert abs(p.sum() - 1) < 1e-9, (context, p.sum())
        assert (p > 0).all()                          # unseen ids too, through the uniform


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("modified", [True, False])
def test_log_probs_equal_the_per_context_distribution(order, modified):
    lm = KneserNey(order=order, vocab_size=12, modified=modified).fit(small_corpus(0))
    held_out = small_corpus(seed=1, docs=6)
    expected = [math.log(lm.distribution(list(doc[:i]))[doc[i]])
                for doc in held_out for i in range(len(doc))]
    got = lm.log_probs(held_out)
    assert got.dtype == np.float64 and got.shape == (len(expected),)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert lm.perplexity(held_out) == pytest.approx(math.exp(-np.mean(expected)), rel=1e-12)


# --------------------------------------------------------------------------- oracles

def test_hand_computed_bigram():
    # One document 0 1 0 2 0 1 over V = 4 (id 3 never seen), bigram, one discount D = 0.75.
    lm = KneserNey(order=2, vocab_size=4, modified=False, discount=0.75)
    lm.fit([np.array([0, 1, 0, 2, 0, 1])])
    D, V = 0.75, 4
    # Padded: <s> 0 1 0 2 0 1. Bigram counts: (<s>,0)=1, (0,1)=2, (1,0)=1, (0,2)=1, (2,0)=1.
    # Unigram continuation counts, distinct left neighbours: 0 <- {<s>, 1, 2} = 3,
    # 1 <- {0} = 1, 2 <- {0} = 1, 3: 0; total 5 over 3 types.
    gamma_1 = D * 3 / 5
    p1 = {0: (3 - D) / 5 + gamma_1 / V, 1: (1 - D) / 5 + gamma_1 / V,
          2: (1 - D) / 5 + gamma_1 / V, 3: gamma_1 / V}
    assert sum(p1.values()) == pytest.approx(1)
    # Context 0: followed by 1 twice and by 2 once, so c(0 *) = 3 over 2 types.
    gamma_0 = D * 2 / 3
    assert lm.distribution([0])[1] == pytest.approx((2 - D) / 3 + gamma_0 * p1[1], abs=1e-15)
    assert lm.distribution([0])[0] == pytest.approx(gamma_0 * p1[0], abs=1e-15)
    assert lm.distribution([0])[3] == pytest.approx(gamma_0 * p1[3], abs=1e-15)
    # Start of a document: <s> was followed by 0 once.
    assert lm.distribution([])[0] == pytest.approx((1 - D) / 1 + D * 1 / 1 * p1[0], abs=1e-15)
    # Context 3 was never seen: the unigram distribution itself.
    np.testing.assert_allclose(lm.distribution([3]), [p1[w] for w in range(4)], atol=1e-15)
    # The first two tokens of a held-out document: P(0 | <s>) then P(1 | 0).
    np.testing.assert_allclose(
        lm.log_probs([np.array([0, 1])]),
        np.log([(1 - D) + D * p1[0], (2 - D) / 3 + gamma_0 * p1[1]]), atol=1e-14)


def test_hand_computed_modified_discounts():
    # Unigram order: adjusted counts are raw counts. Counts 0:1, 1:1, 2:2, 3:3, 4:4, 5:4.
    lm = KneserNey(order=1, vocab_size=6).fit([0, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5])
    n1, n2, n3, n4 = 2, 1, 1, 2
    y = n1 / (n1 + 2 * n2)
    d1, d2, d3 = 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3
    assert d3 == -1
    d3 = 0.05                        # clipped into [0.05, 3] so count-4 ids keep their mass
    assert lm.discounts_ == [pytest.approx((d1, d2, d3))]
    gamma = (2 * d1 + d2 + 3 * d3) / 15
    expected = [(1 - d1) / 15, (1 - d1) / 15, (2 - d2) / 15, (3 - d3) / 15,
                (4 - d3) / 15, (4 - d3) / 15]
    np.testing.assert_allclose(lm.distribution([]), np.array(expected) + gamma / 6, atol=1e-15)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("modified", [True, False])
def test_matches_a_dictionary_reimplementation(order, modified):
    docs = small_corpus(seed=2, vocab_size=10, docs=40)
    lm = KneserNey(order=order, vocab_size=11, modified=modified).fit(docs)
    reference = ReferenceKN(docs, order, vocab_size=11)
    for context in CONTEXTS + [list(docs[3][:2]), list(docs[5][:1])]:
        context = [min(c, 10) for c in context]
        expected = [reference.probability(context, w, lm.discounts_) for w in range(11)]
        np.testing.assert_allclose(lm.distribution(context), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("order", [2, 3])
def test_discounts_come_from_the_count_of_counts(order):
    docs = small_corpus(seed=3, vocab_size=10, docs=40)
    reference = ReferenceKN(docs, order, vocab_size=10)
    modified = KneserNey(order=order, vocab_size=10).fit(docs)
    plain = KneserNey(order=order, vocab_size=10, modified=False).fit(docs)
    for n in range(2, order + 1):     # order 1's continuation counts are all large here
        n1, n2, n3, n4 = reference.count_of_counts(n)
        assert min(n1, n2, n3, n4) > 0, "the corpus must exercise every formula"
        y = n1 / (n1 + 2 * n2)
        expected = [1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3]
        expected = [min(max(d, 0.05), k) for k, d in enumerate(expected, start=1)]
        assert modified.discounts_[n - 1] == pytest.approx(tuple(expected), rel=1e-12)
        assert plain.discounts_[n - 1] == pytest.approx((y, y, y), rel=1e-12)


def test_matches_nltk_kneser_ney_interpolated():
    """NLTK's KneserNeyInterpolated (one discount, no uniform floor): the same numbers where
    the two definitions agree, which is when every id is seen in training (then spreading the
    unigram discount uniformly gives the undiscounted continuation unigram back) and, above
    order 2, for contexts without beginning-of-document (NLTK gives <s>-initial n-grams
    continuation counts, this module raw counts, as KenLM)."""
    lm_module = pytest.importorskip(
        "nltk.lm", reason="nltk is not installed (optional; the oracle is not a dependency)")
    docs = small_corpus(seed=4, vocab_size=8, docs=25)
    assert len(set(np.concatenate(docs).tolist())) == 8
    for order in (2, 3):
        ours = KneserNey(order=order, vocab_size=8, modified=False, discount=0.6).fit(docs)
        theirs = lm_module.KneserNeyInterpolated(order, discount=0.6)
        everygrams = []
        for doc in docs:
            padded = [BOS] * (order - 1) + [str(t) for t in doc]   # NLTK's words are strings
            everygrams.append([tuple(padded[i - n + 1:i + 1])
                               for i in range(order - 1, len(padded))
                               for n in range(1, order + 1)])
        theirs.fit(everygrams, vocabulary_text=[str(w) for w in range(8)] + [BOS])
        contexts = [list(c) for c in itertools.product(range(8), repeat=order - 1)][:40]
        if order == 2:
            contexts.append([])                           # <s>: raw counts in both
        for context in contexts:
            nltk_context = tuple(str(c) for c in context) if context else (BOS,)
            expected = [theirs.unmasked_score(str(w), nltk_context) for w in range(8)]
            np.testing.assert_allclose(ours.distribution(context), expected, rtol=1e-12)


def test_a_deterministic_cycle_is_almost_certain():
    cycle = np.tile(np.arange(10), 1000)
    lm = KneserNey(order=3, vocab_size=10).fit(cycle)
    assert lm.perplexity(np.tile(np.arange(10), 30)[3:]) < 1.1
    assert lm.distribution([4, 5]).argmax() == 6


def test_uniform_random_ids_have_perplexity_near_the_vocabulary_size():
    rng = np.random.default_rng(5)
    for order in (1, 2, 3):
        lm = KneserNey(order=order, vocab_size=50).fit(rng.integers(0, 50, size=100_000))
        assert lm.perplexity(rng.integers(0, 50, size=20_000)) == pytest.approx(50, rel=0.1)


# --------------------------------------------------------------------------- documents

def test_documents_do_not_share_context():
    docs = small_corpus(seed=6)
    lm = KneserNey(order=3, vocab_size=12).fit(docs)
    a, b = np.array([1, 2, 3, 4]), np.array([5, 6, 7])
    np.testing.assert_array_equal(lm.log_probs([a, b]),
                                  np.concatenate([lm.log_probs(a), lm.log_probs([b])]))
    # One stream is one document, however it is given.
    stream = np.concatenate([a, b])
    np.testing.assert_array_equal(lm.log_probs(stream), lm.log_probs([stream]))
    np.testing.assert_array_equal(lm.log_probs(stream.tolist()), lm.log_probs([stream]))
    # A 2-D array is one document per row.
    grid = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(lm.log_probs(grid), lm.log_probs([grid[0], grid[1]]))
    assert lm.log_probs([]).shape == (0,)


def test_fit_returns_self_and_infers_the_vocabulary():
    lm = KneserNey(order=2)
    assert lm.fit([[0, 5, 2]]) is lm
    assert lm.vocab_size == 6 and lm.num_tokens_ == 3
    assert lm.distribution([5]).shape == (6,)


def test_refitting_replaces_the_counts():
    lm = KneserNey(order=2, vocab_size=5).fit([[0, 1, 0, 1]])
    refit = KneserNey(order=2, vocab_size=5).fit([[2, 3, 2, 3]])
    np.testing.assert_array_equal(lm.fit([[2, 3, 2, 3]]).distribution([2]),
                                  refit.distribution([2]))


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, names", [
    (dict(order=0), "order=0"),
    (dict(order=2.0), "order=2.0"),
    (dict(order=True), "order=True"),
    (dict(order="3"), "order='3'"),
    (dict(vocab_size=0), "vocab_size=0"),
    (dict(vocab_size=10.5), "vocab_size=10.5"),
    (dict(modified="yes"), "modified='yes'"),
    (dict(discount=0), "discount=0"),
    (dict(discount=1.5), "discount=1.5"),
    (dict(discount=(0.5, 1.0)), "discount=(0.5, 1.0)"),
    (dict(discount=(0.5, 2.5, 1.0)), "D2"),
    (dict(discount="0.5"), "discount='0.5'"),
    (dict(discount=(0.5, 1.0, 1.5), modified=False), "modified=True"),
    (dict(order=4, vocab_size=2**20), "order=4, vocab_size=1048576"),
])
def test_bad_arguments_name_the_argument(kwargs, names):
    with pytest.raises(ValueError, match="received") as info:
        KneserNey(**kwargs)
    assert names in str(info.value)


def test_the_largest_vocabulary_for_an_order_is_accepted():
    KneserNey(order=3, vocab_size=2**20)
    KneserNey(order=4, vocab_size=50_000)
    with pytest.raises(ValueError, match="vocab_size"):
        KneserNey(order=3).fit([[0, 2**21]])          # inferred from the data: too large


def test_bad_sequences_and_contexts_raise_value_error():
    lm = KneserNey(order=2, vocab_size=5)
    with pytest.raises(RuntimeError, match="fit"):
        lm.log_probs([[1, 2]])
    with pytest.raises(ValueError, match="at least one token"):
        lm.fit([[], []])
    with pytest.raises(ValueError, match="0..4"):
        lm.fit([[1, 2, 5]])
    with pytest.raises(ValueError, match="integer token ids"):
        lm.fit([np.array([0.5, 1.0])])
    with pytest.raises(ValueError, match="integer token ids"):
        lm.fit([np.zeros((2, 2, 2), dtype=int)])
    lm.fit([[1, 2, 3]])
    with pytest.raises(ValueError, match="0..4"):
        lm.log_probs([[1, -1]])
    with pytest.raises(ValueError, match="context"):
        lm.distribution([7])
    with pytest.raises(ValueError, match="context"):
        lm.distribution([1.5])
    with pytest.raises(ValueError, match="at least one token"):
        lm.perplexity([[]])


def test_an_inferred_vocabulary_is_inferred_again_by_the_next_fit():
    lm = KneserNey(order=2).fit([[0, 1]])
    assert lm.vocab_size == 2
    assert lm.fit([[0, 1, 7]]).vocab_size == 8
    assert KneserNey(order=2, vocab_size=9).fit([[0, 1]]).vocab_size == 9
