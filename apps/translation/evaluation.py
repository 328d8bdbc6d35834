"""Scoring a trained translator on test pairs: BLEU and chrF (sacrebleu) of greedy and beam
search, the translations file and attention maps.

`train` scores the best epoch's model with `evaluate_model`, and so does
`rnn-suite translation evaluate`: one evaluation for both.
"""

import time
from pathlib import Path

from apps.common.errors import UsageError

TRANSLATIONS_FILE = "test_translations.tsv"
ATTENTION_MAPS = 4
WARM_UP_SENTENCES = 8
UNREACHED = -1e8  # beam rows below this log-probability were never live hypotheses


def _timed_translate(translator, sentences, **kwargs):
    """Translate, timing it after a warm-up call (tracing is not decoding speed)."""
    translator.translate(sentences[:WARM_UP_SENTENCES], **kwargs)
    started = time.perf_counter()
    results = translator.translate(sentences, **kwargs)
    seconds = time.perf_counter() - started
    return results, len(sentences) / seconds if seconds > 0 else float("nan")


def evaluate_model(model, test_pairs, out_dir, beam_size, max_output_length, length_alpha,
                   batch_size=64, label="test", unk_replace=True):
    """BLEU/chrF (sacrebleu) of greedy and beam search, translations file, attention maps.

    Returns:
        A dict: `bleu_greedy`, `bleu_beam`, `chrf_greedy`, `chrf_beam`,
        `bleu_beam_lowercase`, signatures, `sentences_per_second_greedy/beam`,
        `test_sentences`, the `[UNK]`s the model wrote with beam search
        (`unknown_tokens_beam`, in `unknown_outputs_beam` translations; with
        `unk_replace` they are replaced in the scored text), `pictures`.
    """
    from apps.common import bleu
    from apps.translation import model as model_module
    from apps.translation import pictures

    sources, references = list(test_pairs[0]), list(test_pairs[1])
    # One reference per sentence (a string), or several (a list each).
    reference_lists = [[r] if isinstance(r, str) else list(r) for r in references]
    if not sources:
        raise UsageError("the test split is empty; nothing to evaluate")
    translator = model_module.Translator(model)
    decoding = dict(max_output_length=max_output_length, length_alpha=length_alpha,
                    batch_size=batch_size, unk_replace=unk_replace)
    greedy, greedy_speed = _timed_translate(translator, sources, beam_size=1, **decoding)
    beam, beam_speed = _timed_translate(translator, sources, beam_size=beam_size,
                                        greedy=False, **decoding)
    greedy_text = [r["translation"] for r in greedy]
    beam_text = [r["translation"] for r in beam]
    scores_greedy = bleu.corpus_scores(greedy_text, references)
    scores_beam = bleu.corpus_scores(beam_text, references)
    scores_beam_lc = bleu.corpus_scores(beam_text, references, lowercase=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    most = max(map(len, reference_lists))
    with open(out / TRANSLATIONS_FILE, "w", encoding="utf-8") as handle:
        # More references than one go into reference_2, ... after the first four columns.
        handle.write("\t".join(["source", "reference", "greedy", "beam",
                                *(f"reference_{n}" for n in range(2, most + 1))]) + "\n")
        for source, refs, g, b in zip(sources, reference_lists, greedy_text, beam_text):
            row = [source, refs[0], g, b, *refs[1:], *[""] * (most - len(refs))]
            handle.write("\t".join(cell.replace("\t", " ") for cell in row) + "\n")
    shown = translator.translate(sources[:ATTENTION_MAPS], beam_size=beam_size,
                                 greedy=beam_size == 1, with_attention=True, **decoding)
    names = []
    for index, item in enumerate(shown, 1):
        name = f"attention_{index}.png"
        pictures.attention_map([item], out / name, title=f"{label} sentence {index} (beam "
                                                          f"{beam_size})")
        names.append(name)
    report = {
        "test_sentences": len(sources),
        "references_per_sentence": most,
        "beam_size": beam_size,
        "length_alpha": length_alpha,
        "bleu_greedy": scores_greedy["bleu"],
        "chrf_greedy": scores_greedy["chrf"],
        "bleu_beam": scores_beam["bleu"],
        "chrf_beam": scores_beam["chrf"],
        "bleu_beam_lowercase": scores_beam_lc["bleu"],
        "bleu_signature": scores_beam["bleu_signature"],
        "chrf_signature": scores_beam["chrf_signature"],
        "bleu_beam_details": scores_beam["bleu_details"],
        "tokenizer": "subword" if translator.subword else "word",
        "unk_replace": bool(unk_replace and not translator.subword),
        "unknown_tokens_beam": sum(r["unknown"] for r in beam),
        "unknown_outputs_beam": sum(1 for r in beam if r["unknown"]),
        "sentences_per_second_greedy": round(greedy_speed, 2),
        "sentences_per_second_beam": round(beam_speed, 2),
        "translations_file": TRANSLATIONS_FILE,
        "pictures": names,
    }
    print(f"BLEU greedy {report['bleu_greedy']:.2f}, beam {beam_size} "
          f"{report['bleu_beam']:.2f} (lowercased {report['bleu_beam_lowercase']:.2f}); chrF "
          f"greedy {report['chrf_greedy']:.2f}, beam {report['chrf_beam']:.2f} on "
          f"{len(sources):,} {label} sentences", flush=True)
    print(f"sacrebleu signatures: BLEU {report['bleu_signature']} | chrF "
          f"{report['chrf_signature']}", flush=True)
    if report["unknown_tokens_beam"]:
        print(f"[UNK]: the model wrote {report['unknown_tokens_beam']:,} in "
              f"{report['unknown_outputs_beam']:,} beam translations"
              + ("; replaced by the most attended source word" if report["unk_replace"]
                 else ""), flush=True)
    print(f"decoding speed: greedy {greedy_speed:.1f} sentences/s, beam {beam_size} "
          f"{beam_speed:.1f} sentences/s (batch {batch_size})", flush=True)
    return report


# --- predict's core (the `predict` command and the demo page) -------------------------


def decoding_settings(config, beam_size=None, max_output_length=None, length_alpha=None):
    """`(beam size, max output length, length alpha)`: what is given, else the run's config.

    Raises:
        UsageError: A negative (or NaN) length alpha.
    """
    beam = beam_size if beam_size is not None else (config.beam_size if config else 5)
    length = (max_output_length if max_output_length is not None
              else (config.max_output_length if config else 0))
    alpha = (length_alpha if length_alpha is not None
             else (config.length_alpha if config else 1.0))
    if not alpha >= 0:
        raise UsageError(f"--length-alpha must be >= 0, got {alpha}")
    return beam, length, alpha


def unk_replace_setting(config, unk_replace=None):
    """Whether [UNK] is replaced: as given, else the run's config (on by default)."""
    if unk_replace is not None:
        return unk_replace
    return config.unk_replace if config else True


def translate_sentences(translator, sentences, beam_size, max_output_length, length_alpha,
                        batch_size=64, with_attention=False, unk_replace=True):
    """`predict`'s translation of raw sentences: `(results, warnings)`.

    `results` are `Translator.translate`'s dicts, in order; `warnings` the
    lines `predict` warns with (empty sentence, longer than any training one,
    output cut at the length limit). `printed(result)` is the line it prints.
    """
    from apps.translation import text

    warnings = []
    for number, sentence in enumerate(sentences, 1):
        count = len(translator.source_tokens([text.normalize(sentence)])[0])
        if count == 0:
            warnings.append(f"sentence {number} is empty; its translation is an empty line")
        elif translator.longest_seen and count > translator.longest_seen:
            warnings.append(f"sentence {number} has {count} tokens, more than any training "
                            f"sentence ({translator.longest_seen}); translating it in full, "
                            "quality may suffer")
    results = translator.translate(sentences, beam_size=beam_size,
                                   max_output_length=max_output_length,
                                   length_alpha=length_alpha, batch_size=batch_size,
                                   with_attention=with_attention, unk_replace=unk_replace)
    for number, result in enumerate(results, 1):
        if result["source_words"] and not result["finished"]:
            warnings.append(f"sentence {number}: the output stopped at --max-output-length "
                            "before the end token")
    return results, warnings


def printed(result):
    """The one line `predict` prints for a translation."""
    return " ".join(result["translation"].split())


def n_best(translator, sentence, beam_size, max_output_length, length_alpha, unk_replace=True):
    """Every hypothesis beam search keeps for one sentence, best first.

    `Translator.translate` returns only the best; this runs the same compiled
    search (the one `translate` runs for these settings) and reads all its
    rows the way `translate` reads the first, so the first entry is
    `translate`'s answer. Greedy search (a beam of 1) has one hypothesis.

    Returns:
        A list of dicts: `translation` (as `predict` prints it), `log_prob`,
        `score` (log_prob / length ** alpha), `finished`.
    """
    import numpy as np

    from apps.translation import text

    sentence = text.normalize(sentence)
    source_words = translator.source_tokens([sentence])[0]
    if not source_words:
        return []
    replace = unk_replace and not translator.subword
    greedy = beam_size == 1
    # The graph `translate(..., with_attention=True)` runs (the demo page's call).
    search = translator.compiled(None if greedy else int(beam_size), length_alpha, True)
    ids = translator.source_ids([sentence])
    limit = max_output_length or 2 * int(ids.shape[1]) + 10
    found = {k: v.numpy() for k, v in search(ids, np.int32(limit)).items()}
    if greedy:
        found = {k: v[:, None] for k, v in found.items()}
    hypotheses = []
    for rank in range(found["tokens"].shape[1]):
        tokens = found["tokens"][0, rank]
        words = translator.tokens_to_words(tokens)
        if replace and words.count(text.UNK):
            words = text.replace_unknown(words, source_words, found["attention"][0, rank])
        log_prob = float(found["log_prob"][0, rank])
        if log_prob < UNREACHED:
            continue  # a row beam search never filled (fewer candidates than the beam)
        hypotheses.append({
            "translation": printed({"translation": translator._detokenize(tokens, words)}),
            "log_prob": log_prob,
            "score": float(found["scores"][0, rank]) if "scores" in found else log_prob,
            "finished": bool(found["finished"][0, rank]),
        })
    return hypotheses
