"""The settings of `rnn-suite translation train`."""

import dataclasses
import typing

from apps.common.config import CommonConfig, setting

DATASETS = ("auto", "anki", "multi30k", "ted", "generated")
TOKENIZERS = ("subword", "word")


@dataclasses.dataclass
class TranslationConfig(CommonConfig):
    """Common settings (with translation's defaults) plus data, vocabulary and decoding."""

    cell: str = setting("gru", "recurrent cell of the encoder and the decoder: gru or lstm",
                        choices=("gru", "lstm"))
    units: int = setting(256, "units of each encoder direction and of the decoder", minimum=1)
    layers: int = setting(1, "stacked recurrent layers in the encoder", minimum=1)
    bidirectional: bool = setting(True, "bidirectional encoder")
    dropout: float = setting(0.2, "dropout on embeddings, encoder inputs and the output layer",
                             minimum=0.0, below=1.0)
    batch_size: int = setting(64, "sentence pairs per training step", minimum=1)
    embedding_dim: int = setting(256, "size of the word embeddings", minimum=1)
    readout: bool = setting(False, "a tanh layer of --embedding-dim units between the "
                            "decoder features and the softmax (cheaper softmax)")
    attention_units: int = setting(0, "hidden size of the attention score (0: --units)", minimum=0)
    source_lang: str = setting("spa", "language translated from (ISO code: spa/es, eng/en, "
                               "deu/de, por/pt)")
    target_lang: str = setting("eng", "language translated into")
    dataset: str = setting(
        "auto", "anki (tab-separated pairs: the mirror's translation/anki/<other>-eng/, "
        "--pairs, or the TensorFlow tutorial's spa-eng download), multi30k (de/en: the "
        "mirror's translation/multi30k/), ted (tfds ted_hrlr_translate, pt/en), generated "
        "(a synthetic reverse-and-rename task, for tests), auto (from the languages)",
        choices=DATASETS)
    pairs: typing.Optional[str] = setting(
        None, "a tab-separated pairs file (English<TAB>Other[<TAB>attribution], gzipped or "
        "not) to train on instead of the mirror's")
    skip_bad_lines: bool = setting(False, "skip malformed lines of a pairs file (with a "
                                   "count) instead of stopping at the first")
    tokenizer: str = setting(
        "subword", "how sentences become tokens: subword (a SentencePiece unigram vocabulary of "
        "--vocab-size pieces learned from the training split: any word, name or compound is "
        "spelled from pieces, never [UNK]) or word (words and punctuation; words seen fewer "
        "than --min-count times become [UNK])", choices=TOKENIZERS)
    vocab_size: int = setting(
        8000, "subword: pieces in each language's vocabulary (with --joint-vocabulary, in the "
        "one shared vocabulary), counting the 4 special tokens and 256 byte pieces",
        minimum=300)
    joint_vocabulary: bool = setting(
        False, "subword: one vocabulary learned from both languages' training sentences, "
        "shared by source and target (helps names and numbers copied across)")
    min_count: int = setting(2, "word: words seen fewer times in the training split become "
                             "[UNK]", minimum=1)
    max_vocab: int = setting(0, "word: at most this many words per language (0: no limit)",
                             minimum=0)
    unk_replace: bool = setting(
        True, "word: replace each [UNK] of a translation by the source word the decoder "
        "attended to most at that step (Luong et al., 2015); --no-unk-replace shows the raw "
        "output")
    best_by: str = setting(
        "loss", "which epoch's model is kept (and what --early-stopping watches): the lowest "
        "validation loss, or the highest greedy validation BLEU (sacrebleu, on the first 500 "
        "validation pairs, decoded after every epoch)", choices=("loss", "bleu"))
    label_smoothing: float = setting(
        0.1, "spread this share of each target word's probability mass evenly over the "
        "vocabulary in the training loss (0: plain cross-entropy; 0.1 gave +2.85 beam BLEU "
        "on Multi30k de->en)", minimum=0.0, below=1.0)
    max_length: int = setting(50, "training pairs with more words (punctuation marks "
                              "counted, whichever --tokenizer) than this on either side are "
                              "left out of training", minimum=1)
    beam_size: int = setting(5, "beam width of beam search (evaluation and predict)", minimum=1)
    max_output_length: int = setting(
        0, "at most this many output tokens (0: twice the longest source sentence of the "
        "batch plus 10)", minimum=0)
    length_alpha: float = setting(1.0, "beam search ranks by log-probability / length**alpha "
                                  "(0: no length normalisation)", minimum=0.0)
    eval_limit: int = setting(0, "translate at most this many test sentences after training "
                              "(0: all)", minimum=0)
