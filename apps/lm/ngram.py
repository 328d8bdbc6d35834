"""An interpolated Kneser-Ney n-gram language model over integer token ids, in NumPy.

The peer a recurrent language model's perplexity stands beside: on the same token ids, the
same held-out documents, a well-smoothed 3-gram is the number an RNN has to beat.

Why written here rather than taken from a package: the `kenlm` Python module only *queries*
ARPA/binary models; training one needs KenLM's C++ `lmplz` binary (Boost, CMake), which pip
does not ship. NLTK's `nltk.lm.KneserNeyInterpolated` trains and scores in pure Python, one
n-gram at a time, and takes hours on the ~10M tokens this has to handle (and it implements
only a single discount). So this module implements Chen & Goodman's (1998) interpolated
Kneser-Ney, with the modified variant (three discounts D1, D2, D3+) by default, in a few
vectorised NumPy passes. Measured on one CPU core: 10M Zipfian tokens (vocab_size 20,000,
documents of 1,000 tokens), order 3, fit in ~3 s and 1M held-out tokens score in ~2 s, at a
peak of ~0.8 GB resident (~0.6 GB beyond the data); order 4 takes ~3.5 s + 3 s and ~1.3 GB.

How it works: an n-gram of ids is encoded as one int64 key in base B = vocab_size + 1
(key = ((s1 * B) + s2) * B + s3 ...), so counting is `np.unique` and look-up is
`np.searchsorted` on the sorted key arrays. The extra symbol, id ``vocab_size``, is a
reserved beginning-of-document (BOS) id: every document is padded on the left with
``order - 1`` copies of it, so the first tokens of a document are predicted from a context
that says "start of document" (as KenLM's <s>). BOS only ever appears in contexts; it is
never predicted and gets no probability.

The model, for a context u of n - 1 ids and the next id w (Chen & Goodman 1998, eq. 26)::

    P_n(w | u) = max(a_n(u w) - D_n(a_n(u w)), 0) / a_n(u *)  +  gamma_n(u) * P_{n-1}(w | u')
    gamma_n(u) = (D_n1 N1(u *) + D_n2 N2(u *) + D_n3 N3+(u *)) / a_n(u *)
    P_0(w) = 1 / vocab_size

where u' is u without its first id, a_n(u *) = sum over w of a_n(u w), Nk(u *) is the number
of ids w with a_n(u w) = k (N3+: >= 3), and the "adjusted" count a_n is the raw count at the
highest order and the continuation count N1+(* u w) (the number of distinct ids, BOS among
them, seen to the left of u w) below it, except that an n-gram starting with BOS, which
nothing can precede, keeps its raw count (as KenLM does). A context never seen in training
backs off fully: P_n(w | u) = P_{n-1}(w | u). The uniform P_0 makes every id, seen or not,
get a nonzero probability, and every distribution sums to 1 up to float rounding.

Discounts are estimated per order from the count-of-counts n1..n4 of the adjusted counts:
Y = n1 / (n1 + 2 n2), D = Y (unmodified), or D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2,
D3+ = 3 - 4Y n4/n3 (modified). Where an estimate is undefined (a zero count-of-counts, as on
tiny or perfectly regular corpora) D2 and D3+ fall back to the discount below them, and an
order with no count of 1 (n1 = 0, e.g. the unigrams of a large corpus) uses D1, D2, D3+ =
0.5, 1, 1.5 (unmodified: 0.5);
each Dk is then clipped into [0.05, k], so that counts stay non-negative and every context
keeps some mass for the lower order.

Example:

    >>> import numpy as np
    >>> from apps.lm.ngram import KneserNey
    >>> rng = np.random.default_rng(0)
    >>> train = [rng.integers(0, 100, size=500) for _ in range(20)]   # 20 documents
    >>> lm = KneserNey(order=3, vocab_size=100).fit(train)
    >>> test = [rng.integers(0, 100, size=500)]
    >>> 90 < lm.perplexity(test) < 130          # random ids: close to the vocabulary size
    True
    >>> bool(abs(lm.distribution([4, 2]).sum() - 1) < 1e-9)
    True
"""

