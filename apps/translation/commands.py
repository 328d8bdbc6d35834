"""`rnn-suite translation train|evaluate|predict|export`: the flags, and what each command does.

`train` itself is in `train.py`, the test report in `evaluation.py`, the input
pipeline in `data.py`.
TensorFlow is imported inside the commands, not at the top, so that `--help`
and flag errors answer at once.

Decisions on awkward input (also in docs/translation.md):
- an empty sentence (or one with only spaces) translates to an empty line,
  with a warning, without running the model;
- a sentence longer than any training source is translated in full (the
  encoder reads any length) with a warning that quality may suffer; the output
  stops at `--max-output-length` tokens (default: twice the source plus 10);
- characters or words never seen in training become `[UNK]`, never an error;
- a malformed line of a pairs file stops training with its line number,
  unless `--skip-bad-lines` (then the count of skipped lines is printed).
"""

import argparse
import sys
from pathlib import Path

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import trained_run
from apps.common.errors import UsageError
from apps.translation import NAME, evaluation, serving
from apps.translation.config import TranslationConfig
from apps.translation.evaluation import TRANSLATIONS_FILE, evaluate_model
from apps.translation.train import train
SUMMARY = "translation: bidirectional encoder, Bahdanau-attention decoder, greedy and beam search"
EVALUATION_FILE = app_commands.EVALUATION_FILE


def add_commands(parser):
    """Add `train`, `evaluate` and `predict` under the app's parser."""
    commands = app_commands.add_train(
        parser, NAME, TranslationConfig, train,
        "Train an encoder-decoder with Bahdanau attention on sentence pairs (Anki/Tatoeba, "
        "Multi30k, TED or your own --pairs file). Writes config.json, model.keras (best by "
        "validation loss, vocabularies inside), history.csv, metrics.json (BLEU and chrF, "
        "greedy and beam, on the test split), test_translations.tsv, TensorBoard logs, "
        "learning curves and attention maps to the run folder.")
    evaluate = app_commands.add_evaluate(
        commands, NAME, evaluate_command,
        help="BLEU and chrF (sacrebleu), greedy and beam, of a trained run",
        description="Translate the test split of the run's dataset, or your own test set "
                    "(--source-file with one or more line-aligned --reference-file), with "
                    "greedy and beam search; print BLEU and chrF (sacrebleu, detokenised, "
                    "with signatures; several reference files give multi-reference scores) "
                    "and the speed of both, write test_translations.tsv, evaluation.json and "
                    "attention maps.",
        data_help="folder with the dataset (default: $RNN_SUITE_DATA)",
        items="test sentences", batch_size=64)
    _add_decoding_flags(evaluate)
    evaluate.add_argument("--source-file", default=None, metavar="FILE",
                          help="evaluate on your own test set instead of the run's test split: "
                               "sentences in the source language, UTF-8, one a line (lines "
                               "end at \\n only); needs --reference-file")
    evaluate.add_argument("--reference-file", action="append", default=None, metavar="FILE",
                          help="the reference translations of --source-file, line n for line "
                               "n (the same number of lines); give it again for several "
                               "references per sentence (multi-reference BLEU and chrF)")

    predict = app_commands.add_predict(
        commands, NAME, predict_command, help="translate sentences with a trained run",
        description="Translate sentences given on the command line or in a file (UTF-8, "
                    "one a line, lines end at \\n only); prints exactly one translation line "
                    "per sentence, in order, so the output lines up with the file's lines. An "
                    "empty line (or one with only spaces) prints an empty line, with a "
                    "warning; unknown words become [UNK].")
    predict.add_argument("sentences", nargs="*", metavar="SENTENCE",
                         help="sentences to translate (raw text)")
    predict.add_argument("--file", default=None,
                         help="a UTF-8 text file of sentences, one a line; one output line per "
                              "input line (an empty line gives an empty line)")
    _add_decoding_flags(predict)
    predict.add_argument("--show-attention", default=None, metavar="OUT.png",
                         help="draw the attention map of each sentence into this PNG")
    predict.add_argument("--batch-size", type=config_module.positive_int, default=64,
                         help="sentences per decoding batch (default: 64)")
    app_commands.add_demo(commands, NAME, TranslationConfig, beam_size=True)
    export = app_commands.add_export(commands, NAME, export_command, serving.SIGNATURE)
    # No --unk-replace: the export's graph writes [UNK] as the model does (serving.py).
    _add_decoding_flags(export, unk_replace=False)


