"""Corpus BLEU and chrF with sacrebleu, on detokenised text, with the signatures printed.

sacrebleu tokenises both sides itself (13a by default), so hypotheses must be
plain detokenised sentences and references the raw reference text: then the
numbers compare with published ones that give the same signature.
"""


def corpus_scores(hypotheses, references, lowercase=False, bleu_orders=()):
    """BLEU and chrF of `hypotheses` against `references`.

    Args:
        hypotheses: One detokenised string per segment.
        references: Either one string per segment, or one list of reference
            strings per segment (several references each, e.g. captions);
            segments may have different numbers of references.
        lowercase: Compare case-insensitively (the signature then says `case:lc`).
        bleu_orders: Also compute BLEU-n for these maximum n-gram orders
            (e.g. (1, 2, 3, 4) for captioning's BLEU-1..4).

    Returns:
        A dict: `bleu`, `chrf` (0-100), `bleu_signature`, `chrf_signature`,
        `bleu_details` (the sacrebleu line), `segments`, and `bleu_<n>` for
        each order asked for.
    """
    from sacrebleu.metrics import BLEU, CHRF

    hypotheses = [str(h) for h in hypotheses]
    streams = _reference_streams(references, len(hypotheses))
    bleu = BLEU(lowercase=lowercase)
    bleu_score = bleu.corpus_score(hypotheses, streams)
    chrf = CHRF(lowercase=lowercase)
    chrf_score = chrf.corpus_score(hypotheses, streams)
    result = {
        "bleu": float(bleu_score.score),
        "chrf": float(chrf_score.score),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_details": str(bleu_score),
        "segments": len(hypotheses),
    }
    for order in bleu_orders:
        scorer = BLEU(lowercase=lowercase, max_ngram_order=int(order))
        result[f"bleu_{order}"] = float(scorer.corpus_score(hypotheses, streams).score)
    return result


def _reference_streams(references, count):
    """sacrebleu wants reference *streams* (one list per reference index), padded with None."""
    references = list(references)
    if len(references) != count:
        raise ValueError(f"{count} hypotheses but {len(references)} references")
    if all(isinstance(r, str) for r in references):
        return [references]
    most = max((len(r) for r in references), default=1)
    return [[(r[i] if i < len(r) else None) for r in references] for i in range(most)]