import numbers

import numpy as np

# The smallest discount an estimate is clipped to: a zero discount would leave a context no
# mass for the lower orders, so an id unseen after it would get probability 0 (log-prob -inf).
_MIN_DISCOUNT = 0.05
# The discounts of an order none of whose n-grams has an (adjusted) count of 1.
_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
_INT64_MAX = np.iinfo(np.int64).max


def _is_int(value):
    """True for Python and NumPy integers, but not for bools (True is not an order)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


class KneserNey:
    """Interpolated Kneser-Ney (Chen & Goodman 1998 'interpolated KN', optionally modified KN
    with three discounts D1, D2, D3+) n-gram language model over token ids 0..vocab_size-1.

    Args:
        order: The n of the n-grams, an integer >= 1 (1: unigram, 3: trigram). Each token is
            predicted from its order - 1 predecessors in the same document. Order and
            vocabulary together must fit an int64 key: (vocab_size + 1) ** order < 2**63,
            e.g. order 3 up to vocab_size 2**21 - 2, order 4 up to about 55,000 ids.
        vocab_size: The number of token ids (ids are 0..vocab_size-1), an integer >= 1, or
            None to take the largest id seen by `fit` plus 1 (again at each fit). The lowest
            order interpolates with the uniform distribution over these ids, so ids never
            seen in training still get a nonzero probability.
        modified: True (default) for modified Kneser-Ney, with separate discounts for
            n-grams seen once, twice, and three or more times; False for one discount.
        discount: None (default) to estimate the discounts of each order from its
            count-of-counts; or fixed discounts for every order: a number in (0, 1] (one D
            for all counts), or, with modified=True, a sequence (D1, D2, D3) with D1 in
            (0, 1], D2 in (0, 2], D3 in (0, 3].

    Attributes (after `fit`):
        discounts_: For each order n = 1..order, the (D1, D2, D3+) used (all equal when
            unmodified).
        num_tokens_: The number of training tokens.

    Example:

        >>> lm = KneserNey(order=2, vocab_size=3).fit([[0, 1, 2, 0, 1], [1, 2]])
        >>> p = lm.distribution([1])     # next-id probabilities after id 1
        >>> int(p.argmax()), round(float(p.sum()), 9)
        (2, 1.0)
    """

    def __init__(self, order=3, vocab_size=None, modified=True, discount=None):
        if not _is_int(order) or order < 1:
            raise ValueError(f"order must be an integer >= 1, received: order={order!r}")
        if vocab_size is not None and (not _is_int(vocab_size) or vocab_size < 1):
            raise ValueError(
                f"vocab_size must be an integer >= 1 or None, received: vocab_size={vocab_size!r}")
        if not isinstance(modified, (bool, np.bool_)):
            raise ValueError(f"modified must be True or False, received: modified={modified!r}")
        self.order = int(order)
        self.vocab_size = None if vocab_size is None else int(vocab_size)
        self._infer_vocab_size = vocab_size is None     # then each fit infers it again
        self.modified = bool(modified)
        self.discount = discount
        self._fixed_discounts = self._check_discount(discount, self.modified)
        if self.vocab_size is not None:
            self._check_key_range(self.order, self.vocab_size)
        self._tables = None

    # ----------------------------------------------------------------------------- arguments

    @staticmethod
    def _check_discount(discount, modified):
        """The fixed (D1, D2, D3+) from `discount`, or None to estimate them."""
        if discount is None:
            return None
        if _is_number(discount):
            if not 0 < discount <= 1:
                raise ValueError(
                    f"discount must be a number in (0, 1], received: discount={discount!r}")
            return (float(discount),) * 3
        try:
            values = tuple(discount)
        except TypeError:
            values = None
        if values is None or len(values) != 3 or not all(_is_number(v) for v in values):
            raise ValueError(
                "discount must be None, a number in (0, 1], or (with modified=True) a sequence "
                f"of three numbers (D1, D2, D3), received: discount={discount!r}")
        if not modified:
            raise ValueError(
                "discount with three values (D1, D2, D3) needs modified=True; with "
                f"modified=False give one number, received: discount={discount!r}")
        for k, value in enumerate(values, start=1):
            if not 0 < value <= k:
                raise ValueError(
                    f"discount D{k} must be in (0, {k}], received: discount={discount!r}")
        return tuple(float(v) for v in values)

    @staticmethod
    def _check_key_range(order, vocab_size):
        # Keys are base-(V + 1) numbers of `order` digits (the extra digit value is BOS).
        if (vocab_size + 1) ** order > _INT64_MAX:
            raise ValueError(
                "(vocab_size + 1) ** order must be below 2**63 so that n-grams fit in int64 keys "
                f"(the + 1 is the reserved beginning-of-document id), received: order={order}, "
                f"vocab_size={vocab_size}; use a lower order or a smaller vocabulary")

    def _documents(self, sequences, name):
        """`sequences` as a list of 1-D int64 arrays: one array (a stream), or a list of them."""
        if not isinstance(sequences, (list, tuple, np.ndarray)) and hasattr(sequences, "__array__"):
            sequences = np.asarray(sequences)          # a tensor: one stream, or rows
        if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
            docs = list(sequences)
        elif isinstance(sequences, np.ndarray) or (
                isinstance(sequences, (list, tuple)) and len(sequences) > 0
                and all(_is_int(s) for s in sequences)):
            docs = [sequences]                     # one stream of ids
        elif hasattr(sequences, "__iter__") and not isinstance(sequences, (str, bytes)):
            docs = list(sequences)
        else:
            raise ValueError(
                f"{name} must be a 1-D array of token ids or a list of them, received: "
                f"{name}={sequences!r:.80}")
        out = []
        for i, doc in enumerate(docs):
            array = np.asarray(doc)
            if array.ndim != 1 or (array.size and (
                    not np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_)):
                raise ValueError(
                    f"{name} must be 1-D arrays of integer token ids; document {i} has shape "
                    f"{array.shape} and dtype {array.dtype}")
            out.append(array.astype(np.int64, copy=False))
        return out

    def _check_ids(self, docs, name):
        """All ids of `docs`, concatenated, once checked to be in 0..vocab_size-1."""
        # One pass over all ids (not one per document: corpora of sentences have ~1e5 of them).
        ids = np.concatenate(docs) if docs else np.zeros(0, np.int64)
        bad = np.flatnonzero((ids < 0) | (ids >= self.vocab_size))
        if bad.size:
            doc = int(np.searchsorted(np.cumsum([d.size for d in docs]), bad[0], side="right"))
            raise ValueError(
                f"{name}: token ids must be in 0..{self.vocab_size - 1} (vocab_size="
                f"{self.vocab_size}); document {doc} has id {int(ids[bad[0]])}")
        return ids

    def _check_fitted(self):
        if self._tables is None:
            raise RuntimeError("this KneserNey model is not fitted yet: call fit(sequences) first")

    # ----------------------------------------------------------------------------- keys

    def _padded_keys(self, docs, real):
        """The key of the `order`-gram ending at every token of `docs` (`real`: their ids
        concatenated), in document order.

        Each document gets order - 1 BOS ids on its left, so a window of `order` symbols
        ending at any of its tokens stays inside the document and its own padding.
        """
        pad = self.order - 1
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        bos = self.vocab_size
        padded = np.full(int(lengths.sum()) + pad * len(docs), bos, dtype=np.int64)
        # Position of each real token in the padded stream: shifted by the padding of its own
        # document and of all documents before it.
        doc_index = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        positions = np.arange(real.size, dtype=np.int64) + (doc_index + 1) * pad
        del doc_index
        padded[positions] = real
        base = bos + 1
        key = padded[positions - pad]
        for offset in range(pad - 1, -1, -1):         # Horner: ((s1 * B) + s2) * B + ...
            key *= base
            key += padded[positions - offset]
        return key

    # ----------------------------------------------------------------------------- fitting

    def fit(self, sequences):
        """Count the n-grams of `sequences` and estimate the discounts; replaces any earlier fit.

        Args:
            sequences: A list of 1-D integer arrays (documents), or one 1-D array (one
                stream, a single document). Each document is padded on the left with
                order - 1 beginning-of-document ids, so its first tokens are predicted from
                "start of document".

        Returns:
            self.
        """
        docs = self._documents(sequences, "sequences")
        num_tokens = sum(d.size for d in docs)
        if num_tokens == 0:
            raise ValueError("sequences must hold at least one token id, received none")
        if self._infer_vocab_size:
            largest = int(max(d.max() for d in docs if d.size))
            self._check_key_range(self.order, largest + 1)
            self.vocab_size = largest + 1
        real = self._check_ids(docs, "sequences")
        base = self.vocab_size + 1
        bos = self.vocab_size

        keys, adjusted = np.unique(self._padded_keys(docs, real), return_counts=True)
        del real
        adjusted = adjusted.astype(np.int64)
        per_order = [None] * self.order
        per_order[self.order - 1] = (keys, adjusted)
        for n in range(self.order - 1, 0, -1):
            # Order n from order n + 1: the n-gram types are the suffixes of the (n+1)-gram
            # types, and the continuation count of one is how many types it is a suffix of.
            high = base ** n
            suffix = keys % high
            from_bos = suffix // (high // base) == bos
            # An n-gram starting with BOS can only be preceded by BOS: its one extension's
            # adjusted count is its raw count, which it keeps. BOS is the largest digit, so
            # these keys sort after all others, and they are already in order (their
            # extensions all start with BOS too, and `keys` is sorted).
            plain, continuation = np.unique(suffix[~from_bos], return_counts=True)
            keys = np.concatenate([plain, suffix[from_bos]])
            adjusted = np.concatenate([continuation.astype(np.int64), adjusted[from_bos]])
            per_order[n - 1] = (keys, adjusted)
            del suffix, from_bos, plain, continuation

        self._tables = []
        self.discounts_ = []
        for n, (keys, adjusted) in enumerate(per_order, start=1):
            discounts = self._fixed_discounts or self._estimate_discounts(adjusted)
            self.discounts_.append(discounts)
            self._tables.append(self._order_table(keys, adjusted, discounts, base))
        self.num_tokens_ = int(num_tokens)
        return self

    def _estimate_discounts(self, adjusted):
        """(D1, D2, D3+) from the count-of-counts n1..n4 of one order (Chen & Goodman eq. 26)."""
        n1, n2, n3, n4 = (int(np.count_nonzero(adjusted == k)) for k in (1, 2, 3, 4))
        if n1 == 0:
            # No n-gram seen once (e.g. the unigrams of a large corpus, each seen after many
            # ids): Y = 0 and the formulas say nothing, so use middling fixed discounts.
            return _FALLBACK_DISCOUNTS if self.modified else (_FALLBACK_DISCOUNTS[0],) * 3
        y = n1 / (n1 + 2 * n2)
        d1 = min(max(y, _MIN_DISCOUNT), 1.0)
        if not self.modified:
            return (d1,) * 3
        # An undefined estimate (n_k = 0) falls back to the discount below it: with no n-gram
        # seen exactly k times there is no evidence for D_k either way.
        d2 = 2 - 3 * y * n3 / n2 if n2 else d1
        d3 = 3 - 4 * y * n4 / n3 if n3 else d2
        d2 = min(max(d2, _MIN_DISCOUNT), 2.0)
        d3 = min(max(d3, _MIN_DISCOUNT), 3.0)
        return (d1, d2, d3)

    @staticmethod
    def _order_table(keys, adjusted, discounts, base):
        """Sorted n-gram keys with their discounted probabilities, and their contexts' gammas."""
        by_count = np.array((0.0,) + tuple(discounts))
        discount = by_count[np.minimum(adjusted, 3)]
        # Contexts: the key without its last id. `keys` is sorted, so contexts come in runs.
        contexts = keys // base
        starts = np.flatnonzero(np.r_[True, contexts[1:] != contexts[:-1]])
        context_keys = contexts[starts]
        totals = np.add.reduceat(adjusted, starts).astype(np.float64)
        gammas = np.add.reduceat(discount, starts) / totals
        # The first term of P_n(w | u), stored per n-gram so scoring is one look-up per order.
        runs = np.diff(np.r_[starts, keys.size])
        discounted = np.maximum(adjusted - discount, 0.0) / np.repeat(totals, runs)
        return keys, discounted, context_keys, gammas

    # ----------------------------------------------------------------------------- scoring

    def _probabilities(self, keys):
        """P(w | context) for `order`-gram keys (context digits may be BOS), bottom-up."""
        base = self.vocab_size + 1
        probs = np.full(keys.shape, 1.0 / self.vocab_size)
        for n, (gram_keys, discounted, context_keys, gammas) in enumerate(self._tables, 1):
            grams = keys % base ** n              # the last n ids: this order's n-gram
            contexts = grams // base
            at = np.searchsorted(context_keys, contexts)
            at_ok = np.minimum(at, context_keys.size - 1)
            seen = context_keys[at_ok] == contexts
            # An unseen context backs off fully: P_n = P_{n-1} (gamma 1, no own term).
            gamma = np.where(seen, gammas[at_ok], 1.0)
            where = np.searchsorted(gram_keys, grams)
            where_ok = np.minimum(where, gram_keys.size - 1)
            own = np.where(gram_keys[where_ok] == grams, discounted[where_ok], 0.0)
            probs = own + gamma * probs
        return probs

    def log_probs(self, sequences):
        """The natural-log probability of every token given its order - 1 predecessors.

        Args:
            sequences: As for `fit`: a list of 1-D integer arrays, or one 1-D array. The
                first tokens of each document are scored after beginning-of-document.

        Returns:
            A float64 array with one log-probability per token, documents concatenated in
            order.
        """
        self._check_fitted()
        docs = self._documents(sequences, "sequences")
        real = self._check_ids(docs, "sequences")
        return np.log(self._probabilities(self._padded_keys(docs, real)))

    def perplexity(self, sequences):
        """exp(-mean log-probability) of the tokens of `sequences` (as for `log_probs`)."""
        log_probs = self.log_probs(sequences)
        if log_probs.size == 0:
            raise ValueError("sequences must hold at least one token id to score, received none")
        return float(np.exp(-log_probs.mean()))

    def distribution(self, context):
        """The next-id probabilities after `context`, a float64 vector of vocab_size entries.

        Args:
            context: A sequence of token ids; the last order - 1 are used. A shorter one
                (the empty one included) is the start of a document, padded with
                beginning-of-document as `log_probs` does, so
                ``log_probs([doc])[i] == log(distribution(doc[:i])[doc[i]])``.
        """
        self._check_fitted()
        array = np.asarray(context if len(context) else [], dtype=object)
        if array.ndim != 1 or not all(_is_int(c) for c in array):
            raise ValueError(
                f"context must be a 1-D sequence of integer token ids, received: "
                f"context={context!r:.80}")
        ids = array.astype(np.int64)
        self._check_ids([ids], "context")
        pad = self.order - 1
        last = ids[max(len(ids) - pad, 0):] if pad else ids[:0]
        symbols = [self.vocab_size] * (pad - len(last)) + [int(i) for i in last]
        prefix = 0
        for symbol in symbols:
            prefix = prefix * (self.vocab_size + 1) + symbol
        words = np.arange(self.vocab_size, dtype=np.int64)
        return self._probabilities(prefix * (self.vocab_size + 1) + words)
