"""`rnn-suite translation train|evaluate|predict`: the flags, and what each command does.

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
import time
from pathlib import Path

from apps.common import app_commands
from apps.common import config as config_module
from apps.common import run_dir as run_dir_module
from apps.common.errors import UsageError
from apps.translation import serving
from apps.translation.config import TranslationConfig

NAME = "translation"
SUMMARY = "translation: bidirectional encoder, Bahdanau-attention decoder, greedy and beam search"
EVALUATION_FILE = app_commands.EVALUATION_FILE
TRANSLATIONS_FILE = "test_translations.tsv"
ATTENTION_MAPS = 4
WARM_UP_SENTENCES = 8


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


def warn(message):
    print(f"warning: {message}", file=sys.stderr, flush=True)


# --- train -----------------------------------------------------------------------


def load_data(config):
    """The corpus a config names (dataset, pairs, languages, limit); bad input fails here.

    Returns:
        A `data.Corpus` (train, validation and test pairs, raw text).
    """
    from apps.translation import data

    if config.jit:
        raise UsageError("--jit is not available for translation: the model reads raw "
                         "strings, which XLA cannot compile")
    return data.load(config, config.data_dir)


def prepare_pairs(config, corpus):
    """Tokenise the training pairs, leave out long ones, build vocabularies (training split only).

    Returns:
        (train_pairs (sources, targets, lengths), source_vocabulary,
        target_vocabulary, longest_source).
    """
    from apps.translation import text

    sources, targets = corpus.train
    source_words, target_words = text.words(sources), text.words(targets)
    kept = [i for i, (s, t) in enumerate(zip(source_words, target_words))
            if s and t and len(s) <= config.max_length and len(t) <= config.max_length]
    if not kept:
        raise UsageError(f"no training pair has at most --max-length {config.max_length} "
                         "tokens on both sides")
    if len(kept) < len(sources):
        print(f"left out {len(sources) - len(kept):,} training pairs longer than "
              f"--max-length {config.max_length} tokens (or empty)", flush=True)
    # Pairs are kept or left out by their words in both modes, so word and subword
    # runs train on the same pairs; batches are bucketed by words too.
    lengths = [max(len(source_words[i]), len(target_words[i])) for i in kept]
    train_pairs = ([sources[i] for i in kept], [targets[i] for i in kept], lengths)
    if config.tokenizer == "subword":
        source_vocabulary, target_vocabulary = learn_subword_vocabularies(
            config, train_pairs[0], train_pairs[1])
        from apps.common import subwords

        source_tokens = subwords.SubwordVectorizer(source_vocabulary).pieces(train_pairs[0])
        return train_pairs, source_vocabulary, target_vocabulary, max(map(len, source_tokens))
    source_vocabulary = text.build_vocabulary([source_words[i] for i in kept], config.min_count,
                                              config.max_vocab)
    target_vocabulary = text.build_vocabulary([target_words[i] for i in kept], config.min_count,
                                              config.max_vocab)
    longest = max(len(source_words[i]) for i in kept)
    return train_pairs, source_vocabulary, target_vocabulary, longest


def learn_subword_vocabularies(config, sources, targets):
    """(source, target) SentencePiece models learned from the training sentences.

    One model learned from both sides when `--joint-vocabulary`, else one per language.
    """
    from apps.common import subwords

    try:
        if config.joint_vocabulary:
            joint = subwords.learn_subwords(list(sources) + list(targets), config.vocab_size)
            return joint, joint
        return (subwords.learn_subwords(sources, config.vocab_size),
                subwords.learn_subwords(targets, config.vocab_size))
    except ValueError as error:  # e.g. fewer pieces asked for than the text has characters
        raise UsageError(f"--vocab-size {config.vocab_size}: {error}") from None


def describe_vocabularies(model, config):
    """How big each vocabulary is and what it holds, for the start-of-training line."""
    from apps.translation import text

    sizes = [model.get_layer(name).vocabulary_size()
             for name in ("source_vectorizer", "target_vectorizer")]
    if text.is_subword(model.get_layer("source_vectorizer")):
        kind = "one joint " if config.joint_vocabulary else ""
        return sizes, (f"{kind}subword pieces (SentencePiece unigram, --vocab-size "
                       f"{config.vocab_size})")
    return sizes, f"words (seen at least {config.min_count} times in training)"


def pipeline(model, sources, targets, batch_size, shuffle=False, seed=0, lengths=None):
    """A tf.data pipeline of ({"source", "target"} strings, labels [B, T+1]), bucketed by length.

    Pairs of similar length are batched together (less padding); the labels
    come from the model's own target vectoriser.
    """
    import numpy as np
    import tensorflow as tf

    from apps.translation import model as model_module
    from apps.translation import text

    if lengths is None:
        lengths = [max(len(a), len(b)) for a, b in zip(text.words(sources), text.words(targets))]
    vectorizer = model.get_layer("target_vectorizer")
    dataset = tf.data.Dataset.from_tensor_slices(
        (list(sources), list(targets), tf.constant(lengths, tf.int32)))
    if shuffle:
        dataset = dataset.shuffle(len(sources), seed=seed, reshuffle_each_iteration=True)
    boundaries = [b for b in (6, 9, 12, 15, 20, 30, 45) if b < max(lengths, default=0)]
    bucket_starts = [b + 1 for b in boundaries]
    dataset = dataset.bucket_by_sequence_length(
        lambda s, t, n: n, bucket_boundaries=bucket_starts,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1))
    # Each bucket gives ceil(its pairs / batch_size) batches whatever the order, so
    # the epoch's length is known (the cosine learning-rate schedule needs it).
    per_bucket = np.bincount(np.searchsorted(bucket_starts, lengths, side="right"),
                             minlength=len(bucket_starts) + 1)
    batches = int(sum(-(-count // batch_size) for count in per_bucket))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))

    def with_labels(source, target, _):
        labels = model_module.teacher_forcing_ids(vectorizer(target))[1]
        return {"source": source, "target": target}, labels

    return dataset.map(with_labels, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def build_training(config, corpus):
    """The model a config describes, compiled, with its training and validation pipelines.

    The one place the model is built and compiled for training: `train` uses
    it, and so does `rnn-suite tune`. The vocabularies come from the training
    split; the test split is not touched.

    Args:
        config: A `TranslationConfig`.
        corpus: The `data.Corpus` from `load_data`.

    Returns:
        A `training.TrainingSetup` (best epoch by validation loss, or by greedy
        validation BLEU with `--best-by bleu`).
    """
    from apps.common import training
    from apps.translation import model as model_module

    (sources, targets, lengths), source_vocabulary, target_vocabulary, longest = (
        prepare_pairs(config, corpus))
    model = model_module.build_model(config, source_vocabulary, target_vocabulary, longest)
    (source_size, target_size), kind = describe_vocabularies(model, config)
    sizes = {"train_pairs": len(sources), "source_vocabulary": source_size,
             "target_vocabulary": target_size}
    print(f"using {len(sources):,} train / {len(corpus.validation[0]):,} validation / "
          f"{len(corpus.test[0]):,} test pairs; vocabularies {source_size:,} "
          f"{corpus.source_lang} / {target_size:,} {corpus.target_lang} {kind}", flush=True)
    train_data = pipeline(model, sources, targets, config.batch_size, shuffle=True,
                          seed=config.seed, lengths=lengths)
    validation_data = pipeline(model, *corpus.validation, config.batch_size)
    training.compile_model(model, config, loss=model_module.loss(config.label_smoothing),
                           metrics=[model_module.MaskedAccuracy()], train_data=train_data)
    monitor, mode, metric_callbacks = "val_loss", "min", ()
    if config.best_by == "bleu":
        from apps.translation.validation_bleu import LOG_NAME, ValidationBleu

        monitor, mode, metric_callbacks = LOG_NAME, "max", (ValidationBleu(corpus.validation),)
    return training.TrainingSetup(model, train_data, validation_data, monitor=monitor,
                                  mode=mode, sizes=sizes, metric_callbacks=metric_callbacks)


def train(config, extra_callbacks=()):
    """Train from a validated `TranslationConfig`; returns the metrics written to `metrics.json`."""
    from apps.common import training

    return training.run_training(training.TrainingStory(
        NAME, load_data, build_training, evaluate=_evaluate_run, settings=_settings,
        headline=lambda metrics: (f"test BLEU (beam {config.beam_size})", metrics["bleu_beam"]),
        curves=("loss", "masked_accuracy")), config, extra_callbacks)


def _settings(config, corpus):
    return {"source_lang": corpus.source_lang, "target_lang": corpus.target_lang,
            "cell": config.cell, "units": config.units, "layers": config.layers,
            "bidirectional": config.bidirectional, "embedding_dim": config.embedding_dim,
            "tokenizer": config.tokenizer, "label_smoothing": config.label_smoothing}


def scored_test_pairs(config, corpus):
    """The test pairs a run is scored on after training (the first --eval-limit, or all)."""
    return corpus.limited(config.eval_limit).test if config.eval_limit else corpus.test


def _evaluate_run(model, config, corpus, run):
    return evaluate_model(model, scored_test_pairs(config, corpus), run.path, config.beam_size,
                          config.max_output_length, config.length_alpha, batch_size=64,
                          label=f"{corpus.name} test",
                          unk_replace=config.unk_replace)


# --- evaluate ----------------------------------------------------------------------

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


def _run_config(model_path):
    path = model_path.parent / run_dir_module.CONFIG_FILE
    if not path.is_file():
        raise UsageError(f"{model_path.parent} has no {run_dir_module.CONFIG_FILE} (expected a "
                         f"run folder written by `rnn-suite {NAME} train`)")
    return config_module.load_config(TranslationConfig, path)


def _load_run_model(run):
    path = run_dir_module.find_model(NAME, run)
    from apps.common import model_files
    from apps.translation import model as model_module  # noqa: F401 - registers its layers

    return path, model_files.load_model(path, NAME)


def _decoding_settings(args, config):
    beam = args.beam_size if args.beam_size is not None else (config.beam_size if config else 5)
    length = (args.max_output_length if args.max_output_length is not None
              else (config.max_output_length if config else 0))
    alpha = (args.length_alpha if args.length_alpha is not None
             else (config.length_alpha if config else 1.0))
    if alpha < 0:
        raise UsageError(f"--length-alpha must be >= 0, got {alpha}")
    return beam, length, alpha


def _unk_replace(args, config):
    if args.unk_replace is not None:
        return args.unk_replace
    return config.unk_replace if config else True


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
    path = run_dir_module.find_model(NAME, args.run)
    config = _run_config(path)
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
    path, model = _load_run_model(str(path))
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
    path = run_dir_module.find_model(NAME, args.run)
    config_path = path.parent / run_dir_module.CONFIG_FILE
    config = (config_module.load_config(TranslationConfig, config_path)
              if config_path.is_file() else None)
    path, model = _load_run_model(str(path))
    from apps.translation import model as model_module
    from apps.translation import pictures, text

    translator = model_module.Translator(model)
    beam, length, alpha = _decoding_settings(args, config)
    for number, sentence in enumerate(sentences, 1):
        count = len(translator.source_tokens([text.normalize(sentence)])[0])
        if count == 0:
            warn(f"sentence {number} is empty; its translation is an empty line")
        elif translator.longest_seen and count > translator.longest_seen:
            warn(f"sentence {number} has {count} tokens, more than any training sentence "
                 f"({translator.longest_seen}); translating it in full, quality may suffer")
    results = translator.translate(sentences, beam_size=beam, max_output_length=length,
                                   length_alpha=alpha, batch_size=args.batch_size,
                                   with_attention=bool(args.show_attention),
                                   unk_replace=_unk_replace(args, config))
    for number, result in enumerate(results, 1):
        if result["source_words"] and not result["finished"]:
            warn(f"sentence {number}: the output stopped at --max-output-length before the "
                 "end token")
        print(" ".join(result["translation"].split()), flush=True)  # always one line
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
    path = run_dir_module.find_model(NAME, args.run)
    config_path = path.parent / run_dir_module.CONFIG_FILE
    config = (config_module.load_config(TranslationConfig, config_path)
              if config_path.is_file() else None)
    beam, length, alpha = _decoding_settings(args, config)
    return common_serving.export_run(
        NAME, str(path), args.output, lambda model_path: _load_run_model(str(model_path))[1],
        lambda model, model_path: serving.endpoints(model, model_path, beam, length, alpha))
