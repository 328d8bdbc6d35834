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