def _add_decoding_flags(parser, unk_replace=True):
    parser.add_argument("--beam-size", type=config_module.positive_int, default=None,
                        help="beam width (default: the run's --beam-size; 1 is greedy)")
    parser.add_argument("--max-output-length", type=config_module.non_negative_int,
                        default=None,
                        help="at most this many output tokens (default: the run's; 0: twice "
                             "the source length plus 10)")
    parser.add_argument("--length-alpha", type=float, default=None,
                        help="length normalisation exponent of beam search (default: the run's)")
    if not unk_replace:
        return
    parser.add_argument("--unk-replace", action=argparse.BooleanOptionalAction, default=None,
                        help="word-level runs: replace each [UNK] by the source word attended "
                             "to most at that step (default: the run's, on); subword runs "
                             "write no [UNK]")


# --- train -----------------------------------------------------------------------


# --- evaluate ----------------------------------------------------------------------


def _decoding_settings(args, config):
    return evaluation.decoding_settings(config, args.beam_size, args.max_output_length,
                                        args.length_alpha)


def _unk_replace(args, config):
    return evaluation.unk_replace_setting(config, args.unk_replace)


def _check_decoding_flags(args):
    """Check what argparse cannot in the decoding flags, before reading any file or model."""
    if args.length_alpha is not None and not args.length_alpha >= 0:  # NaN too
        raise UsageError(f"--length-alpha must be >= 0, got {args.length_alpha}")


def read_test_files(args):
    """Your own test set: `--source-file` and its `--reference-file`s, or None when not given.

    Returns:
        None, or `(sources, references, description)`: `references` holds one
        string per sentence (one reference file) or one list per sentence
        (several); `--limit` applied.

    Raises:
        UsageError: One flag without the other, `--data-dir` beside them, a
            missing, non-UTF-8 or empty file, or files of different lengths.
    """
    from apps.common import text as common_text

    source_file, reference_files = args.source_file, args.reference_file or []
    if source_file is None and not reference_files:
        return None
    if source_file is None:
        raise UsageError("--reference-file needs --source-file FILE: the sentences to "
                         "translate, one a line, line-aligned with the references")
    if not reference_files:
        raise UsageError(f"--source-file {source_file} needs --reference-file FILE: its "
                         "reference translations, one a line (repeat the flag for several)")
    if args.data_dir:
        raise UsageError("--data-dir and --source-file name two different test sets; drop one")
    sources = common_text.read_lines(source_file, what="--source-file")
    if not any(line.strip() for line in sources):
        raise UsageError(f"--source-file {source_file} is empty (expected one sentence per "
                         "line)")
    references = []
    for name in reference_files:
        lines = common_text.read_lines(name, what="--reference-file")
        if not any(line.strip() for line in lines):
            raise UsageError(f"--reference-file {name} is empty (expected one reference "
                             "translation per line)")
        if len(lines) != len(sources):
            raise UsageError(f"--source-file {source_file} has {_lines(len(sources))} but "
                             f"--reference-file {name} has {_lines(len(lines))}; they must be "
                             "line-aligned (line n of each is the same sentence)")
        references.append(lines)
    count = min(args.limit, len(sources)) if args.limit else len(sources)
    per_sentence = (references[0][:count] if len(references) == 1
                    else [list(refs) for refs in zip(*references)][:count])
    description = (f"{count:,} sentences of --source-file {source_file}"
                   + (f" (--limit {args.limit} of {len(sources):,})" if count < len(sources)
                      else "")
                   + f", {len(references)} reference{'s' if len(references) > 1 else ''} "
                   f"each ({', '.join(reference_files)})")
    return sources[:count], per_sentence, description


