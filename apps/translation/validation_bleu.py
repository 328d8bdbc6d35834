"""Validation BLEU after every epoch: the objective a tuning search can pick for translation.

Validation loss rewards confident next-word guesses under teacher forcing;
BLEU scores what the model actually writes when it has to feed itself. The
callback decodes greedily (one `tf.while_loop` per batch, the same search as
`predict`) on a fixed slice of the validation pairs, so every epoch and every
trial is scored on the same sentences.
"""

import keras

LOG_NAME = "val_bleu"
DEFAULT_SENTENCES = 500


class ValidationBleu(keras.callbacks.Callback):
    """Adds `val_bleu` (sacrebleu corpus BLEU, greedy decoding) to each epoch's logs.

    Put it before the callbacks that read the logs (the history file, the
    best-model checkpoint, early stopping): `training.fit` runs
    its `metric_callbacks` first.

    Args:
        validation_pairs: (sources, references), raw text.
        sentences: Score the first this many pairs (0: all).
        batch_size: Sentences per decoding batch.
    """

    def __init__(self, validation_pairs, sentences=DEFAULT_SENTENCES, batch_size=64):
        super().__init__()
        sources, references = validation_pairs
        count = len(sources) if not sentences else min(sentences, len(sources))
        self.sources = list(sources[:count])
        self.references = list(references[:count])
        self.batch_size = batch_size
        self._translator = None

    def on_train_begin(self, logs=None):
        from apps.translation import model as model_module

        # The translator shares the model's layers (it sees the weights as they
        # train) and keeps its compiled search, so it is made once.
        self._translator = model_module.Translator(self.model)

    def on_epoch_end(self, epoch, logs=None):
        from apps.common import bleu

        results = self._translator.translate(self.sources, beam_size=1,
                                             batch_size=self.batch_size)
        score = bleu.corpus_scores([r["translation"] for r in results], self.references)["bleu"]
        if logs is not None:
            logs[LOG_NAME] = score

    def on_train_end(self, logs=None):
        self._translator = None
