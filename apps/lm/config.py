"""The settings of `rnn-suite lm train`."""

import typing

from apps.common.config import CommonConfig, app_config, setting

TOKENIZERS = ("word", "char", "subword")
DATASETS = ("auto", "imdb-unsup", "imdb-unsup+train", "embedded")
SOFTMAXES = ("full", "sampled")


# Defaults measured on this project's 2-core CPU (docs/lm.md): one LSTM
# layer of 256 units, tied 256-wide embeddings, 70-token windows; Adam at 2e-3 with
# clipping at 0.25 as the AWD-LSTM does (its SGD used 0.25 too).
@app_config(cell="lstm", units=256, epochs=2, batch_size=64, learning_rate=2e-3,
            learning_rate_schedule="cosine", clipnorm=0.25, dropout=0.1)
class LMConfig(CommonConfig):
    """Common settings (with defaults suited to a small LM) plus the corpus and token settings."""

    text: typing.Optional[str] = setting(
        None, "train on your own UTF-8 text: a file (its blank-line separated paragraphs are "
        "the documents; lines, if it has no blank lines), a folder of .txt files or a "
        ".tar/.tar.gz/.tgz of them (one document each)")
    dataset: str = setting(
        "auto", "the corpus when --text is not given: imdb-unsup (the 50,000 unlabelled IMDB "
        "reviews under --data-dir/$RNN_SUITE_DATA), imdb-unsup+train (and the 25,000 labelled "
        "training reviews; never the test half), embedded (a small generated corpus shipped "
        "in the package), auto (imdb-unsup if a data folder holds it, else embedded)",
        choices=DATASETS)
    tokenizer: str = setting(
        "word", "word (the sentiment app's standardisation: lower-case, no punctuation, so a "
        "sentiment model can reuse the vocabulary), char (every character as written) or "
        "subword (SentencePiece unigram pieces learned from the training split, as translation "
        "does: case and punctuation kept, no [UNK]; --vocab-size of at least 261)",
        choices=TOKENIZERS)
    vocab_size: int = setting(
        10000, "tokens in the vocabulary, counting padding, [UNK] and the end-of-document "
        "token (the most frequent of the training split)", minimum=4)
    embedding_dim: int = setting(256, "size of the token embeddings", minimum=1)
    window: int = setting(
        70, "tokens per training window (truncated backpropagation through time: each "
        "window starts from a zero state)", minimum=2)
    tie_weights: bool = setting(
        True, "share the embedding matrix with the output layer (Press & Wolf 2017; a "
        "projection to --embedding-dim is added when --units differs)")
    embedding_dropout: float = setting(
        0.1, "dropout of whole token occurrences at the embedding (every channel of a "
        "token's vector at once)", minimum=0.0, below=1.0)
    recurrent_dropout: float = setting(
        0.0, "variational dropout on the recurrent state (one mask per sequence)",
        minimum=0.0, below=1.0)
    output_dropout: float = setting(
        0.3, "variational dropout on the last recurrent layer's output (one mask per "
        "sequence), before the softmax", minimum=0.0, below=1.0)
    softmax: str = setting(
        "full", "full, or sampled: training scores each position against --sampled-tokens "
        "tokens drawn by frequency (sampled softmax, Jean et al. 2015; much faster for a big "
        "vocabulary); validation, evaluation and generation always use the full softmax",
        choices=SOFTMAXES)
    sampled_tokens: int = setting(
        1024, "with --softmax sampled: tokens drawn per training batch (fewer than the "
        "vocabulary)", minimum=1)
    init_from: typing.Optional[str] = setting(
        None, "start from another language model's run (`rnn-suite lm train`) and go on "
        "training it on this corpus: its tokenizer, vocabulary, --embedding-dim, --cell, "
        "--units, --layers and --tie-weights replace those settings and its weights are "
        "the start (ULMFiT's second stage: a general LM fine-tuned on the task's own text, "
        "before `sentiment train --encoder-from` this run)")
    backwards: bool = setting(
        False, "read every document from its end to its start: a backward language model, "
        "which predicts each token from the ones after it and generates what comes before a "
        "prompt, read as the end of a document; ULMFiT's second model (`sentiment train "
        "--backward-encoder-from` puts it in a bidirectional classifier's backward half)")
    freeze_embedding: bool = setting(
        False, "with --init-from: keep its embedding (and, tied, the output layer) as it is "
        "and train the rest; a backward model trained so from a forward one shares its "
        "embedding, as a bidirectional classifier's one embedding needs")
    sample_prompt: str = setting(
        "this movie", "the prompt of the samples written to samples.txt after every epoch")
    sample_tokens: int = setting(40, "tokens per sample in samples.txt", minimum=1)