def _lines(count):
    return f"{count:,} line{'' if count == 1 else 's'}"


def evaluate_command(args):
    """`evaluate --run DIR`: BLEU/chrF, greedy and beam, on the run's test split or your files."""
    import dataclasses

    _check_decoding_flags(args)
    trained = trained_run.open_run(NAME, args.run, TranslationConfig, needs_config=True)
    config = trained.config
    own = read_test_files(args)
    if own is None:
        from apps.translation import data

        config = dataclasses.replace(config, data_dir=args.data_dir or config.data_dir, limit=0)
        corpus = data.load(config, config.data_dir).limited(args.limit)
        test, dataset, description = corpus.test, corpus.name, corpus.description
        label, test_data = f"{corpus.name} test", app_commands.split_test_data(description)
    else:
        sources, references, description = own
        test, dataset, label = (sources, references), "files", Path(args.source_file).name
        test_data = app_commands.file_test_data(description, {
            "source_file": args.source_file, "reference_file": args.reference_file})
    print(f"data: {description}", flush=True)
    path, model = trained.path, trained.model
    beam, length, alpha = _decoding_settings(args, config)
    out = app_commands.evaluation_folder(args, path)
    report = evaluate_model(model, test, out, beam, length, alpha,
                            batch_size=args.batch_size, label=label,
                            unk_replace=_unk_replace(args, config))
    return app_commands.write_evaluation(
        out, report, path, dataset, test_data,
        f"{NAME}: test BLEU {report['bleu_beam']:.2f} (beam {beam}), "
        f"{report['bleu_greedy']:.2f} (greedy) on {report['test_sentences']:,} {label} "
        "sentences", [TRANSLATIONS_FILE, "attention maps"])


# --- predict -----------------------------------------------------------------------

def predict_command(args):
    """`predict --run DIR "Me gusta el café."`: one translation a line.

    Exactly one output line per sentence (per line of `--file`, cut at "\\n"
    only), in order; an empty or blank sentence prints an empty line.
    """
    from apps.common import text as common_text

    _check_decoding_flags(args)

    sentences = list(args.sentences)
    if args.file:
        sentences += common_text.read_lines(args.file, what="sentences file")
    if not sentences:
        raise UsageError("give sentences to translate (as arguments or --file FILE, one a line)")
    if args.show_attention and not str(args.show_attention).lower().endswith(".png"):
        raise UsageError(f"--show-attention {args.show_attention}: expected a .png file name")
    trained = trained_run.open_run(NAME, args.run, TranslationConfig)
    config, model = trained.config, trained.model
    from apps.translation import model as model_module
    from apps.translation import pictures

    translator = model_module.Translator(model)
    beam, length, alpha = _decoding_settings(args, config)
    results, warnings = evaluation.translate_sentences(
        translator, sentences, beam, length, alpha, batch_size=args.batch_size,
        with_attention=bool(args.show_attention), unk_replace=_unk_replace(args, config))
    for warning in warnings:
        app_commands.warn(warning)
    for result in results:
        print(evaluation.printed(result), flush=True)  # always one line
    if args.show_attention:
        written = pictures.attention_map(results, args.show_attention)
        print(f"attention map written to {written}", file=sys.stderr, flush=True)
    return results


# --- export ------------------------------------------------------------------------

def export_command(args):
    """`export --run DIR [--output DIR]`: a SavedModel translating raw text (see serving.py).

    The search inside it uses the run's decoding settings, or the flags (as `predict`).
    """
    from apps.common import serving as common_serving

    _check_decoding_flags(args)
    trained = trained_run.open_run(NAME, args.run, TranslationConfig)
    path, config = trained.path, trained.config
    beam, length, alpha = _decoding_settings(args, config)
    return common_serving.export_run(
        NAME, str(path), args.output,
        lambda model, model_path: serving.endpoints(model, model_path, beam, length, alpha))
