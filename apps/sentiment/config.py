"""The settings of `rnn-suite sentiment train`."""

import typing

from apps.common.config import CommonConfig, app_config, setting

POOLINGS = ("last", "attention", "max", "concat")
SOURCES = ("auto", "files", "tfds", "csv")
VALIDATION_SPLITS = ("random", "movie")


@app_config(cell="gru", units=64, bidirectional=True, dropout=0.2, epochs=3, batch_size=64,
            learning_rate=2e-3, learning_rate_schedule="cosine")
class SentimentConfig(CommonConfig):
    """Common settings (with defaults suited to reviews) plus the text and pooling settings."""

    vocab_size: int = setting(
        12000, "words in the vocabulary, counting padding and [UNK] (the most frequent words "
        "of the training split; rarer words, often names tied to one movie, become [UNK])",
        minimum=3)
    max_length: int = setting(
        500, "keep the first this many words of a review", minimum=1)
    embedding_dim: int = setting(128, "size of the word embeddings", minimum=1)
    pooling: str = setting(
        "attention", "how the steps become one vector: last (the final state), attention "
        "(a learned, masked weighted average of all steps; needed for --explain) or max (the "
        "largest value of each feature over the steps) or concat (ULMFiT's concat pooling: "
        "the last step's output, the maximum and the mean over the steps, side by side)",
        choices=POOLINGS)
    attention_units: int = setting(64, "size of the attention pooling's score layer", minimum=1)
    embedding_dropout: float = setting(
        0.4, "dropout of whole embedding channels over all steps (SpatialDropout1D), against "
        "the embedding overfitting", minimum=0.0, below=1.0)
    word_dropout: float = setting(
        0.0, "dropout of whole words (every channel of a word's embedding at once) during "
        "training, so the model cannot lean on any single word", minimum=0.0, below=1.0)
    final_dropout: float = setting(
        0.5, "dropout on the pooled vector, before the output layer", minimum=0.0, below=1.0)
    source: str = setting(
        "auto", "where the reviews come from: files (aclImdb under --data-dir/$RNN_SUITE_DATA: "
        "the .tar.gz or the extracted folder), tfds (tensorflow-datasets 'imdb_reviews', if "
        "already prepared: nothing is downloaded), csv (--csv), auto (--csv if given, else "
        "files if a data folder is named, else tfds)", choices=SOURCES)
    validation_split: str = setting(
        "random", "how the validation reviews are carved from IMDB's training half: random, "
        "or movie (whole movies held out, as IMDB's test half shares no movie with its "
        "training half: validation then scores what test will, which is what a search should "
        "optimise; needs the aclImdb files, whose urls files name each review's movie)",
        choices=VALIDATION_SPLITS)
    encoder_from: typing.Optional[str] = setting(
        None, "start from a word language model's run (`rnn-suite lm train --tokenizer word`): "
        "its vocabulary, embedding size, cell, units and layers replace those settings, and "
        "its embedding and recurrent weights are copied (the forward half of a bidirectional "
        "layer; --backward-encoder-from fills the backward half)")
    backward_encoder_from: typing.Optional[str] = setting(
        None, "with --encoder-from and a bidirectional classifier: a backward word language "
        "model's run (`rnn-suite lm train --init-from FORWARD_RUN --backwards "
        "--freeze-embedding`: the same vocabulary and embedding as the forward one) whose "
        "recurrent weights start the backward half")
    gradual_unfreezing: bool = setting(
        False, "with --encoder-from: the first epoch trains only the layers above the "
        "language model's (pooling, output), and each later epoch one more group from the top "
        "joins (the last recurrent layer, ..., the embedding), as ULMFiT does; off by default: "
        "it needs many epochs (in 3 on IMDB it scored 0.834, docs/sentiment.md)")
    discriminative_decay: float = setting(
        2.6, "with --encoder-from: each layer group learns this many times more slowly than "
        "the group above it (ULMFiT's discriminative learning rates; 1: one rate for all)",
        minimum=1.0)
    adversarial: float = setting(
        0.0, "adversarial training (Miyato et al. 2017): every step also learns from the batch "
        "with each review's embedded words pushed this far (L2 norm over the whole review) in "
        "the direction that raises the loss most; about twice the time per step (0: off)",
        minimum=0.0)
    virtual_adversarial: float = setting(
        0.0, "virtual adversarial training (Miyato et al. 2017): every step also takes a batch "
        "of --unlabelled reviews, finds the push of this L2 norm that changes the model's "
        "prediction most, and learns to keep the prediction (KL divergence); about four times "
        "the time per step (0: off)", minimum=0.0)
    unlabelled: typing.Optional[str] = setting(
        None, "the unlabelled reviews of --virtual-adversarial: imdb-unsup (the 50,000 of the "
        "IMDB archive under --data-dir/$RNN_SUITE_DATA, without the 270 that are also test "
        "reviews), or a UTF-8 text file (one review per line or paragraph), a folder of .txt "
        "files or a .tar.gz of them")
    csv: typing.Optional[str] = setting(
        None, "a CSV file of your own reviews (header row; see --text-col, --label-col); "
        "test and validation splits are carved from it with a fixed seed")
    text_col: str = setting("text", "the CSV column holding the review text")
    label_col: str = setting(
        "label", "the CSV column holding the label: two classes (0/1, neg/pos, "
        "negative/positive, false/true, no/yes, or any two values: sorted, the second is "
        "the positive one)")
